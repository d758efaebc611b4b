/**
 * Layered layout of an environment graph, left to right (docs/cli.md, "politburo graph"). Pure.
 *
 * - Layers: each node sits one column right of its furthest dependency (longest path), so every edge points right.
 * - Long edges get a dummy item in every column they cross: a slot of their own, between the boxes of that column.
 * - Groups (clusters) are rectangles: a cluster reserves its rows in every column from its first to its last, so no
 *   other box is ever drawn inside it. Siblings are stacked in an order, and that order is improved by barycentre
 *   sweeps (each item moves towards the mean height of its neighbours in the previous or next column), keeping the
 *   order with the fewest edge crossings.
 * - Edges are polylines: a horizontal stub inside the column (at a height only their own box or dummy occupies), a
 *   straight segment across the gap between two columns (where no box is), and so on to the target's left side.
 *   No edge can therefore cross a box other than its ends: tested geometrically (test/unit/render/graph/layout.test.ts).
 */
import type { EnvironmentGraph } from './environment-graph.js';

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Point {
  x: number;
  y: number;
}

export interface LaidOutEdge {
  from: string;
  to: string;
  state: string;
  /** From a point on the source box's border to a point on the target box's border. */
  points: Point[];
  /** Where a label fits (in a gap between columns), for `provisioned` edges. */
  label?: Point;
}

export interface Layout {
  width: number;
  height: number;
  nodes: Map<string, Box>;
  clusters: Map<string, Box>;
  edges: LaidOutEdge[];
  /** Edge segments crossing each other between columns (what the ordering minimises). */
  crossings: number;
}

export interface LayoutOptions {
  /** Box size of a node. */
  size: (path: string) => { width: number; height: number };
  /** Room for a cluster's title above its contents. */
  clusterTitle: number;
  /** How wide a cluster's title is: its box is made at least that wide. */
  clusterTitleWidth?: (path: string) => number;
  margin: number;
}

const GAP = 14; // between items stacked in a column
const DUMMY_HEIGHT = 6; // an edge's slot in a column it crosses
const PAD = 8; // inside a cluster box, around its contents
const STUB = 8; // horizontal lead-in and lead-out of an edge in a gap
const SWEEPS = 12;

interface Leaf {
  id: string;
  index: number;
  layer: number;
  width: number;
  height: number;
  /** Innermost cluster holding it; null at the root. */
  owner: string | null;
  /** The node's path (absent for dummies). */
  node?: string;
}

interface Chain {
  edge: EnvironmentGraph['edges'][number];
  /** Items from the lower layer to the higher one. */
  items: Leaf[];
  /** The edge points from a higher layer to a lower one (a cycle broken for drawing). */
  reversed: boolean;
}

