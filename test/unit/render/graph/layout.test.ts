// The SVG graph's layout, checked geometrically: edges never cross a box other than their own ends, boxes never
// overlap, every edge starts on its source box and ends on its target box, clusters hold exactly their nodes; each
// bundle is exactly every pair of its two sides, its lines touch no other bundle's, labels collide with nothing
// (check-layout.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadDescription } from '../../../../schema/load-description.js';
import { buildEnvironmentGraph, type EnvironmentGraph } from '../../../../render/graph/environment-graph.js';
import { layoutGraph, renderSvg } from '../../../../render/graph/render-svg.js';
import { allElements, parseXml } from './xml-well-formed.js';
import { segmentCrossesBox } from './geometry.js';
import { checkLayout } from './check-layout.js';
import { randomGraph } from './random-graph.js';

const ROOT = path.resolve(import.meta.dirname, '../../../..');

test('segment–box intersection: through, along a border, ending on it, beside it', () => {
  const b = { x: 10, y: 10, width: 20, height: 10 };
  assert.equal(segmentCrossesBox({ x: 0, y: 15 }, { x: 40, y: 15 }, b), true);
  assert.equal(segmentCrossesBox({ x: 0, y: 0 }, { x: 40, y: 30 }, b), true);
  assert.equal(segmentCrossesBox({ x: 0, y: 10 }, { x: 40, y: 10 }, b), false);
  assert.equal(segmentCrossesBox({ x: 0, y: 15 }, { x: 10, y: 15 }, b), false);
  assert.equal(segmentCrossesBox({ x: 0, y: 25 }, { x: 40, y: 25 }, b), false);
  assert.equal(segmentCrossesBox({ x: 15, y: 0 }, { x: 15, y: 12 }, b), true);
});

test('lamp example: master → web-2 and web-3 each have their own line, through no other box', async () => {
  const r = await loadDescription({ dir: path.join(ROOT, 'examples/lamp') });
  assert.ok(r.ok);
  const graph = buildEnvironmentGraph(r.description.environments.get('production')!, {
    states: new Map([['web-1', 'ready']]),
  });
  const layout = layoutGraph(graph);
  checkLayout(graph, layout);
  assert.equal(layout.crossings, 0);
  const web1 = layout.nodes.get('web-1')!;
  for (const to of ['web-2', 'web-3']) {
    const e = layout.edges.find((x) => x.from === 'database/master' && x.to === to)!;
    assert.ok(
      e.points.every(
        (p) => !(p.x >= web1.x && p.x <= web1.x + web1.width && p.y >= web1.y && p.y <= web1.y + web1.height),
      ),
      `master → ${to} does not touch web-1`,
    );
  }
  // The SVG draws exactly these lines, with the state in words in each box.
  const svg = renderSvg(graph);
  const elements = allElements(parseXml(svg));
  assert.equal(elements.filter((e) => e.attrs.class === 'edge').length, graph.edges.length);
  assert.deepEqual(
    elements
      .filter((e) => e.attrs.class === 'node-state')
      .map((e) => e.text)
      .sort(),
    ['defined', 'defined', 'defined', 'defined', 'defined', 'defined', 'ready'],
  );
});

for (const [n, seed] of [
  [10, 1],
  [10, 2],
  [50, 3],
  [50, 4],
  [200, 5],
] as const) {
  test(`random DAG of ${n} nodes (seed ${seed}): no edge through a box, no overlap, ends on their boxes`, () => {
    const graph = randomGraph(n, seed);
    const layout = layoutGraph(graph);
    const { checks, crossings } = checkLayout(graph, layout);
    assert.equal(crossings, layout.crossings, 'crossings counted on the drawing');
    assert.ok(checks > n, 'the layout was checked');
    parseXml(renderSvg(graph));
  });
}

