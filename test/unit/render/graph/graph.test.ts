import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadDescription } from '../../../../schema/load-description.js';
import type { LifecycleState, ResolvedEnvironment } from '../../../../kernel/types.js';
import { buildEnvironmentGraph } from '../../../../render/graph/environment-graph.js';
import { renderDot } from '../../../../render/graph/render-dot.js';
import { renderMermaid } from '../../../../render/graph/render-mermaid.js';
import { CLUSTER_TITLE, renderSvg } from '../../../../render/graph/render-svg.js';
import { reduceTransitiveEdges } from '../../../../render/graph/reduce-edges.js';
import { allElements, parseXml } from './xml-well-formed.js';

const ROOT = path.resolve(import.meta.dirname, '../../../..');

async function environment(dir: string, name: string): Promise<ResolvedEnvironment> {
  const r = await loadDescription({ dir: path.join(ROOT, dir) });
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
  const env = r.description.environments.get(name);
  assert.ok(env);
  return env;
}

test('dot of the lamp example: a cluster per group, boxes with host, edges from dependency to dependent', async () => {
  const graph = buildEnvironmentGraph(await environment('examples/lamp', 'production'));
  assert.equal(
    renderDot(graph),
    `digraph "production" {
  rankdir=LR;
  label="environment production";
  labelloc=t;
  node [shape=box, style="rounded,filled", fontname="Helvetica"];
  edge [fontname="Helvetica", fontsize=10];
  subgraph "cluster_database" {
    label="database";
    style="rounded,dashed";
    "database/master" [label="master\\ndb1.example.com", tooltip="database/master", fillcolor="#ffffff", color="#374151"];
    "database/replica-1" [label="replica-1\\n203.0.113.11", tooltip="database/replica-1", fillcolor="#ffffff", color="#374151"];
    "database/replica-2" [label="replica-2\\n203.0.113.12", tooltip="database/replica-2", fillcolor="#ffffff", color="#374151"];
  }
  "web-1" [label="web-1\\n203.0.113.21", tooltip="web-1", fillcolor="#ffffff", color="#374151"];
  "web-2" [label="web-2\\n203.0.113.22", tooltip="web-2", fillcolor="#ffffff", color="#374151"];
  "web-3" [label="web-3\\n203.0.113.23", tooltip="web-3", fillcolor="#ffffff", color="#374151"];
  "lb" [label="lb\\n203.0.113.5", tooltip="lb", fillcolor="#ffffff", color="#374151"];
  "database/master" -> "database/replica-1";
  "database/master" -> "database/replica-2";
  "database/master" -> "web-1";
  "database/master" -> "web-2";
  "database/master" -> "web-3";
  "web-1" -> "lb";
  "web-2" -> "lb";
  "web-3" -> "lb";
}
`,
  );
});

test('mermaid of the lamp example, coloured by state', async () => {
  const states = new Map<string, LifecycleState>([
    ['database/master', 'ready'],
    ['web-1', 'failed'],
    ['lb', 'blocked'],
  ]);
  const graph = buildEnvironmentGraph(await environment('examples/lamp', 'staging'), { states });
  assert.equal(
    renderMermaid(graph),
    `flowchart LR
  subgraph g0["database"]
    n0["master<br/>198.51.100.10"]
  end
  n1["web-1<br/>198.51.100.21"]
  n2["lb<br/>198.51.100.5"]
  n0 --> n1
  n1 --> n2
  classDef ready fill:#bbf7d0,stroke:#15803d
  classDef failed fill:#fecaca,stroke:#b91c1c
  classDef blocked fill:#fed7aa,stroke:#c2410c
  class n0 ready
  class n1 failed
  class n2 blocked
`,
  );
});

