/**
 * The graph layout once columns are stacked (layered-layout.ts): horizontal positions (gaps as wide as their vertical
 * lines need), each bundle's lines, labels and each edge's own way. Pure.
 */
import type { EnvironmentGraph } from './environment-graph.js';
import type { Net } from './layout-nets.js';
import {
  bundleSegments,
  countCrossings,
  junctions,
  polylines,
  routeGaps,
  straighten,
  type GapRoute,
  type Routing,
} from './layout-route.js';
import { placeLabels, type LabelRequest } from './layout-labels.js';
import type {
  Box,
  Bundle,
  ClusterRow,
  Item,
  Kids,
  LaidOutEdge,
  Layout,
  LayoutOptions,
  Model,
  Packed,
  Point,
  Segment,
} from './layout-types.js';

const PAD_X = 10; // between a column and the border of a cluster around it (a cluster's padding and 2)
const STUB = 8; // a horizontal line's run in a gap before its first possible vertical line
const HEAD_STUB = 16; // the run from the last vertical line to the boxes on the right: room for an arrowhead
const TRACK = 8; // between two vertical lines in a gap
const MIN_GAP = 40;

export function columnWidths(model: Model): number[] {
  const colWidth = Array.from({ length: model.columns }, () => 20);
  for (const i of model.items) colWidth[i.col] = Math.max(colWidth[i.col], i.width);
  return colWidth;
}

/** Horizontal positions, lines, labels and each edge's way: the layout from the stacked columns. */
export function draw(graph: EnvironmentGraph, nets: Net[], model: Model, packed: Packed, opts: LayoutOptions): Layout {
  const yOff = opts.margin;
  const top = (i: Item) => packed.top.get(i)! + yOff;
  const routing = routeGaps(model.links, top);
  const treeHeight = clusterHeights(model.kids);
  const lanes = new Set<number>();
  const labelled = opts.label ? nets.map((n, i) => (n.state === 'provisioned' ? i : -1)).filter((i) => i >= 0) : [];
  for (let round = 0; ; round++) {
    const geo = geometry(model, packed, routing, treeHeight, lanes, opts);
    const segs = bundleSegments(nets.length, routing, slotLists(model), nodeEnds(model, routing, geo.nodes), geo.cols);
    let labels = new Map<number, Box>();
    if (opts.label && labelled.length) {
      const placed = placeLabels(
        labelled.map((n) => labelRequest(n, model, routing, geo)),
        (n) => segs[n],
        opts.label,
        { boxes: [...geo.nodes.values(), ...geo.titleBands], segments: [...segs, geo.clusterBorders] },
      );
      labels = placed.labels;
      let more = false;
      for (const n of placed.needLane) {
        // A lane in the gap nearest its right side that has none yet.
        const g = gapsOf(n, routing).find((x) => !lanes.has(x));
        if (g !== undefined) {
          lanes.add(g);
          more = true;
        }
      }
      if (more && round < 3) continue;
    }
    const bundles = nets.map((net, n): Bundle => bundleOf(net, n, segs[n], model, routing, geo, labels.get(n)));
    const order = new Map(graph.edges.map((e, i) => [e, i]));
    const edges = edgeWays(nets, model, routing, geo).sort((a, b) => order.get(a.edge)! - order.get(b.edge)!);
    return {
      width: geo.width,
      height: Math.ceil(packed.height + 2 * opts.margin),
      nodes: geo.nodes,
      clusters: geo.clusters,
      edges: edges.map(({ edge: _, ...e }) => e),
      bundles,
      crossings: countCrossings(segs),
    };
  }
}

function clusterHeights(kids: Kids): (c: string) => number {
  const memo = new Map<string, number>();
  const h = (c: string): number => {
    let v = memo.get(c);
    if (v === undefined) {
      v = 1 + Math.max(0, ...(kids.get(c)?.clusters ?? []).map(h));
      memo.set(c, v);
    }
    return v;
  };
  return h;
}

interface Geometry {
  cols: { left: (c: number) => number; right: (c: number) => number; trackX: (g: number, t: number) => number };
  /** Where the lane for labels in a gap starts, when it has one. */
  laneX: (g: number) => number | undefined;
  nodes: Map<string, Box>;
  clusters: Map<string, Box>;
  titleBands: Box[];
  clusterBorders: Segment[];
  width: number;
}

