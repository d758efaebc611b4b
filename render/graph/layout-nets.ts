/**
 * Edges bundled for drawing (docs/cli.md, "politburo graph"). Pure.
 *
 * Nodes that wait for exactly the same nodes (in the same state) form one bundle with them: every node of its left
 * side is waited for by every node of its right side, so the bundle can be drawn as one tree of lines (the lines of
 * its left side merge, one trunk, then it branches to its right side) without implying a dependency that does not
 * exist. 42 web nodes into `lb` is one bundle entering `lb` at one point; a database waited for by three web nodes
 * and nothing else is one bundle too, fanning out from one point.
 */
import type { GraphEdge } from './environment-graph.js';

export interface Net {
  /** Nodes at the left end of the lines (what is waited for), in first-seen order. */
  left: string[];
  /** Nodes at the right end (what waits). */
  right: string[];
  state: GraphEdge['state'];
  /** Its edges: every pair of left × right. */
  edges: GraphEdge[];
  /** One edge drawn right to left because it closes a cycle (never in a valid description): the arrow points left. */
  reversed: boolean;
}

/**
 * Bundles the edges drawable left to right (ends in different layers). `layer` gives each node's layer; `back` the
 * indexes of edges ignored when layering (a cycle).
 */
export function bundleEdges(edges: GraphEdge[], layer: Map<string, number>, back: Set<number>): Net[] {
  const nets: Net[] = [];
  // The dependencies of each node, by state, in edge order.
  const waitsFor = new Map<string, GraphEdge[]>();
  edges.forEach((e, i) => {
    const a = layer.get(e.from);
    const b = layer.get(e.to);
    if (a === undefined || b === undefined || a === b) return;
    if (back.has(i) || a > b) {
      nets.push({ left: [e.to], right: [e.from], state: e.state, edges: [e], reversed: true });
      return;
    }
    const key = `${e.state}\0${e.to}`;
    (waitsFor.get(key) ?? waitsFor.set(key, []).get(key)!).push(e);
  });
  const bySources = new Map<string, Net>();
  for (const list of waitsFor.values()) {
    const sources = list.map((e) => e.from);
    const key = `${list[0].state}\0${[...sources].sort().join('\0')}`;
    const net = bySources.get(key);
    if (net) {
      net.right.push(list[0].to);
      net.edges.push(...list);
    } else {
      const created: Net = {
        left: sources,
        right: [list[0].to],
        state: list[0].state,
        edges: [...list],
        reversed: false,
      };
      bySources.set(key, created);
      nets.push(created);
    }
  }
  return nets;
}
