/**
 * Dependencies between nodes: explicit `depends_on`, `depends_on` inherited from enclosing groups, and implicit ones
 * from `address()` / `addresses()`; group and multi-instance paths expand to every node under them. Also finds
 * cycles in the expanded node graph.
 */
import type { Dependency, DependencyState, ResolvedNode, SourcePos, ValidationError } from '../kernel/types.js';
import { didYouMean } from '../kernel/did-you-mean.js';
import type { Instance, PathIndex } from './expand-instances.js';
import { posOf } from './yaml-file.js';
import type { DefNode } from './resource-tree.js';

interface DeclaredDep {
  path: string;
  state: DependencyState;
  source: SourcePos;
}

const RANK = { explicit: 0, inherited: 1, implicit: 2 } as const;

/** Collects dependencies per environment; declarations are parsed and checked once per definition. */
export class DependencyResolver {
  private readonly declared = new Map<DefNode, DeclaredDep[]>();
  /** Declarations already reported as a group waiting for itself (one error per declaration, not per node). */
  private readonly selfReported = new Set<DeclaredDep>();
  private readonly matched = new Map<DeclaredDep, Set<Instance>>();

  constructor(
    private readonly index: PathIndex,
    private readonly envName: string,
    private readonly errors: ValidationError[],
  ) {}

  /** Dependencies of one node; one per target node, the strongest state and most direct kind winning. */
  of(node: Instance, implicit: { path: string; source: SourcePos }[]): Dependency[] {
    const byTarget = new Map<string, Dependency>();
    const add = (target: Instance, state: DependencyState, kind: Dependency['kind'], source: SourcePos) => {
      if (target === node && kind !== 'explicit') return;
      const prev = byTarget.get(target.path);
      if (prev) {
        const stronger = prev.state === 'provisioned' && state === 'ready';
        const moreDirect = prev.state === state && RANK[kind] < RANK[prev.kind];
        if (!stronger && !moreDirect) return;
      }
      byTarget.set(target.path, { path: target.path, state, kind, source });
    };
    for (const d of this.declaredOf(node.def))
      for (const t of this.index.nodesUnder(d.path)) add(t, d.state, 'explicit', d.source);
    for (let g = node.parent; g; g = g.parent) {
      for (const d of this.declaredOf(g.def)) {
        if (this.reaches(d, node)) this.reportSelf(d, g);
        else for (const t of this.index.nodesUnder(d.path)) add(t, d.state, 'inherited', d.source);
      }
    }
    for (const d of implicit)
      for (const t of this.index.nodesUnder(d.path)) add(t, 'provisioned', 'implicit', d.source);
    return [...byTarget.values()];
  }

  /** True when the declaration names `node` or a group holding it. */
  private reaches(d: DeclaredDep, node: Instance): boolean {
    let targets = this.matched.get(d);
    if (!targets) this.matched.set(d, (targets = new Set(this.index.match(d.path))));
    for (let i: Instance | null = node; i; i = i.parent) if (targets.has(i)) return true;
    return false;
  }

  /** A group's dependency reaching one of its own nodes would make that node wait for itself: an error, not a no-op. */
  private reportSelf(d: DeclaredDep, group: Instance): void {
    if (this.selfReported.has(d)) return;
    this.selfReported.add(d);
    const what =
      d.path === group.path || d.path === group.def.path ? 'the group itself' : `inside the group '${group.path}'`;
    this.errors.push({
      ...d.source,
      message: `depends_on: '${d.path}' is ${what}, so its resources would wait for themselves (in environment '${this.envName}'): depend on resources outside the group, or move the dependency to the resources that need it`,
    });
  }