/** Column and gap widths (gaps as wide as their vertical lines and lanes need), boxes and cluster boxes. */
function geometry(
  model: Model,
  packed: Packed,
  routing: Routing,
  treeHeight: (c: string) => number,
  lanes: Set<number>,
  opts: LayoutOptions,
): Geometry {
  const n = model.columns;
  const colWidth = columnWidths(model);
  const inset = (c: string) => PAD_X * treeHeight(c);
  const borderIn = (side: 'c0' | 'c1', col: number) =>
    Math.max(0, ...[...packed.clusterRows].filter(([, r]) => r[side] === col).map(([c]) => inset(c)));
  const band = gapBands(n, routing, lanes, (opts.label?.width ?? 0) + 8, borderIn);
  // A cluster box at least as wide as its title: its last column grows when the columns it spans are too narrow.
  if (opts.clusterTitleWidth)
    for (const [c, row] of packed.clusterRows) {
      let span = 0;
      for (let i = row.c0; i <= row.c1; i++) span += colWidth[i] + (i < row.c1 ? band[i].gap : 0);
      const missing = opts.clusterTitleWidth(c) + 16 - (span + 2 * inset(c));
      if (missing > 0) colWidth[row.c1] += missing;
    }
  const colLeft: number[] = [];
  let x = opts.margin + borderIn('c0', 0);
  for (let i = 0; i < n; i++) {
    colLeft.push(x);
    x += colWidth[i] + (i + 1 < n ? band[i].gap : 0);
  }
  const right = (c: number) => colLeft[c] + colWidth[c];
  const laneX = (g: number) => {
    const at = band[g]?.lane;
    return at === undefined ? undefined : right(g) + band[g].start + at;
  };
  const nodes = new Map<string, Box>();
  for (const i of model.items)
    if (i.node !== undefined)
      nodes.set(i.node, {
        x: colLeft[i.col] + (colWidth[i.col] - i.width) / 2,
        y: packed.top.get(i)! + opts.margin,
        width: i.width,
        height: i.height,
      });
  return {
    cols: {
      left: (c) => colLeft[c],
      right,
      trackX: (g, t) => right(g) + band[g].start + (band[g].offsets[t] ?? 0),
    },
    laneX,
    nodes,
    ...clusterGeometry(packed, (c, row) => [colLeft[row.c0] - inset(c), right(row.c1) + inset(c)], opts),
    width: Math.ceil((n ? right(n - 1) : 0) + borderIn('c1', n - 1) + opts.margin),
  };
}

/** Per gap: its band of tracks, then a lane for labels if it has one, and how wide the gap must be. */
function gapBands(
  columns: number,
  routing: Routing,
  lanes: Set<number>,
  laneWidth: number,
  borderIn: (side: 'c0' | 'c1', col: number) => number,
) {
  return Array.from({ length: Math.max(0, columns - 1) }, (_, g) => {
    const tracks = routing.gaps.get(g)?.tracks ?? 0;
    const offsets = Array.from({ length: tracks }, (_, t) => t * TRACK);
    const lane = lanes.has(g) ? (tracks ? offsets[tracks - 1] + 4 : 0) : undefined;
    const width = (tracks ? offsets[tracks - 1] : 0) + (lane !== undefined ? laneWidth : 0);
    const before = borderIn('c1', g) + STUB;
    const needed = before + width + HEAD_STUB + borderIn('c0', g + 1);
    const gap = Math.max(MIN_GAP, needed);
    return { offsets, lane, start: before + (gap - needed) / 2, gap };
  });
}

/** Cluster boxes (from their columns' extent), the bands of their titles and their borders, for labels to avoid. */
function clusterGeometry(
  packed: Packed,
  extent: (c: string, row: ClusterRow) => [number, number],
  opts: LayoutOptions,
): Pick<Geometry, 'clusters' | 'titleBands' | 'clusterBorders'> {
  const clusters = new Map<string, Box>();
  const titleBands: Box[] = [];
  const clusterBorders: Segment[] = [];
  for (const [c, row] of packed.clusterRows) {
    const [x0, x1] = extent(c, row);
    const [y0, y1] = [row.y + opts.margin, row.y + opts.margin + row.height];
    clusters.set(c, { x: x0, y: y0, width: x1 - x0, height: row.height });
    titleBands.push({ x: x0, y: y0, width: (opts.clusterTitleWidth?.(c) ?? 0) + 12, height: opts.clusterTitle });
    const corner = (x: number, y: number): Point => ({ x, y });
    clusterBorders.push(
      [corner(x0, y0), corner(x1, y0)],
      [corner(x0, y1), corner(x1, y1)],
      [corner(x0, y0), corner(x0, y1)],
      [corner(x1, y0), corner(x1, y1)],
    );
  }
  return { clusters, titleBands, clusterBorders };
}

