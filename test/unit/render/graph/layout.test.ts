// The SVG graph's layout, checked geometrically: edges never cross a box other than their own ends, boxes never
// overlap, every edge starts on its source box and ends on its target box, clusters hold exactly their nodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadDescription } from '../../../../schema/load-description.js';
import type { LifecycleState } from '../../../../kernel/types.js';
import {
  buildEnvironmentGraph,
  type EnvironmentGraph,
  type GraphEdge,
} from '../../../../render/graph/environment-graph.js';
import { layoutGraph, renderSvg } from '../../../../render/graph/render-svg.js';
import type { Box, Layout, Point } from '../../../../render/graph/layered-layout.js';
import { allElements, parseXml } from './xml-well-formed.js';

const ROOT = path.resolve(import.meta.dirname, '../../../..');
const EPS = 0.01;

/** Whether the segment p–q passes through the inside of box b (touching its border from outside does not count). */
export function segmentCrossesBox(p: Point, q: Point, b: Box): boolean {
  // Shrink the box a little: a segment running along a border or ending on it does not enter the box.
  const x0 = b.x + EPS;
  const y0 = b.y + EPS;
  const x1 = b.x + b.width - EPS;
  const y1 = b.y + b.height - EPS;
  // Liang–Barsky clipping of the segment against the rectangle.
  let t0 = 0;
  let t1 = 1;
  const dx = q.x - p.x;
  const dy = q.y - p.y;
  const edges: [number, number][] = [
    [-dx, p.x - x0],
    [dx, x1 - p.x],
    [-dy, p.y - y0],
    [dy, y1 - p.y],
  ];
  for (const [pp, qq] of edges) {
    if (pp === 0) {
      if (qq < 0) return false;
    } else {
      const t = qq / pp;
      if (pp < 0) t0 = Math.max(t0, t);
      else t1 = Math.min(t1, t);
      if (t0 > t1) return false;
    }
  }
  return t1 - t0 > 1e-9;
}

const onBorder = (p: Point, b: Box): boolean => {
  const inX = p.x >= b.x - EPS && p.x <= b.x + b.width + EPS;
  const inY = p.y >= b.y - EPS && p.y <= b.y + b.height + EPS;
  const nearX = Math.abs(p.x - b.x) < EPS || Math.abs(p.x - b.x - b.width) < EPS;
  const nearY = Math.abs(p.y - b.y) < EPS || Math.abs(p.y - b.y - b.height) < EPS;
  return (inX && inY && nearX) || (inX && inY && nearY);
};

const overlaps = (a: Box, b: Box): boolean =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
const contains = (outer: Box, inner: Box): boolean =>
  inner.x >= outer.x &&
  inner.y >= outer.y &&
  inner.x + inner.width <= outer.x + outer.width &&
  inner.y + inner.height <= outer.y + outer.height;

/** Every geometric promise of the layout; returns how many checks were made. */
function checkLayout(graph: EnvironmentGraph, layout: Layout): number {
  let checks = 0;
  const boxes = [...layout.nodes];
  assert.equal(boxes.length, graph.nodes.length);
  for (const [p, b] of boxes) {
    assert.ok(b.x >= 0 && b.y >= 0 && b.x + b.width <= layout.width && b.y + b.height <= layout.height, `${p} inside`);
  }
  for (let i = 0; i < boxes.length; i++)
    for (let j = i + 1; j < boxes.length; j++) {
      assert.ok(!overlaps(boxes[i][1], boxes[j][1]), `${boxes[i][0]} and ${boxes[j][0]} overlap`);
      checks++;
    }
  assert.equal(layout.edges.length, graph.edges.length);
  for (const e of layout.edges) {
    const from = layout.nodes.get(e.from)!;
    const to = layout.nodes.get(e.to)!;
    assert.ok(e.points.length >= 2, `${e.from} → ${e.to} has a line`);
    assert.ok(onBorder(e.points[0], from), `${e.from} → ${e.to} starts on ${e.from}'s border`);
    assert.ok(onBorder(e.points.at(-1)!, to), `${e.from} → ${e.to} ends on ${e.to}'s border`);
    for (let i = 0; i + 1 < e.points.length; i++) {
      const [p, q] = [e.points[i], e.points[i + 1]];
      for (const [path, b] of boxes) {
        if (path === e.from || path === e.to) continue;
        assert.ok(
          !segmentCrossesBox(p, q, b),
          `${e.from} → ${e.to}: segment (${p.x},${p.y})–(${q.x},${q.y}) crosses ${path}`,
        );
        checks++;
      }
      // Its own ends: the line may touch them only at its first and last point.
      if (i > 0) assert.ok(!segmentCrossesBox(p, q, from), `${e.from} → ${e.to} re-enters ${e.from}`);
      if (i + 2 < e.points.length) assert.ok(!segmentCrossesBox(p, q, to), `${e.from} → ${e.to} enters ${e.to} early`);
    }
  }
  // Clusters hold their nodes, and no other.
  for (const [c, cb] of layout.clusters) {
    for (const [p, b] of boxes) {
      const member = p.startsWith(`${c}/`) && graph.nodes.find((n) => n.path === p)!.cluster?.startsWith(c);
      if (member) assert.ok(contains(cb, b), `${c} holds ${p}`);
      else assert.ok(!overlaps(cb, b), `${p} is drawn inside ${c}`);
      checks++;
    }
  }
  return checks;
}

/** A seeded pseudo-random generator (mulberry32): the same graphs every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random DAG of n nodes: some in groups (nested), each depending on up to 3 earlier nodes. */
function randomGraph(n: number, seed: number): EnvironmentGraph {
  const rnd = random(seed);
  const clusters = [
    { path: 'g1', label: 'g1', parent: null },
    { path: 'g1/inner', label: 'inner', parent: 'g1' },
    { path: 'g2', label: 'g2', parent: null },
  ];
  const cls = [null, null, null, 'g1', 'g1/inner', 'g2'];
  const nodes = Array.from({ length: n }, (_, i) => {
    const cluster = cls[Math.floor(rnd() * cls.length)];
    const name = `node-${i}${'x'.repeat(Math.floor(rnd() * 8))}`;
    return {
      path: cluster ? `${cluster}/${name}` : name,
      label: name,
      host: rnd() < 0.2 ? null : `10.0.${Math.floor(i / 250)}.${i % 250}`,
      cluster,
      state: (['ready', 'failed', 'defined'] as LifecycleState[])[i % 3],
    };
  });
  const edges: GraphEdge[] = [];
  const seen = new Set<string>();
  for (let i = 1; i < n; i++) {
    const k = Math.floor(rnd() * 4);
    for (let j = 0; j < k; j++) {
      const from = Math.floor(rnd() * i);
      const key = `${from}-${i}`;
      if (seen.has(key)) continue;
      seen.add(key);
      edges.push({ from: nodes[from].path, to: nodes[i].path, state: rnd() < 0.15 ? 'provisioned' : 'ready' });
    }
  }
  return { environment: `random-${n}`, nodes, edges, clusters, reducedEdges: 0, coloured: true };
}

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
    const checks = checkLayout(graph, layout);
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