  private declaredOf(def: DefNode): DeclaredDep[] {
    let hit = this.declared.get(def);
    if (hit) return hit;
    hit = [];
    (def.dependsOn?.value ?? []).forEach((entry, i) => {
      const source = posOf(def.dependsOn!.loc, i);
      const m = /^([^#\s]+?)(?:#(provisioned|ready))?$/.exec(entry);
      if (!m) {
        this.errors.push({
          ...source,
          message: `depends_on: '${entry}' is not 'PATH' or 'PATH#STATE' with STATE provisioned or ready`,
        });
        return;
      }
      const [, path, state = 'ready'] = m;
      if (this.index.match(path).length === 0) {
        if (this.index.isDeclaredEmpty(path)) return; // `count: 0`: nothing to wait for
        if (this.index.isUnresolved(path)) return; // its count or for_each is in error, reported already
        this.errors.push({
          ...source,
          message: `depends_on: no resource '${path}' in environment '${this.envName}'${didYouMean(path, this.index.allPaths())}`,
        });
        return;
      }
      hit!.push({ path, state: state as DependencyState, source });
    });
    this.declared.set(def, hit);
    return hit;
  }
}

/**
 * Cycles of `ready` dependencies (a `provisioned` dependency never waits for configuration, so it cannot close a
 * cycle). One cycle per strongly connected component, as node paths `a -> b -> a`, with the first edge's position.
 */
export function findCycles(nodes: ResolvedNode[]): { cycle: string[]; source: SourcePos }[] {
  const id = new Map(nodes.map((n, i) => [n.path, i]));
  const edges = nodes.map((n) =>
    n.dependsOn.filter((d) => d.state === 'ready' && id.has(d.path)).map((d) => id.get(d.path)!),
  );
  const comps = stronglyConnected(edges);
  const out: { cycle: string[]; source: SourcePos }[] = [];
  for (const comp of comps) {
    const set = new Set(comp);
    if (comp.length === 1 && !edges[comp[0]].includes(comp[0])) continue;
    const start = Math.min(...comp);
    const cycle = pathBack(start, edges, set);
    const firstDep = nodes[start].dependsOn.find((d) => d.state === 'ready' && d.path === nodes[cycle[1]].path)!;
    out.push({ cycle: cycle.map((i) => nodes[i].path), source: firstDep.source });
  }
  return out;
}

/** The shortest way from `start` back to itself inside its component (breadth-first). */
function pathBack(start: number, edges: number[][], comp: Set<number>): number[] {
  const prev = new Map<number, number>();
  const queue = [start];
  for (let q = 0; q < queue.length; q++) {
    const v = queue[q];
    for (const w of edges[v]) {
      if (!comp.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let x = v; x !== start; x = prev.get(x)!) path.unshift(x);
        path.unshift(start);
        return path;
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

/** Tarjan's algorithm, iterative (graphs of tens of thousands of nodes must not exhaust the stack). */
function stronglyConnected(edges: number[][]): number[][] {
  const n = edges.length;
  const index = new Array<number>(n).fill(-1);
  const low = new Array<number>(n).fill(0);
  const onStack = new Array<boolean>(n).fill(false);
  const stack: number[] = [];
  const comps: number[][] = [];
  let counter = 0;
  for (let root = 0; root < n; root++) {
    if (index[root] !== -1) continue;
    const work: [number, number][] = [[root, 0]];
    while (work.length) {
      const frame = work[work.length - 1];
      const [v, i] = frame;
      if (i === 0 && index[v] === -1) {
        index[v] = low[v] = counter++;
        stack.push(v);
        onStack[v] = true;
      }
      if (i < edges[v].length) {
        frame[1]++;
        const w = edges[v][i];
        if (index[w] === -1) work.push([w, 0]);
        else if (onStack[w]) low[v] = Math.min(low[v], index[w]);
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1][0];
        low[parent] = Math.min(low[parent], low[v]);
      }
      if (low[v] === index[v]) {
        const comp: number[] = [];
        let w: number;
        do {
          w = stack.pop()!;
          onStack[w] = false;
          comp.push(w);
        } while (w !== v);
        comps.push(comp);
      }
    }
  }
  return comps;
}