function slotLists(model: Model): Map<number, Item[]> {
  return new Map([...model.slots].map(([n, m]) => [n, [...m.values()]]));
}

/** Where each bundle meets a box: the box's right side for its left nodes, its left side for its right nodes. */
function nodeEnds(model: Model, routing: Routing, boxes: Map<string, Box>) {
  const out: { net: number; item: Item; side: 'L' | 'R'; boxEdge: number }[] = [];
  for (const l of model.links) {
    for (const i of l.left)
      if (i.node !== undefined) {
        const b = boxes.get(i.node)!;
        out.push({ net: l.net, item: i, side: 'R', boxEdge: b.x + b.width });
      }
    for (const i of l.right)
      if (i.node !== undefined) out.push({ net: l.net, item: i, side: 'L', boxEdge: boxes.get(i.node)!.x });
  }
  return out;
}

/** The gaps a bundle has lines in, nearest its right side first. */
function gapsOf(net: number, routing: Routing): number[] {
  const out: number[] = [];
  for (const [g, { routes }] of routing.gaps) if (routes.some((r) => r.link.net === net)) out.push(g);
  return out.sort((a, b) => b - a);
}

function labelRequest(n: number, model: Model, routing: Routing, geo: Geometry): LabelRequest {
  const runs = [...model.slots.get(n)!.values()].map((s) => ({
    y: routing.endY(n, s),
    x0: geo.cols.left(s.col),
    x1: geo.cols.right(s.col),
  }));
  // In a gap's lane, on one of its lines to its right ends (they all cross the lane).
  const lanes: LabelRequest['lanes'] = [];
  for (const g of gapsOf(n, routing)) {
    const x = geo.laneX(g);
    if (x === undefined) continue;
    const route = routing.gaps.get(g)!.routes.find((r) => r.link.net === n)!;
    lanes.push({ x, ys: route.ends.right });
  }
  return { net: n, runs, lanes };
}

function bundleOf(
  net: Net,
  n: number,
  segs: Segment[],
  model: Model,
  routing: Routing,
  geo: Geometry,
  label: Box | undefined,
): Bundle {
  const heads = net.reversed ? net.left : net.right;
  const arrows = heads.map((p) => {
    const b = geo.nodes.get(p)!;
    const y = routing.endY(n, model.nodeItem.get(p)!);
    return net.reversed ? { x: b.x + b.width, y, dir: -1 as const } : { x: b.x, y, dir: 1 as const };
  });
  return {
    state: net.state,
    from: net.reversed ? net.right : net.left,
    to: heads,
    lines: polylines(segs),
    junctions: junctions(segs),
    arrows,
    ...(label ? { label } : {}),
  };
}

/** Each edge's own way through its bundle: from its source's port, through slots and vertical lines, to its target. */
function edgeWays(
  nets: Net[],
  model: Model,
  routing: Routing,
  geo: Geometry,
): (LaidOutEdge & { edge: Net['edges'][number] })[] {
  const routeOf = new Map<string, GapRoute>();
  for (const [g, { routes }] of routing.gaps) for (const r of routes) routeOf.set(`${g}\0${r.link.net}`, r);
  const out: (LaidOutEdge & { edge: Net['edges'][number] })[] = [];
  nets.forEach((net, n) => {
    for (const e of net.edges) {
      const [a, b] = net.reversed ? [e.to, e.from] : [e.from, e.to];
      const [ia, ib] = [model.nodeItem.get(a)!, model.nodeItem.get(b)!];
      const pts: Point[] = [];
      let y = routing.endY(n, ia);
      pts.push({ x: geo.nodes.get(a)!.x + ia.width, y }, { x: geo.cols.right(ia.col), y });
      for (let g = ia.col; g < ib.col; g++) {
        const nextItem = g + 1 === ib.col ? ib : model.slots.get(n)!.get(g + 1)!;
        const y2 = routing.endY(n, nextItem);
        const r = routeOf.get(`${g}\0${n}`)!;
        if (r.track >= 0) {
          const x = geo.cols.trackX(g, r.track);
          pts.push({ x, y }, { x, y: y2 });
        }
        pts.push({ x: geo.cols.left(g + 1), y: y2 });
        pts.push(nextItem === ib ? { x: geo.nodes.get(b)!.x, y: y2 } : { x: geo.cols.right(g + 1), y: y2 });
        y = y2;
      }
      const points = straighten(pts);
      if (net.reversed) points.reverse();
      out.push({ from: e.from, to: e.to, state: e.state, points, bundle: n, edge: e });
    }
  });
  return out;
}