test('labels are escaped in dot and mermaid', () => {
  const env = {
    name: 'q"x',
    groups: [],
    nodes: [
      {
        path: 'a',
        name: 'a',
        host: { kind: 'static', address: 'h"<b>#1', port: 22, user: 'u', source: { file: 'f', line: 1, column: 1 } },
        tasks: [],
        dependsOn: [],
        source: { file: 'f', line: 1, column: 1 },
        specHash: 'x',
      },
    ],
  } as unknown as ResolvedEnvironment;
  const graph = buildEnvironmentGraph(env);
  assert.match(renderDot(graph), /^digraph "q\\"x" \{/);
  assert.match(renderDot(graph), /label="a\\nh\\"<b>#1"/);
  assert.match(renderMermaid(graph), /n0\["a<br\/>h#34;#60;b#62;#35;1"\]/);
  const svg = renderSvg(graph);
  parseXml(svg);
  assert.ok(svg.includes('h&quot;&lt;b&gt;#1'));
});

test('transitive ready edges are reduced, provisioned edges kept', () => {
  const edges = [
    { from: 'a', to: 'b', state: 'ready' as const },
    { from: 'b', to: 'c', state: 'ready' as const },
    { from: 'a', to: 'c', state: 'ready' as const },
    { from: 'a', to: 'd', state: 'provisioned' as const },
    { from: 'd', to: 'c', state: 'ready' as const },
    { from: 'c', to: 'e', state: 'provisioned' as const },
    { from: 'a', to: 'e', state: 'ready' as const },
  ];
  assert.deepEqual(
    reduceTransitiveEdges(edges).map((e) => `${e.from}${e.to}`),
    ['ab', 'bc', 'ad', 'dc', 'ce', 'ae'],
  );
});

test('svg of a 50-node environment: well-formed, no overlapping boxes, arrows, labels and a legend', async () => {
  const env = await environment('test/fixtures/graph/regions', 'big');
  assert.equal(env.nodes.length, 50);
  const states = new Map<string, LifecycleState>(
    env.nodes.map((n, i) => [n.path, (['ready', 'failed', 'configuring', 'drifted'] as const)[i % 4]]),
  );
  const graph = buildEnvironmentGraph(env, { states });
  assert.ok(graph.reducedEdges > 0);
  const svg = renderSvg(graph, { nodeHref: (p) => `/env/big/nodes/${encodeURIComponent(p)}` });
  const doc = parseXml(svg);
  assert.equal(doc.name, 'svg');
  const elements = allElements(doc);
  const nodeGroups = elements.filter((e) => e.name === 'g' && e.attrs.class?.startsWith('node'));
  assert.equal(nodeGroups.length, 50);
  const boxes = nodeGroups.map((g) => {
    const rect = g.children.find((c) => c.name === 'rect')!;
    const [x, y, w, h] = ['x', 'y', 'width', 'height'].map((k) => Number(rect.attrs[k]));
    return { path: g.attrs['data-path'], x, y, w, h };
  });
  const width = Number(doc.attrs.width);
  const height = Number(doc.attrs.height);
  for (const b of boxes) {
    assert.ok(b.x >= 0 && b.y >= 0 && b.x + b.w <= width && b.y + b.h <= height, `${b.path} inside the drawing`);
    const labels = nodeGroups
      .find((g) => g.attrs['data-path'] === b.path)!
      .children.filter((c) => c.name === 'text')
      .map((t) => t.text);
    // Name, host and the state in words: colour is never the only cue.
    assert.deepEqual(labels, [b.path.split('/').at(-1), 'local', states.get(b.path)]);
  }
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i];
      const b = boxes[j];
      const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
      assert.ok(!overlap, `${a.path} and ${b.path} overlap`);
    }
  }
  // Every dependency keeps a path of its own (data-from, data-to) inside the bundle drawing it; bundles draw the lines,
  // a dot where lines join, an arrowhead per box entered and, waiting for provisioning, a dashed line and a label.
  const edges = elements.filter((e) => e.name === 'path' && e.attrs.class === 'edge');
  assert.equal(edges.length, graph.edges.length);
  assert.ok(edges.every((e) => e.attrs.stroke === 'none' && /^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+)+$/.test(e.attrs.d)));
  const bundles = elements.filter((e) => e.name === 'g' && e.attrs.class === 'bundle');
  for (const b of bundles) {
    const from = b.attrs['data-from'].split(' ');
    const to = b.attrs['data-to'].split(' ');
    const own = b.children.filter((c) => c.attrs.class === 'edge');
    assert.equal(own.length, from.length * to.length, 'a bundle holds every pair of its sides');
    for (const e of own) assert.ok(from.includes(e.attrs['data-from']) && to.includes(e.attrs['data-to']));
    assert.equal(b.children.filter((c) => c.attrs.class === 'arrowhead').length, to.length);
    assert.equal(b.children.filter((c) => c.attrs.class === 'bundle-line').length, 1);
    assert.equal(b.children[0].name, 'title');
  }
  assert.equal(
    bundles.reduce((n, b) => n + b.children.filter((c) => c.attrs.class === 'edge').length, 0),
    graph.edges.length,
  );
  // 42 web nodes into lb: one bundle, one arrowhead on lb.
  const lb = bundles.filter((b) => b.attrs['data-to'].split(' ').includes('lb'));
  assert.equal(lb.length, 1);
  assert.equal(lb[0].attrs['data-from'].split(' ').length, 42);
  const provisioned = bundles.filter((b) => b.attrs['data-state'] === 'provisioned');
  assert.ok(provisioned.length > 0);
  for (const b of provisioned) {
    assert.ok(b.children.find((c) => c.attrs.class === 'bundle-line')!.attrs['stroke-dasharray'], 'dashed');
    assert.equal(b.children.filter((c) => c.attrs.class === 'edge-label' && c.text === 'provisioned').length, 1);
  }
  assert.ok(elements.some((e) => e.attrs.class === 'junction'));
  const legend = elements.find((e) => e.attrs.class === 'legend')!;
  const legendText = allElements(legend)
    .map((e) => e.text)
    .join(' ');
  for (const s of ['ready', 'failed', 'blocked', 'drifted', 'defined'])
    assert.ok(legendText.includes(s), `legend names ${s}`);
  assert.match(legendText, /redundant transitive edges omitted/);
  assert.equal(elements.filter((e) => e.name === 'a').length, 50);
  const clusters = elements.filter((e) => e.attrs.class === 'cluster');
  assert.deepEqual(
    clusters.map((c) => c.attrs['data-path']),
    ['region-eu', 'region-eu/db', 'region-us', 'region-us/db'],
  );
  for (const c of clusters) {
    // The title band at the top of a cluster box is free of node boxes, so the group's name stays readable.
    const rect = c.children.find((e) => e.name === 'rect')!;
    const band = { x: Number(rect.attrs.x), y: Number(rect.attrs.y), w: Number(rect.attrs.width), h: CLUSTER_TITLE };
    assert.equal(c.children.find((e) => e.attrs.class === 'cluster-title')?.text, c.attrs['data-path']);
    for (const b of boxes) {
      const hit = band.x < b.x + b.w && b.x < band.x + band.w && band.y < b.y + b.h && b.y < band.y + band.h;
      assert.ok(!hit, `${b.path} covers the title of ${c.attrs['data-path']}`);
    }
    const inside = boxes.filter((b) => b.path.startsWith(`${c.attrs['data-path']}/`));
    assert.ok(
      inside.length > 0 && inside.every((b) => b.x >= band.x && b.x + b.w <= band.x + band.w && b.y >= band.y + band.h),
      `${c.attrs['data-path']} holds its nodes`,
    );
  }
});

test('svg without states says the boxes are not coloured; an empty environment still draws', () => {
  const env = { name: 'empty', groups: [], nodes: [] } as unknown as ResolvedEnvironment;
  const svg = renderSvg(buildEnvironmentGraph(env));
  parseXml(svg);
  assert.match(svg, /states unknown/);
  assert.match(svg, /empty has no nodes/);
});
