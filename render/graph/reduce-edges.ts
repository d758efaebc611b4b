/** Transitive reduction of dependency edges, for readable drawings. */
import type { DependencyState } from '../../kernel/types.js';

/** What the reduction needs of an edge: its ends and the state waited for. */
interface Edge {
  from: string;
  to: string;
  state: DependencyState;
}

/** Above this many edges the reduction is skipped (it is quadratic); the drawing then shows every edge. */
const MAX_EDGES = 5_000;

/**
 * Drops a `ready` edge a → c when c also reaches back to a through other `ready` edges (a → b → c): c waiting for b
 * ready already means a is ready. `provisioned` edges are always kept: they promise less and never imply another.
 */
export function reduceTransitiveEdges<E extends Edge>(edges: E[]): E[] {
  if (edges.length > MAX_EDGES) return edges;
  const out = new Map<string, string[]>();
  for (const e of edges) {
    if (e.state !== 'ready') continue;
    const list = out.get(e.from);
    if (list) list.push(e.to);
    else out.set(e.from, [e.to]);
  }
  return edges.filter((e) => e.state !== 'ready' || !reachableAvoiding(out, e.from, e.to));
}

/** Whether `to` is reachable from `from` without taking the direct edge from → to. */
function reachableAvoiding(out: Map<string, string[]>, from: string, to: string): boolean {
  const seen = new Set<string>([from]);
  const stack = (out.get(from) ?? []).filter((n) => n !== to);
  while (stack.length) {
    const n = stack.pop()!;
    if (n === to) return true;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const m of out.get(n) ?? []) if (!seen.has(m)) stack.push(m);
  }
  return false;
}
