// Every geometric promise of the SVG graph's layout, checked on the drawing itself (test/unit/render/graph/*.test.ts).
import assert from 'node:assert/strict';
import type { EnvironmentGraph } from '../../../../render/graph/environment-graph.js';
import type { Box, Layout, Point } from '../../../../render/graph/layered-layout.js';
import {
  EPS,
  contains,
  distanceToSegment,
  meet,
  onBorder,
  overlaps,
  segmentCrossesBox,
  segmentTouchesBox,
} from './geometry.js';

/** Lines of two bundles closer than this (other than crossing cleanly) would read as joined. */
export const TOUCH_GAP = 3;

export type Segment = [Point, Point];

/** The segments a bundle draws. */
export const inkOf = (layout: Layout, bundle: number): Segment[] =>
  layout.bundles[bundle].lines.flatMap((line) => line.slice(1).map((p, i): Segment => [line[i], p]));

/**
 * Checks every promise (boxes, clusters, each edge's way, bundles' lines, junctions, arrowheads, labels); returns
 * how many checks were made and the crossings counted on the drawing.
 */
export function checkLayout(graph: EnvironmentGraph, layout: Layout): { checks: number; crossings: number } {
  let checks = checkBoxes(graph, layout);
  checks += checkEdges(graph, layout);
  const ink = layout.bundles.map((_, i) => inkOf(layout, i));
  checks += checkBundles(layout, ink);
  const crossings = checkSeparation(ink);
  checks += checkLabels(layout, ink);
  checks += checkFanIns(layout);
  return { checks, crossings };
}

/** Every fan-in of three or more edges (into one node, in one state) enters it at one point, with one arrowhead. */
function checkFanIns(layout: Layout): number {
  let checks = 0;
  const byTarget = new Map<string, Layout['edges']>();
  for (const e of layout.edges) {
    const k = `${e.to}\0${e.state}`;
    byTarget.set(k, [...(byTarget.get(k) ?? []), e]);
  }
  for (const [k, edges] of byTarget) {
    if (edges.length < 3) continue;
    const [to, state] = k.split('\0');
    const end = edges[0].points.at(-1)!;
    for (const e of edges) assert.ok(near(e.points.at(-1)!, end), `${e.from} → ${to} enters ${to} where the others do`);
    const box = layout.nodes.get(to)!;
    const heads = layout.bundles
      .filter((b) => b.state === state)
      .flatMap((b) => b.arrows)
      .filter((a) => onBorder(a, box));
    assert.equal(heads.length, 1, `one arrowhead on ${to} for its ${edges.length} ${state} dependencies`);
    checks++;
  }
  return checks;
}

