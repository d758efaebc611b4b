/**
 * Checked in parallel (docs/architecture.md, "apply --all: checked in parallel"), the bookkeeping of one scheduling.
 *
 * A node of `apply --all` that is recorded `ready` at the very spec it is applied at has a run that only checks, as
 * long as its host is still as described: Babushka evaluates its `met?` blocks and meets nothing, a shell task's `met`
 * exits 0. Such a node (a *candidate*, marked `checkFirst` by the caller) is first checked read only, at once with
 * every other candidate and without waiting for its dependencies: Babushka's `--dry-run`, a shell task's `met` alone.
 *
 * The rule, which is all this module decides:
 * - A node **counts as met** when its own check said met and every node it needs `#ready` in the run counted as met
 *   first (so, transitively, everything below it). It is then recorded ready without running in order.
 * - Any other node **runs in dependency order**, exactly as without checks: a candidate whose check found it unmet or
 *   failed, a candidate a `#ready` dependency of which did not count as met (its own check result is discarded, even
 *   when it said met: the dependency is met first and may change what the check saw), a candidate that settled
 *   otherwise (blocked by a rollout stop, interrupted), and every non-candidate.
 * - A node is a candidate only when each node it needs `#ready` in the run is one too, each node it needs
 *   `#provisioned` already has its host (none is provisioned in this run: a new host changes `${address()}`), and none of
 *   its dependencies outside the run blocks it. A node whose dependency runs in order would have its check discarded
 *   anyway, so it is never checked.
 *
 * Nothing here changes a host: a check is read only, and a node that must change is met by its ordinary run, after its
 * dependencies. The scheduler (scheduler.ts) runs the checks, bounded by the run's concurrency, and asks this module
 * what a check's result means.
 */
import type { DependencyState } from '../kernel/types.js';

/**
 * Where a node stands: `off` (runs in dependency order), `todo` (a candidate not checked yet), `checking`, `met` (its
 * check said met; waits for its `#ready` dependencies to count), `counted` (counts as met).
 */
export type CheckState = 'off' | 'todo' | 'checking' | 'met' | 'counted';

export interface CheckCandidate {
  path: string;
  dependsOn: { path: string; state: DependencyState }[];
  checkFirst?: boolean;
}

export interface CheckFirstSituation {
  /** True when a dependency outside the run already blocks the node. */
  blocked(path: string): boolean;
  /** True when the node has its host before the run (nothing to provision). */
  provisioned(path: string): boolean;
}

/** The check-first state of every node of one scheduling. */
export class CheckFirst {
  private readonly states = new Map<string, CheckState>();
  /** Per candidate: the paths of its `#ready` dependencies in the run that have not counted as met yet. */
  private readonly uncounted = new Map<string, Set<string>>();
  /** Per node: the candidates that need it `#ready`. */
  private readonly dependents = new Map<string, string[]>();
  /** Why a candidate runs in dependency order after all. */
  private readonly reasons = new Map<string, string>();

  constructor(nodes: CheckCandidate[], situation: CheckFirstSituation) {
    const byPath = new Map(nodes.map((n) => [n.path, n]));
    const memo = new Map<string, boolean>();
    // One pass over each node's dependencies: whether it is a candidate, and the `#ready` ones in the run.
    const candidate = (n: CheckCandidate): boolean => {
      const known = memo.get(n.path);
      if (known !== undefined) return known;
      memo.set(n.path, false); // a `#ready` cycle (refused by validation) is never a candidate
      let ok = !!n.checkFirst && situation.provisioned(n.path) && !situation.blocked(n.path);
      const waits = new Set<string>();
      for (const d of n.dependsOn) {
        if (!ok) break;
        const dep = byPath.get(d.path);
        if (!dep) continue;
        ok = d.state === 'ready' ? candidate(dep) : situation.provisioned(dep.path);
        if (d.state === 'ready') waits.add(d.path);
      }
      memo.set(n.path, ok);
      if (ok) {
        this.states.set(n.path, 'todo');
        this.uncounted.set(n.path, waits);
        for (const d of waits) {
          const list = this.dependents.get(d);
          if (list) list.push(n.path);
          else this.dependents.set(d, [n.path]);
        }
      }
      return ok;
    };
    for (const n of nodes) candidate(n);
  }

  /** True when any node is a candidate. */
  get any(): boolean {
    return this.states.size > 0;
  }

  state(path: string): CheckState {
    return this.states.get(path) ?? 'off';
  }

  /** A candidate's check started. */
  start(path: string): void {
    if (this.state(path) === 'todo') this.states.set(path, 'checking');
  }

  /**
   * A check ended: met, or not (with why). Returns the nodes whose state changed, to be looked at again. The result of a
   * candidate no longer checking (it was sent back to dependency order meanwhile) is ignored.
   */
  checked(path: string, met: boolean, reason?: string): string[] {
    if (this.state(path) !== 'checking') return [];
    if (met) {
      this.states.set(path, 'met');
      return [path];
    }
    return this.demote(path, reason ?? 'its check did not find it met');
  }

  /** True when the candidate's check said met and each of its `#ready` dependencies counted as met. */
  countable(path: string): boolean {
    return this.state(path) === 'met' && this.uncounted.get(path)!.size === 0;
  }

  /** The `#ready` dependencies a candidate checked met still waits for. */
  waitingOn(path: string): string[] {
    return [...(this.uncounted.get(path) ?? [])];
  }

  /** The candidate counts as met; returns its dependents checked met that may count now. */
  count(path: string): string[] {
    if (!this.countable(path)) throw new Error(`check-first: ${path} cannot count as met (${this.state(path)})`);
    this.states.set(path, 'counted');
    const next: string[] = [];
    for (const d of this.dependents.get(path) ?? []) {
      this.uncounted.get(d)!.delete(path);
      if (this.countable(d)) next.push(d);
    }
    return next;
  }

  /**
   * A node settled (ran, was blocked, was interrupted): unless it counted as met, the candidates needing it go back to
   * dependency order. Returns them.
   */
  settled(path: string, why: string): string[] {
    if (this.state(path) === 'counted') return [];
    return this.demote(path, why).filter((p) => p !== path);
  }

  /** Why a node that was a candidate runs in dependency order (undefined for one that never was). */
  reason(path: string): string | undefined {
    return this.reasons.get(path);
  }

  /**
   * Sends a candidate and every candidate that needs it `#ready` (transitively) back to dependency order; returns them.
   */
  private demote(path: string, reason: string): string[] {
    const out: string[] = [];
    const visit = (p: string, why: string) => {
      const s = this.state(p);
      if (s === 'off' || s === 'counted') return;
      this.states.set(p, 'off');
      this.reasons.set(p, why);
      out.push(p);
      for (const d of this.dependents.get(p) ?? []) visit(d, `depends on ${p}, which did not count as met`);
    };
    visit(path, reason);
    return out;
  }
}