test('the ordering removes crossings a naive order has: two chains drawn parallel', () => {
  // a1 → b2 and a2 → b1 cross in input order; the sweeps untangle them.
  const node = (p: string) => ({ path: p, label: p, host: 'h', cluster: null });
  const graph: EnvironmentGraph = {
    environment: 'x',
    nodes: ['a1', 'a2', 'b1', 'b2', 'c1', 'c2'].map(node),
    edges: [
      { from: 'a1', to: 'b2', state: 'ready' },
      { from: 'a2', to: 'b1', state: 'ready' },
      { from: 'b1', to: 'c1', state: 'ready' },
      { from: 'b2', to: 'c2', state: 'ready' },
    ],
    clusters: [],
    reducedEdges: 0,
    coloured: false,
  };
  const layout = layoutGraph(graph);
  checkLayout(graph, layout);
  assert.equal(layout.crossings, 0);
});

test('a graph without edges (recorded nodes only) fills a few columns, groups kept whole', () => {
  const nodes = Array.from({ length: 50 }, (_, i) => {
    const cluster = i < 20 ? 'db' : i < 35 ? 'web' : null;
    return {
      path: cluster ? `${cluster}/n${i}` : `n${i}`,
      label: `n${i}`,
      host: 'local',
      cluster,
      state: 'ready' as const,
    };
  });
  const graph: EnvironmentGraph = {
    environment: 'recorded',
    nodes,
    edges: [],
    clusters: [
      { path: 'db', label: 'db', parent: null },
      { path: 'web', label: 'web', parent: null },
    ],
    reducedEdges: 0,
    coloured: true,
  };
  const layout = layoutGraph(graph);
  checkLayout(graph, layout);
  const columns = new Set([...layout.nodes.values()].map((b) => Math.round(b.x)));
  assert.ok(columns.size >= 4, `${columns.size} columns`);
  assert.ok(layout.height < 1500 && layout.width < 1500, `${layout.width}×${layout.height}`);
});

test('a group box is at least as wide as its title', () => {
  const long = 'a-group-with-a-rather-long-name/and-a-subgroup-named-at-length';
  const graph: EnvironmentGraph = {
    environment: 'x',
    nodes: [
      { path: `${long}/a`, label: 'a', host: 'h', cluster: long },
      { path: 'b', label: 'b', host: 'h', cluster: null },
    ],
    edges: [{ from: `${long}/a`, to: 'b', state: 'ready' }],
    clusters: [
      { path: 'a-group-with-a-rather-long-name', label: 'a-group-with-a-rather-long-name', parent: null },
      { path: long, label: 'and-a-subgroup-named-at-length', parent: 'a-group-with-a-rather-long-name' },
    ],
    reducedEdges: 0,
    coloured: false,
  };
  const layout = layoutGraph(graph);
  checkLayout(graph, layout);
  const box = layout.clusters.get(long)!;
  assert.ok(box.width >= long.length * 7.2 * (11 / 12), `${box.width} wide for a ${long.length}-character title`);
});

test('a cycle (never in a valid description) is still drawn: the edge closing it points left', () => {
  const node = (p: string) => ({ path: p, label: p, host: 'h', cluster: null });
  const graph: EnvironmentGraph = {
    environment: 'x',
    nodes: ['a', 'b', 'c', 'd'].map(node),
    edges: [
      { from: 'a', to: 'b', state: 'ready' },
      { from: 'b', to: 'c', state: 'ready' },
      { from: 'c', to: 'a', state: 'provisioned' },
      { from: 'c', to: 'd', state: 'ready' },
    ],
    clusters: [],
    reducedEdges: 0,
    coloured: false,
  };
  const layout = layoutGraph(graph);
  checkLayout(graph, layout);
  const back = layout.bundles.find((b) => b.from.includes('c') && b.to.includes('a'))!;
  assert.deepEqual(
    back.arrows.map((a) => a.dir),
    [-1],
  );
  assert.ok(back.label, 'labelled provisioned');
  parseXml(renderSvg(graph));
});