/** Longest-path layers; a cycle (never in a valid description) is broken by ignoring the edge that closes it. */
function assignLayers(graph: EnvironmentGraph): { layer: Map<string, number>; back: Set<number> } {
  const out = new Map<string, number[]>(graph.nodes.map((n) => [n.path, []]));
  graph.edges.forEach((e, i) => out.get(e.from)?.push(i));
  const back = new Set<number>();
  const state = new Map<string, 1 | 2>();
  const order: string[] = [];
  for (const start of graph.nodes.map((n) => n.path)) {
    if (state.has(start)) continue;
    const stack: [string, number][] = [[start, 0]];
    state.set(start, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const edges = out.get(top[0])!;
      if (top[1] < edges.length) {
        const i = edges[top[1]++];
        const to = graph.edges[i].to;
        if (!out.has(to)) continue;
        const s = state.get(to);
        if (s === 1) back.add(i);
        else if (s === undefined) {
          state.set(to, 1);
          stack.push([to, 0]);
        }
      } else {
        state.set(top[0], 2);
        order.push(top[0]);
        stack.pop();
      }
    }
  }
  const layer = new Map<string, number>(graph.nodes.map((n) => [n.path, 0]));
  const incoming = new Map<string, string[]>(graph.nodes.map((n) => [n.path, []]));
  graph.edges.forEach((e, i) => {
    if (back.has(i) || !out.has(e.from) || !out.has(e.to) || e.from === e.to) return;
    incoming.get(e.to)!.push(e.from);
  });
  const topo = order.reverse();
  for (const path of topo) {
    for (const from of incoming.get(path)!) layer.set(path, Math.max(layer.get(path)!, layer.get(from)! + 1));
  }
  // A node nothing waits before sits just left of its first dependent, not far left with a long edge to it.
  const outgoing = new Map<string, string[]>(graph.nodes.map((n) => [n.path, []]));
  for (const [to, froms] of incoming) for (const from of froms) outgoing.get(from)!.push(to);
  for (const path of [...topo].reverse()) {
    const succ = outgoing.get(path)!;
    if (incoming.get(path)!.length === 0 && succ.length > 0)
      layer.set(path, Math.min(...succ.map((t) => layer.get(t)!)) - 1);
  }
  // Without any edge every node would stand in one tall column: fill a few columns instead, in order (so a group's
  // nodes stay together), about as wide as tall.
  if (graph.edges.length === 0 && graph.nodes.length > 6) {
    const rows = Math.ceil(graph.nodes.length / Math.max(1, Math.round(Math.sqrt(graph.nodes.length * 0.43))));
    graph.nodes.forEach((n, i) => layer.set(n.path, Math.floor(i / rows)));
  }
  return { layer, back };
}

