/**
 * Which column of the drawing each node stands in (docs/cli.md, "politburo graph"). Pure.
 *
 * Layers first: each node one layer right of its furthest dependency (longest path), so every dependency points right.
 * A wide layer is then wrapped into several columns (`wrapLayers`): its nodes, group by group, are dealt over
 * consecutive columns, so 42 web nodes make a grid of a few columns instead of one column taller than a screen.
 */
import type { EnvironmentGraph } from './environment-graph.js';

export interface Layers {
  /** Layer of each node path. */
  layer: Map<string, number>;
  /** Indexes (into graph.edges) of edges ignored to break a cycle (never in a valid description). */
  back: Set<number>;
}

/** Longest-path layers; a cycle (never in a valid description) is broken by ignoring the edge that closes it. */
export function assignLayers(graph: EnvironmentGraph): Layers {
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

/**
 * Columns from layers, at most `perColumn` nodes of one group in a column: a layer holding more is dealt over as
 * many consecutive columns as its largest group needs. Within a group, nodes that more edges enter than leave come
 * first (their incoming lines stay short), then in description order; each group is cut into consecutive runs, one
 * per column, so a column reads top to bottom in order.
 */
export function wrapLayers(
  graph: EnvironmentGraph,
  layers: Layers,
  ownerOf: (path: string) => string | null,
  perColumn: number,
): Map<string, number> {
  const degree = new Map<string, number>(graph.nodes.map((n) => [n.path, 0]));
  graph.edges.forEach((e, i) => {
    if (layers.back.has(i)) return;
    if (degree.has(e.to)) degree.set(e.to, degree.get(e.to)! + 1);
    if (degree.has(e.from)) degree.set(e.from, degree.get(e.from)! - 1);
  });
  const byLayer = new Map<number, Map<string | null, string[]>>();
  for (const n of graph.nodes) {
    const l = layers.layer.get(n.path)!;
    const groups = byLayer.get(l) ?? byLayer.set(l, new Map()).get(l)!;
    const owner = ownerOf(n.path);
    (groups.get(owner) ?? groups.set(owner, []).get(owner)!).push(n.path);
  }
  const column = new Map<string, number>();
  let base = 0;
  for (const l of [...byLayer.keys()].sort((a, b) => a - b)) {
    const groups = [...byLayer.get(l)!.values()];
    const count = Math.max(1, ...groups.map((g) => Math.ceil(g.length / perColumn)));
    for (const g of groups) {
      const sorted = g
        .map((p, i) => ({ p, i }))
        .sort((a, b) => degree.get(b.p)! - degree.get(a.p)! || a.i - b.i)
        .map((x) => x.p);
      sorted.forEach((p, i) => column.set(p, base + Math.floor((i * count) / sorted.length)));
    }
    base += count;
  }
  return column;
}