function checkBoxes(graph: EnvironmentGraph, layout: Layout): number {
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

/** Each edge: its own way from its source's border to its target's, through no other box, within its bundle. */
function checkEdges(graph: EnvironmentGraph, layout: Layout): number {
  let checks = 0;
  const boxes = [...layout.nodes];
  assert.equal(layout.edges.length, graph.edges.length);
  for (const e of layout.edges) {
    const from = layout.nodes.get(e.from)!;
    const to = layout.nodes.get(e.to)!;
    const name = `${e.from} → ${e.to}`;
    assert.ok(e.points.length >= 2, `${name} has a line`);
    assert.ok(onBorder(e.points[0], from), `${name} starts on ${e.from}'s border`);
    assert.ok(onBorder(e.points.at(-1)!, to), `${name} ends on ${e.to}'s border`);
    const bundle = layout.bundles[e.bundle];
    assert.ok(bundle.from.includes(e.from) && bundle.to.includes(e.to), `${name} is in its bundle`);
    const ink = inkOf(layout, e.bundle);
    for (let i = 0; i + 1 < e.points.length; i++) {
      const [p, q] = [e.points[i], e.points[i + 1]];
      for (const [path, b] of boxes) {
        if (path === e.from || path === e.to) continue;
        assert.ok(!segmentCrossesBox(p, q, b), `${name}: segment (${p.x},${p.y})–(${q.x},${q.y}) crosses ${path}`);
        checks++;
      }
      // Its own ends: the line may touch them only at its first and last point.
      if (i > 0) assert.ok(!segmentCrossesBox(p, q, from), `${name} re-enters ${e.from}`);
      if (i + 2 < e.points.length) assert.ok(!segmentCrossesBox(p, q, to), `${name} enters ${e.to} early`);
      // What the edge's way says is what is drawn: its points lie on its bundle's lines.
      for (const t of [0, 0.5, 1]) {
        const m = { x: p.x + (q.x - p.x) * t, y: p.y + (q.y - p.y) * t };
        assert.ok(
          ink.some(([a, b]) => distanceToSegment(m, a, b) < EPS),
          `${name}: (${m.x},${m.y}) is on its bundle's lines`,
        );
      }
    }
  }
  return checks;
}

/** Bundles: exactly every pair of their sides, lines through no box, dots where lines meet, one arrowhead per box. */
function checkBundles(layout: Layout, ink: Segment[][]): number {
  let checks = 0;
  const seen = new Set<string>();
  layout.bundles.forEach((b, i) => {
    const mine = layout.edges.filter((e) => e.bundle === i);
    // A bundle's lines join every node of its left side to every node of its right side: all those edges, no other.
    assert.equal(mine.length, b.from.length * b.to.length, `bundle ${i} is every pair of its sides`);
    for (const e of mine) {
      assert.ok(!seen.has(`${e.from}\0${e.to}`), `${e.from} → ${e.to} is drawn once`);
      seen.add(`${e.from}\0${e.to}`);
      assert.ok(mine.every((x) => x.state === b.state));
    }
    const ends = new Set([...b.from, ...b.to]);
    for (const [p, q] of ink[i]) {
      assert.ok(
        Math.abs(p.x - q.x) < EPS || Math.abs(p.y - q.y) < EPS,
        `bundle ${i}: lines are horizontal or vertical`,
      );
      for (const [path, box] of layout.nodes) {
        assert.ok(!segmentCrossesBox(p, q, box), `bundle ${i}: (${p.x},${p.y})–(${q.x},${q.y}) crosses ${path}`);
        if (!ends.has(path))
          assert.ok(!segmentTouchesBox(p, q, box, 1), `bundle ${i}: (${p.x},${p.y})–(${q.x},${q.y}) touches ${path}`);
        checks++;
      }
    }
    // Dots exactly where three or more arms of its lines meet.
    const arms = new Map<string, { p: Point; n: number }>();
    const at = (p: Point) => {
      const k = `${Math.round(p.x * 10)},${Math.round(p.y * 10)}`;
      return arms.get(k) ?? arms.set(k, { p, n: 0 }).get(k)!;
    };
    for (const [p, q] of ink[i]) {
      at(p).n++;
      at(q).n++;
    }
    for (const a of arms.values())
      for (const [p, q] of ink[i]) if (distanceToSegment(a.p, p, q) < EPS && !near(a.p, p) && !near(a.p, q)) a.n += 2;
    const joins = [...arms.values()].filter((a) => a.n >= 3).map((a) => a.p);
    assert.equal(b.junctions.length, joins.length, `bundle ${i}: a dot at each join`);
    for (const j of b.junctions)
      assert.ok(
        joins.some((p) => near(p, j)),
        `bundle ${i}: dot at (${j.x},${j.y}) joins`,
      );
    // One arrowhead per box entered, on its border, at the end of a line of the bundle.
    assert.equal(b.arrows.length, b.to.length, `bundle ${i}: an arrowhead per target`);
    for (const [k, a] of b.arrows.entries()) {
      assert.ok(onBorder(a, layout.nodes.get(b.to[k])!), `bundle ${i}: arrowhead on ${b.to[k]}`);
      assert.ok(
        ink[i].some(([p, q]) => near(p, a) || near(q, a)),
        `bundle ${i}: arrowhead at a line's end`,
      );
    }
  });
  return checks;
}

const near = (a: Point, b: Point) => Math.abs(a.x - b.x) < EPS && Math.abs(a.y - b.y) < EPS;

/**
 * Lines of different bundles only ever cross cleanly (never touch, overlap or run closer than TOUCH_GAP): a touch
 * would read as one bundle joining another. Returns the clean crossings.
 */
function checkSeparation(ink: Segment[][]): number {
  const all = ink.flatMap((segs, b) =>
    segs.map((s) => ({ b, s, x0: Math.min(s[0].x, s[1].x), x1: Math.max(s[0].x, s[1].x) })),
  );
  all.sort((a, b) => a.x0 - b.x0);
  let crossings = 0;
  for (let i = 0; i < all.length; i++)
    for (let j = i + 1; j < all.length && all[j].x0 <= all[i].x1 + TOUCH_GAP; j++) {
      const [u, v] = [all[i], all[j]];
      if (u.b === v.b) continue;
      const how = meet(u.s[0], u.s[1], v.s[0], v.s[1], TOUCH_GAP);
      assert.notEqual(
        how,
        'touch',
        `bundles ${u.b} and ${v.b} touch: (${u.s[0].x},${u.s[0].y})–(${u.s[1].x},${u.s[1].y}) and (${v.s[0].x},${v.s[0].y})–(${v.s[1].x},${v.s[1].y})`,
      );
      if (how === 'cross') crossings++;
    }
  return crossings;
}

/** Labels: one per labelled bundle, on no box, group title, other label or other bundle's line. */
function checkLabels(layout: Layout, ink: Segment[][]): number {
  let checks = 0;
  const labels = layout.bundles.flatMap((b, i) => (b.label ? [{ i, box: b.label }] : []));
  layout.bundles.forEach((b, i) =>
    assert.equal(b.label !== undefined, b.state === 'provisioned', `bundle ${i} labelled when provisioned`),
  );
  for (const [k, { i, box }] of labels.entries()) {
    for (const [path, b] of layout.nodes) assert.ok(!overlaps(box, b), `label of bundle ${i} on ${path}`);
    for (const { i: j, box: other } of labels.slice(k + 1))
      assert.ok(!overlaps(box, other), `labels of bundles ${i} and ${j} overlap`);
    for (const [c, cb] of layout.clusters) {
      const band: Box = { x: cb.x, y: cb.y, width: c.length * 7, height: 16 };
      assert.ok(!overlaps(box, band), `label of bundle ${i} on the title of ${c}`);
      const sides: Segment[] = [
        [
          { x: cb.x, y: cb.y },
          { x: cb.x + cb.width, y: cb.y },
        ],
        [
          { x: cb.x, y: cb.y + cb.height },
          { x: cb.x + cb.width, y: cb.y + cb.height },
        ],
        [
          { x: cb.x, y: cb.y },
          { x: cb.x, y: cb.y + cb.height },
        ],
        [
          { x: cb.x + cb.width, y: cb.y },
          { x: cb.x + cb.width, y: cb.y + cb.height },
        ],
      ];
      for (const [p, q] of sides)
        assert.ok(!segmentTouchesBox(p, q, box), `label of bundle ${i} on the border of ${c}`);
    }
    ink.forEach((segs, j) => {
      for (const [p, q] of segs) {
        // Its own line may run through its middle (the label interrupts it); nothing else may touch it.
        const through = j === i && Math.abs(p.y - q.y) < EPS && Math.abs(p.y - (box.y + box.height / 2)) < EPS;
        if (!through) assert.ok(!segmentTouchesBox(p, q, box), `label of bundle ${i} on a line of bundle ${j}`);
        checks++;
      }
    });
  }
  return checks;
}