/** Lays the graph out (see the module comment). */
export function layeredLayout(graph: EnvironmentGraph, opts: LayoutOptions): Layout {
  const { layer, back } = assignLayers(graph);
  // Clusters that hold nodes; a node's owner is its innermost such cluster.
  const clusterByPath = new Map(graph.clusters.map((c) => [c.path, c]));
  const ownerOf = (cluster: string | null): string | null => {
    let c = cluster;
    while (c !== null && !clusterByPath.has(c)) c = c.includes('/') ? c.slice(0, c.lastIndexOf('/')) : null;
    return c;
  };
  const parentOf = (c: string): string | null => ownerOf(clusterByPath.get(c)!.parent);
  const chainOf = (c: string | null): (string | null)[] => {
    const out: (string | null)[] = [];
    for (let p = c; p !== null; p = parentOf(p)) out.unshift(p);
    out.unshift(null);
    return out;
  };
  const lca = (a: string | null, b: string | null): string | null => {
    const ca = chainOf(a);
    const cb = chainOf(b);
    let i = 0;
    while (i + 1 < ca.length && i + 1 < cb.length && ca[i + 1] === cb[i + 1]) i++;
    return ca[i];
  };

  let index = 0;
  const leaves: Leaf[] = [];
  const nodeLeaf = new Map<string, Leaf>();
  for (const n of graph.nodes) {
    const size = opts.size(n.path);
    const leaf: Leaf = {
      id: `n:${n.path}`,
      index: index++,
      layer: layer.get(n.path)!,
      ...size,
      owner: ownerOf(n.cluster),
      node: n.path,
    };
    leaves.push(leaf);
    nodeLeaf.set(n.path, leaf);
  }
  const chains: Chain[] = [];
  graph.edges.forEach((edge, i) => {
    const a = nodeLeaf.get(edge.from);
    const b = nodeLeaf.get(edge.to);
    if (!a || !b || a === b) return;
    const reversed = back.has(i) || a.layer > b.layer;
    const [lo, hi] = reversed ? [b, a] : [a, b];
    const items: Leaf[] = [lo];
    const owner = lca(lo.owner, hi.owner);
    for (let l = lo.layer + 1; l < hi.layer; l++) {
      const d: Leaf = { id: `d:${i}:${l}`, index: index++, layer: l, width: 0, height: DUMMY_HEIGHT, owner };
      leaves.push(d);
      items.push(d);
    }
    if (lo.layer === hi.layer) return; // only a broken cycle within one layer: not drawable left to right
    items.push(hi);
    chains.push({ edge, items, reversed });
  });

  // The cluster tree of what is drawn.
  const kids = new Map<string | null, { clusters: string[]; leaves: Leaf[] }>();
  const kidsOf = (c: string | null) => {
    let k = kids.get(c);
    if (!k) kids.set(c, (k = { clusters: [], leaves: [] }));
    return k;
  };
  kidsOf(null);
  const drawn = new Set<string>();
  for (const leaf of leaves) {
    kidsOf(leaf.owner).leaves.push(leaf);
    for (let c = leaf.owner; c !== null && !drawn.has(c); c = parentOf(c)) {
      drawn.add(c);
    }
  }
  for (const c of graph.clusters) if (drawn.has(c.path)) kidsOf(parentOf(c.path)).clusters.push(c.path);
  const heightOfTree = new Map<string, number>();
  const treeHeight = (c: string): number => {
    let h = heightOfTree.get(c);
    if (h === undefined) {
      h = 1 + Math.max(0, ...(kids.get(c)?.clusters ?? []).map(treeHeight));
      heightOfTree.set(c, h);
    }
    return h;
  };
  const maxDepth = Math.max(0, ...(kids.get(null)?.clusters ?? []).map(treeHeight));
  const padX = PAD + 2;

  // Neighbours of each item in the previous and next column.
  const prev = new Map<Leaf, Leaf[]>();
  const next = new Map<Leaf, Leaf[]>();
  const segments: [Leaf, Leaf][] = [];
  for (const ch of chains) {
    for (let i = 0; i + 1 < ch.items.length; i++) {
      const [a, b] = [ch.items[i], ch.items[i + 1]];
      segments.push([a, b]);
      (next.get(a) ?? next.set(a, []).get(a)!).push(b);
      (prev.get(b) ?? prev.set(b, []).get(b)!).push(a);
    }
  }

  const title = opts.clusterTitle;
  /** Stacks the items of every column given a sort key and a wished-for centre height per item. */
  const pack = (key: Map<Leaf, number>, want: Map<Leaf, number> | null) => {
    const top = new Map<Leaf, number>();
    const clusterRows = new Map<string, { y: number; height: number; c0: number; c1: number }>();
    interface Block {
      key: number;
      weight: number;
      desiredTop: number;
      height: number;
      c0: number;
      c1: number;
      place: (y: number) => void;
    }
    const leafBlock = (l: Leaf): Block => ({
      key: key.get(l)!,
      weight: 1,
      desiredTop: want ? want.get(l)! - l.height / 2 : 0,
      height: l.height,
      c0: l.layer,
      c1: l.layer,
      place: (y) => void top.set(l, y),
    });
    const clusterBlock = (c: string | null): Block => {
      const k = kids.get(c)!;
      const blocks = [...k.clusters.map(clusterBlock), ...k.leaves.map(leafBlock)].sort((a, b) => a.key - b.key);
      const innerTop = c === null ? 0 : title + PAD;
      const desiredTop = (blocks.length ? Math.min(...blocks.map((b) => b.desiredTop)) : 0) - innerTop;
      const sky = new Map<number, number>();
      const at: number[] = [];
      for (const b of blocks) {
        let y = Math.max(innerTop, b.desiredTop - desiredTop);
        for (let col = b.c0; col <= b.c1; col++) {
          const s = sky.get(col);
          if (s !== undefined) y = Math.max(y, s + GAP);
        }
        at.push(y);
        for (let col = b.c0; col <= b.c1; col++) sky.set(col, y + b.height);
      }
      const height = Math.max(innerTop, ...sky.values()) + (c === null ? 0 : PAD);
      const weight = blocks.reduce((s, b) => s + b.weight, 0);
      const c0 = Math.min(...blocks.map((b) => b.c0));
      const c1 = Math.max(...blocks.map((b) => b.c1));
      return {
        key: blocks.reduce((s, b) => s + b.key * b.weight, 0) / Math.max(1, weight),
        weight,
        desiredTop,
        height,
        c0,
        c1,
        place: (y) => {
          if (c !== null) clusterRows.set(c, { y, height, c0, c1 });
          blocks.forEach((b, i) => b.place(y + at[i]));
        },
      };
    };
    const root = clusterBlock(null);
    root.place(0);
    return { top, clusterRows, height: root.height };
  };
  const centre = (top: Map<Leaf, number>, l: Leaf) => top.get(l)! + l.height / 2;
  const countCrossings = (top: Map<Leaf, number>): number => {
    const byGap = new Map<number, [number, number][]>();
    for (const [a, b] of segments) {
      const list = byGap.get(a.layer) ?? byGap.set(a.layer, []).get(a.layer)!;
      list.push([centre(top, a), centre(top, b)]);
    }
    let n = 0;
    for (const list of byGap.values()) {
      for (let i = 0; i < list.length; i++)
        for (let j = i + 1; j < list.length; j++) if ((list[i][0] - list[j][0]) * (list[i][1] - list[j][1]) < 0) n++;
    }
    return n;
  };

  // Initial order: input order, dummies after the node their edge leaves.
  let key = new Map<Leaf, number>(leaves.map((l) => [l, l.index]));
  for (const ch of chains) ch.items.slice(1, -1).forEach((d) => key.set(d, ch.items[0].index + 0.5));
  let packed = pack(key, null);
  let best = { packed, crossings: countCrossings(packed.top), key };
  for (let sweep = 0; sweep < SWEEPS && best.crossings > 0; sweep++) {
    // Column by column in the sweep's direction, each item wishes for the mean of its neighbours' wishes in the
    // column just done (so a change travels through the whole sweep); items without such neighbours stay put.
    const down = sweep % 2 === 0;
    const side = down ? prev : next;
    const want = new Map<Leaf, number>();
    const inOrder = [...leaves].sort((a, b) => (down ? a.layer - b.layer : b.layer - a.layer));
    for (const l of inOrder) {
      const ns = side.get(l);
      want.set(l, ns?.length ? ns.reduce((s, n) => s + want.get(n)!, 0) / ns.length : centre(packed.top, l));
    }
    key = new Map(leaves.map((l) => [l, want.get(l)! + l.index * 1e-6]));
    packed = pack(key, want);
    const crossings = countCrossings(packed.top);
    if (crossings < best.crossings || (crossings === best.crossings && packed.height < best.packed.height))
      best = { packed, crossings, key };
  }
  // The same order stacked tightly is shorter (wishes leave holes); kept unless it crosses more.
  const tight = pack(best.key, null);
  const tightCrossings = countCrossings(tight.top);
  if (tightCrossings <= best.crossings) best = { packed: tight, crossings: tightCrossings, key: best.key };
  packed = best.packed;

  // Columns: as wide as their widest box, separated by gaps wide enough for nested cluster borders and a label.
  const layers = Math.max(0, ...leaves.map((l) => l.layer)) + 1;
  const colWidth = Array.from({ length: layers }, () => 20);
  for (const l of leaves) colWidth[l.layer] = Math.max(colWidth[l.layer], l.width);
  const hasLabels = chains.some((c) => c.edge.state === 'provisioned');
  const gap = Math.max(hasLabels ? 96 : 64, 2 * padX * maxDepth + 2 * STUB + 32);
  // A cluster box at least as wide as its title: its last column grows when the columns it spans are too narrow.
  if (opts.clusterTitleWidth) {
    for (const [c, row] of packed.clusterRows) {
      let span = 0;
      for (let i = row.c0; i <= row.c1; i++) span += colWidth[i] + (i < row.c1 ? gap : 0);
      const missing = opts.clusterTitleWidth(c) + 16 - (span + 2 * padX * treeHeight(c));
      if (missing > 0) colWidth[row.c1] += missing;
    }
  }
  const colLeft: number[] = [];
  let x = opts.margin + padX * maxDepth;
  for (let i = 0; i < layers; i++) {
    colLeft.push(x);
    x += colWidth[i] + gap;
  }
  const colRight = (i: number) => colLeft[i] + colWidth[i];
  const yOff = opts.margin;

  const nodes = new Map<string, Box>();
  for (const l of leaves)
    if (l.node !== undefined)
      nodes.set(l.node, {
        x: colLeft[l.layer] + (colWidth[l.layer] - l.width) / 2,
        y: packed.top.get(l)! + yOff,
        width: l.width,
        height: l.height,
      });
  const clusters = new Map<string, Box>();
  for (const [c, row] of packed.clusterRows) {
    const inset = padX * treeHeight(c);
    clusters.set(c, {
      x: colLeft[row.c0] - inset,
      y: row.y + yOff,
      width: colRight(row.c1) - colLeft[row.c0] + 2 * inset,
      height: row.height,
    });
  }

  // Ports: the edges leaving (entering) a box are spread over its right (left) side in the order of the other ends.
  const outPorts = new Map<Leaf, Chain[]>();
  const inPorts = new Map<Leaf, Chain[]>();
  for (const ch of chains) {
    (outPorts.get(ch.items[0]) ?? outPorts.set(ch.items[0], []).get(ch.items[0])!).push(ch);
    const last = ch.items[ch.items.length - 1];
    (inPorts.get(last) ?? inPorts.set(last, []).get(last)!).push(ch);
  }
  const portY = new Map<string, number>();
  const spread = (l: Leaf, list: Chain[], side: 'out' | 'in') => {
    const other = (ch: Chain) => ch.items[side === 'out' ? 1 : ch.items.length - 2];
    list.sort((a, b) => centre(packed.top, other(a)) - centre(packed.top, other(b)));
    const span = Math.min(l.height * 0.6, (list.length - 1) * 6);
    list.forEach((ch, i) => {
      const y = centre(packed.top, l) + yOff + (list.length > 1 ? -span / 2 + (i * span) / (list.length - 1) : 0);
      portY.set(`${side}\0${chains.indexOf(ch)}`, y);
    });
  };
  for (const [l, list] of outPorts) spread(l, list, 'out');
  for (const [l, list] of inPorts) spread(l, list, 'in');

  const edges: LaidOutEdge[] = chains.map((ch, ci) => {
    const pts: Point[] = [];
    const push = (p: Point) => {
      const last = pts[pts.length - 1];
      if (!last || Math.abs(last.x - p.x) > 0.01 || Math.abs(last.y - p.y) > 0.01) pts.push(p);
    };
    const first = ch.items[0];
    const y0 = portY.get(`out\0${ci}`)!;
    push({ x: nodes.get(first.node!)!.x + first.width, y: y0 });
    push({ x: colRight(first.layer), y: y0 });
    push({ x: colRight(first.layer) + STUB, y: y0 });
    let label: Point | undefined;
    const mid = Math.floor((ch.items.length - 1) / 2);
    for (let i = 1; i < ch.items.length; i++) {
      const item = ch.items[i];
      const isLast = i === ch.items.length - 1;
      const y = isLast ? portY.get(`in\0${ci}`)! : centre(packed.top, item) + yOff;
      const from = pts[pts.length - 1];
      push({ x: colLeft[item.layer] - STUB, y });
      if (i - 1 === mid) label = { x: (from.x + colLeft[item.layer] - STUB) / 2, y: (from.y + y) / 2 };
      push({ x: colLeft[item.layer], y });
      if (isLast) push({ x: nodes.get(item.node!)!.x, y });
      else {
        push({ x: colRight(item.layer), y });
        push({ x: colRight(item.layer) + STUB, y });
      }
    }
    if (ch.reversed) pts.reverse();
    return {
      from: ch.edge.from,
      to: ch.edge.to,
      state: ch.edge.state,
      points: pts,
      ...(ch.edge.state === 'provisioned' && label ? { label } : {}),
    };
  });
  const width = Math.ceil((layers ? colRight(layers - 1) : 0) + padX * maxDepth + opts.margin);
  const height = Math.ceil(packed.height + 2 * opts.margin);
  return { width, height, nodes, clusters, edges, crossings: best.crossings };
}
