/**
 * Rolling batches (docs/language.md, "Rolling batches"), the pure part: the batches of each rollout group among the
 * nodes of a run, and the wording of where a rollout stopped. The scheduler (reconciler/scheduler.ts) releases the
 * batches; plans (cli/render/plan-text.ts, controller/github/render-plan-*.ts) show them.
 *
 * Batches follow one dependency order of all the run's nodes (dependencies first, otherwise tree order), cut into
 * runs of `batch` nodes per group. Every wait of the scheduler (a dependency, or an earlier batch of the node's group)
 * then points to a node earlier in that order, so batches never deadlock, across groups included.
 */
import { selectNodes } from './run-selection.js';
import type { Plan, ResolvedNode } from '../kernel/types.js';

/** What the scheduler needs to know of a node's rollout. */
export interface RolloutSetting {
  group: string;
  batch: number;
  maxFailures: number;
}

export interface RolloutMember {
  path: string;
  dependsOn: { path: string }[];
  rollout?: RolloutSetting;
}

/** One group's batches in a run: node paths, in release order. */
export interface RolloutBatches extends RolloutSetting {
  batches: string[][];
}

/** The batches of every rollout group among `nodes`, groups in order of their first node. */
export function rolloutBatches(nodes: RolloutMember[]): RolloutBatches[] {
  if (!nodes.some((n) => n.rollout)) return [];
  const groups = new Map<string, RolloutBatches>();
  for (const n of dependencyOrder(nodes)) {
    if (!n.rollout) continue;
    let g = groups.get(n.rollout.group);
    if (!g) groups.set(n.rollout.group, (g = { ...n.rollout, batches: [] }));
    const last = g.batches[g.batches.length - 1];
    if (last && last.length < g.batch) last.push(n.path);
    else g.batches.push([n.path]);
  }
  const firstSeen = new Map<string, number>();
  nodes.forEach((n, i) => n.rollout && !firstSeen.has(n.rollout.group) && firstSeen.set(n.rollout.group, i));
  return [...groups.values()].sort((a, b) => firstSeen.get(a.group)! - firstSeen.get(b.group)!);
}

/**
 * Dependencies (within `nodes`) before dependents; among the nodes free to go, the earliest in input (tree) order
 * first. Nodes left on a cycle (only `#provisioned` cycles are legal) follow in input order.
 */
function dependencyOrder<N extends RolloutMember>(nodes: N[]): N[] {
  const index = new Map(nodes.map((n, i) => [n.path, i]));
  const waiting = nodes.map(() => 0);
  const dependents: number[][] = nodes.map(() => []);
  nodes.forEach((n, i) => {
    for (const d of new Set(n.dependsOn.map((x) => x.path))) {
      const j = index.get(d);
      if (j === undefined || j === i) continue;
      waiting[i]++;
      dependents[j].push(i);
    }
  });
  const heap = new MinHeap();
  waiting.forEach((w, i) => w === 0 && heap.push(i));
  const out: N[] = [];
  const placed = nodes.map(() => false);
  for (let i = heap.pop(); i !== undefined; i = heap.pop()) {
    placed[i] = true;
    out.push(nodes[i]);
    for (const j of dependents[i]) if (--waiting[j] === 0) heap.push(j);
  }
  nodes.forEach((n, i) => placed[i] || out.push(n));
  return out;
}

/** A binary min-heap of indices. */
class MinHeap {
  private readonly a: number[] = [];
  push(v: number): void {
    const a = this.a;
    a.push(v);
    for (let i = a.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (a[p] <= a[i]) break;
      [a[p], a[i]] = [a[i], a[p]];
      i = p;
    }
  }
  pop(): number | undefined {
    const a = this.a;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l] < a[m]) m = l;
        if (r < a.length && a[r] < a[m]) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }
}

/** The rollout groups of what an apply of the whole environment would configure, with their batches. */
export function planRollouts(plan: Plan): RolloutBatches[] {
  const configure = selectNodes(plan, {}).configure;
  return rolloutBatches(
    configure.map((p) => {
      const node = p.node as ResolvedNode;
      return { path: p.path, dependsOn: node.dependsOn, rollout: node.rollout };
    }),
  );
}

/** `web: rollout in 3 batches of 2 (max_failures 0): web-1 web-2 | web-3 web-4 | web-5`. */
export function describeRolloutBatches(g: RolloutBatches): string {
  const n = g.batches.length;
  return `${g.group}: rollout in ${n} batch${n === 1 ? '' : 'es'} of ${g.batch} (max_failures ${g.maxFailures}): ${g.batches.map((b) => b.join(' ')).join(' | ')}`;
}

/** `rollout of web stopped after batch 2 of 3: 1 failure exceeds max_failures 0`. */
export function rolloutStopReason(s: {
  group: string;
  batch: number;
  batches: number;
  failures: number;
  maxFailures: number;
}): string {
  const failures = `${s.failures} failure${s.failures === 1 ? '' : 's'} exceed${s.failures === 1 ? 's' : ''}`;
  return `rollout of ${s.group} stopped after batch ${s.batch} of ${s.batches}: ${failures} max_failures ${s.maxFailures}`;
}
