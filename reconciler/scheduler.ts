/**
 * The run scheduler: works through nodes as a dependency graph (not in waves). A node's configuration starts the moment
 * every dependency has reached its required state (in this run, or recorded so outside it), bounded by `concurrency`.
 * A failed node blocks its dependents, transitively; independent nodes carry on. Pure control flow: the work itself
 * (provisioning, running tasks) is injected.
 *
 * Rolling batches (docs/language.md, "Rolling batches"): the nodes of a rollout group are released a batch at a time
 * (batches from reconciler/rollout.ts); the next batch starts once every node of the current one has settled. When the
 * group's failures exceed its `maxFailures`, nothing more of the group starts: the rest are blocked with the reason.
 */
import type { DependencyState, LifecycleState, RolloutStop, RunEvent } from '../kernel/types.js';
import { rolloutBatches, rolloutStopReason, type RolloutSetting } from './rollout.js';

export interface SchedulerNode {
  path: string;
  host?: string | null;
  dependsOn: { path: string; state: DependencyState }[];
  /** True when the node needs an on-demand host first: the provisioning phase runs before its configuration. */
  provision?: boolean;
  /** The node's rollout group: it is released with its batch (provisioning included). */
  rollout?: RolloutSetting;
}

/** What a phase of a node ended in. */
export interface PhaseOutcome {
  state: LifecycleState;
  reason?: string;
}

/**
 * Final outcome of a node in the run; `state` null means it never started (interrupted) and keeps its recorded state.
 */
export interface ScheduledOutcome {
  path: string;
  state: LifecycleState | null;
  reason?: string;
  started: boolean;
  startedAt?: string;
  finishedAt?: string;
}

/** State of a node outside the run, as recorded. */
export interface OutsideNode {
  state: LifecycleState;
  hasHost: boolean;
}

export interface ScheduleOptions<N extends SchedulerNode> {
  nodes: N[];
  concurrency: number;
  /** Recorded state of nodes that are not part of this run (undefined: never recorded). */
  outside(path: string): OutsideNode | undefined;
  /** Provisioning phase of nodes with `provision`; must resolve to `provisioned` or `failed`. */
  provision?(node: N, signal: AbortSignal): Promise<PhaseOutcome>;
  /** The node's work once its dependencies allow it; resolves to its final state (`ready`, `failed`, ...). */
  runNode(node: N, signal: AbortSignal): Promise<PhaseOutcome>;
  /** Ctrl-C: start nothing new, abort running work after `graceMs` (at once when the reason has `immediate: true`). */
  signal?: AbortSignal;
  graceMs?: number;
  onEvent?(e: RunEvent): void;
  /**
   * Called once per node when it settles without running (blocked, interrupted) or after it ran; awaited before
   * returning.
   */
  onSettled?(node: N, outcome: ScheduledOutcome): Promise<void> | void;
  /** Called once per rollout group that stopped (failures over its budget), when the run is over. */
  onRolloutStopped?(stop: RolloutStop): void;
}

type Phase = 'pending' | 'provisioning' | 'waiting' | 'running' | 'done';

interface Entry<N> {
  node: N;
  phase: Phase;
  provisioned: boolean;
  outcome?: ScheduledOutcome;
  startedAt?: string;
  priority: number;
  lastWaiting?: string;
  /** Rollout group and 0-based batch, for nodes of a rollout group. */
  group?: Group<N>;
  batch?: number;
}

/** A rollout group in a run: its batches, the first batch not yet settled, and its failures. */
interface Group<N> {
  setting: RolloutSetting;
  batches: Entry<N>[][];
  /** Nodes of each batch not settled yet. */
  unsettled: number[];
  /** The first batch with unsettled nodes: it and the batches before it are released. */
  current: number;
  failures: number;
  failed: string[];
  stop?: { batch: number; reason: string };
}

const SATISFIES_PROVISIONED = new Set<LifecycleState>(['provisioned', 'configuring', 'ready', 'drifted']);

/**
 * Runs every node once, in dependency order, as parallel as allowed; resolves with one outcome per node, in input
 * order.
 */
export async function schedule<N extends SchedulerNode>(opts: ScheduleOptions<N>): Promise<ScheduledOutcome[]> {
  return new DagRun(opts).run();
}

type Need = { path: string; state: DependencyState };

/** One scheduling of a set of nodes: entries move pending → (provisioning →) waiting → running → done. */
class DagRun<N extends SchedulerNode> {
  private readonly entries = new Map<string, Entry<N>>();
  private readonly groups: Group<N>[] = [];
  /** Entries that need a node's host (`#provisioned`), by that node's path. */
  private readonly needHost = new Map<string, Entry<N>[]>();
  private readonly limit: number;
  private readonly running = new Map<string, AbortController>();
  private readonly settling: Promise<unknown>[] = [];
  private stopping: boolean;
  private wake: () => void = () => {};
  private graceTimer?: NodeJS.Timeout;
  private done = 0;

  constructor(private readonly opts: ScheduleOptions<N>) {
    const heights = heightsOf(opts.nodes);
    for (const node of opts.nodes) {
      const provisioned = !node.provision || !opts.provision;
      this.entries.set(node.path, { node, phase: 'pending', provisioned, priority: heights.get(node.path) ?? 0 });
    }
    for (const g of rolloutBatches(opts.nodes)) {
      const group: Group<N> = { setting: g, batches: [], unsettled: [], current: 0, failures: 0, failed: [] };
      group.batches = g.batches.map((paths, i) =>
        paths.map((p) => Object.assign(this.entries.get(p)!, { group, batch: i })),
      );
      group.unsettled = group.batches.map((b) => b.length);
      this.groups.push(group);
    }
    for (const e of this.entries.values())
      for (const d of e.node.dependsOn)
        if (d.state === 'provisioned' && this.entries.has(d.path))
          this.needHost.set(d.path, [...(this.needHost.get(d.path) ?? []), e]);
    this.limit = Math.max(1, Math.floor(opts.concurrency) || 1);
    this.stopping = opts.signal?.aborted ?? false;
  }

  async run(): Promise<ScheduledOutcome[]> {
    const onAbort = () => this.interrupt();
    this.opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      while (this.done < this.entries.size) {
        const woken = new Promise<void>((resolve) => (this.wake = resolve));
        // Settling a node can unblock or block others: repeat until nothing changes within this turn.
        let before: number;
        do {
          before = this.done;
          this.pump();
        } while (this.done !== before);
        if (this.done === this.entries.size) break;
        if (this.running.size === 0) this.settleDeadlock();
        else await woken;
      }
    } finally {
      clearTimeout(this.graceTimer);
      this.opts.signal?.removeEventListener('abort', onAbort);
    }
    await Promise.all(this.settling);
    this.reportStops();
    return this.opts.nodes.map((n) => this.entries.get(n.path)!.outcome!);
  }

  /**
   * Ctrl-C: start nothing new; running work gets the grace period, then its signal is aborted. A reason marked
   * `immediate` (a run that lost its lease) aborts running work at once.
   */
  private interrupt(): void {
    this.stopping = true;
    const reason: unknown = this.opts.signal?.reason;
    const immediate =
      typeof reason === 'object' && reason !== null && (reason as { immediate?: unknown }).immediate === true;
    this.graceTimer = setTimeout(
      () => this.running.forEach((c) => c.abort(reason)),
      immediate ? 0 : (this.opts.graceMs ?? 10_000),
    );
    this.wake();
  }

  /** Starts, blocks or marks waiting every entry that is not running, the longest chains first. */
  private pump(): void {
    const order = [...this.entries.values()].filter((e) => e.phase !== 'done').sort((a, b) => b.priority - a.priority);
    for (const entry of order) {
      if (entry.phase === 'provisioning' || entry.phase === 'running') continue;
      if (this.stopping) this.settleInterrupted(entry);
      else if (entry.group?.stop) this.settleRolloutStopped(entry, entry.group.stop.reason);
      else if (!entry.provisioned) {
        const may = this.released(entry) || this.hostNeeded(entry);
        if (entry.phase === 'pending' && this.running.size < this.limit && may) this.start(entry, 'provisioning');
        else if (entry.phase === 'pending' && !may) this.waitFor(entry, [this.batchWait(entry)]);
      } else this.advance(entry);
    }
  }

  /** A provisioned entry: blocked, started, or (still) waiting on dependencies or a slot. */
  private advance(entry: Entry<N>): void {
    const waits: string[] = [];
    let blocked: string | null = null;
    for (const need of entry.node.dependsOn) {
      const s = this.needStatus(need);
      if (s === 'wait') waits.push(need.state === 'ready' ? need.path : `${need.path}#${need.state}`);
      else if (s !== null) blocked ??= s;
    }
    if (blocked) {
      const finishedAt = new Date().toISOString();
      this.settle(entry, {
        path: entry.node.path,
        state: 'blocked',
        reason: blocked,
        started: entry.startedAt !== undefined,
        startedAt: entry.startedAt,
        finishedAt,
      });
      return;
    }
    if (!this.released(entry)) waits.push(this.batchWait(entry));
    if (waits.length === 0 && this.running.size < this.limit) return this.start(entry, 'running');
    this.waitFor(entry, waits.length ? waits : [`a free slot (concurrency ${this.limit})`]);
  }

  /** Emits `node-waiting` when what the entry waits for changed. */
  private waitFor(entry: Entry<N>, waitingFor: string[]): void {
    const key = waitingFor.join(',');
    if (entry.lastWaiting !== key) {
      entry.lastWaiting = key;
      this.emit({ type: 'node-waiting', path: entry.node.path, waitingFor });
    }
  }

  private start(entry: Entry<N>, phase: 'provisioning' | 'running'): void {
    const controller = new AbortController();
    const key = `${entry.node.path}\0${phase}`;
    this.running.set(key, controller);
    entry.phase = phase;
    entry.startedAt ??= new Date().toISOString();
    const { path, host } = entry.node;
    let work: Promise<PhaseOutcome>;
    if (phase === 'provisioning') {
      this.emit({ type: 'node-state', path, state: 'provisioning' });
      work = Promise.resolve().then(() => this.opts.provision!(entry.node, controller.signal));
    } else {
      this.emit({ type: 'node-started', path, host: host ?? null });
      work = Promise.resolve().then(() => this.opts.runNode(entry.node, controller.signal));
    }
    void work
      .catch((err: unknown): PhaseOutcome => ({
        state: 'failed',
        reason: err instanceof Error ? err.message : String(err),
      }))
      .then((out) => {
        this.running.delete(key);
        this.finish(entry, phase, out);
        this.wake();
      });
  }

  private finish(entry: Entry<N>, phase: 'provisioning' | 'running', out: PhaseOutcome): void {
    if (phase === 'provisioning' && out.state === 'provisioned') {
      entry.provisioned = true;
      entry.phase = 'waiting';
      this.emit({ type: 'node-state', path: entry.node.path, state: 'provisioned' });
      return;
    }
    const finishedAt = new Date().toISOString();
    this.settle(entry, {
      path: entry.node.path,
      state: out.state,
      reason: out.reason,
      started: true,
      startedAt: entry.startedAt,
      finishedAt,
    });
  }

  /** Why a need is not (yet) met: 'wait', a block reason, or null when satisfied. */
  private needStatus(need: Need): 'wait' | string | null {
    const dep = this.entries.get(need.path);
    if (!dep) {
      const rec = this.opts.outside(need.path);
      if (need.state === 'ready' && rec?.state === 'ready') return null;
      if (need.state === 'provisioned' && rec && rec.hasHost && rec.state !== 'terminated') return null;
      return `${need.path} is not ${need.state} (state: ${rec?.state ?? 'defined'})`;
    }
    // A host that exists stays provisioned whatever its configuration does.
    if (need.state === 'provisioned' && dep.provisioned) return null;
    if (dep.phase !== 'done') return 'wait';
    const st = dep.outcome!.state;
    if (need.state === 'ready' ? st === 'ready' : st !== null && SATISFIES_PROVISIONED.has(st)) return null;
    if (st === 'failed') return `depends on ${need.path}, which failed`;
    if (st === 'blocked') return `depends on ${need.path}, which is blocked (${rootCause(dep.outcome!.reason)})`;
    if (st === null) return `depends on ${need.path}, which was not started (interrupted)`;
    return `depends on ${need.path}#${need.state}, which is ${st}`;
  }

  private settleInterrupted(entry: Entry<N>): void {
    // Provisioned in this run but never configured: it stays provisioned.
    const state = entry.startedAt ? 'provisioned' : null;
    const reason = 'Interrupted: the run was stopped before this node was configured';
    this.settle(entry, { path: entry.node.path, state, reason, started: false, startedAt: entry.startedAt });
  }

  /** Nothing runs and nothing can start: only a cycle (rejected by validation) gets here; never hang on one. */
  private settleDeadlock(): void {
    for (const e of this.entries.values()) {
      if (e.phase !== 'done')
        this.settle(e, {
          path: e.node.path,
          state: 'blocked',
          reason: 'dependency cycle: its dependencies can never be ready',
          started: false,
        });
    }
  }

  /** True unless the entry's rollout batch is still to come (an earlier batch of its group has not settled). */
  private released(entry: Entry<N>): boolean {
    return !entry.group || entry.batch! <= entry.group.current;
  }

  /**
   * A node of a later batch is provisioned ahead of it when a released node needs its host (`#provisioned`, as for
   * `address()`): otherwise a `#provisioned` cycle split across batches would wait for itself.
   */
  private hostNeeded(entry: Entry<N>): boolean {
    return (this.needHost.get(entry.node.path) ?? []).some((e) => e.phase !== 'done' && this.released(e));
  }

  private batchWait(entry: Entry<N>): string {
    const g = entry.group!;
    return `rollout of ${g.setting.group}: batch ${g.current + 1} of ${g.batches.length} to finish`;
  }

  private settleRolloutStopped(entry: Entry<N>, reason: string): void {
    this.settle(entry, {
      path: entry.node.path,
      state: 'blocked',
      reason,
      started: entry.startedAt !== undefined,
      startedAt: entry.startedAt,
      finishedAt: new Date().toISOString(),
    });
  }

  /** Counts a failure against the entry's rollout group; one over the budget stops the group. */
  private countFailure(entry: Entry<N>): void {
    const g = entry.group;
    if (!g) return;
    g.failures++;
    g.failed.push(entry.node.path);
    if (g.stop || g.failures <= g.setting.maxFailures) return;
    // A host provisioned ahead of its batch (hostNeeded) that failed stops the batch being worked on.
    const batch = Math.min(entry.batch!, g.current) + 1;
    const reason = rolloutStopReason({
      group: g.setting.group,
      batch,
      batches: g.batches.length,
      failures: g.failures,
      maxFailures: g.setting.maxFailures,
    });
    g.stop = { batch, reason };
  }

  private reportStops(): void {
    for (const g of this.groups) {
      if (!g.stop) continue;
      const blocked = g.batches
        .flat()
        .filter((e) => e.outcome?.state === 'blocked' && e.outcome.reason === g.stop!.reason)
        .map((e) => e.node.path);
      this.opts.onRolloutStopped?.({
        group: g.setting.group,
        batch: g.stop.batch,
        batches: g.batches.length,
        failures: g.failures,
        maxFailures: g.setting.maxFailures,
        failed: g.failed,
        blocked,
        reason: g.stop.reason,
      });
    }
  }

  private settle(entry: Entry<N>, outcome: ScheduledOutcome): void {
    entry.phase = 'done';
    entry.outcome = outcome;
    this.done++;
    if (outcome.state === 'failed') this.countFailure(entry);
    const g = entry.group;
    if (g && --g.unsettled[entry.batch!] === 0)
      while (g.current < g.batches.length && g.unsettled[g.current] === 0) g.current++;
    if (outcome.state !== null)
      this.emit({ type: 'node-finished', path: outcome.path, state: outcome.state, reason: outcome.reason });
    const hook = this.opts.onSettled;
    if (hook)
      this.settling.push(
        Promise.resolve()
          .then(() => hook(entry.node, outcome))
          .catch(() => undefined),
      );
  }

  private emit(e: RunEvent): void {
    this.opts.onEvent?.(e);
  }
}

/** The failed node at the root of a blocked chain, for reasons that name it. */
function rootCause(reason: string | undefined): string {
  const direct = /^depends on (\S+), which failed$/.exec(reason ?? '');
  if (direct) return `${direct[1]} failed`;
  const chained = /\(([^()]+ failed)\)$/.exec(reason ?? '');
  return chained ? chained[1] : (reason ?? 'unknown reason');
}

/** Longest chain of dependents below each node: nodes on the critical path start first when slots are scarce. */
function heightsOf(nodes: SchedulerNode[]): Map<string, number> {
  const dependents = new Map<string, string[]>();
  const inRun = new Set(nodes.map((n) => n.path));
  for (const n of nodes) {
    for (const d of n.dependsOn)
      if (inRun.has(d.path)) dependents.set(d.path, [...(dependents.get(d.path) ?? []), n.path]);
  }
  const memo = new Map<string, number>();
  const visiting = new Set<string>();
  const height = (p: string): number => {
    const hit = memo.get(p);
    if (hit !== undefined) return hit;
    if (visiting.has(p)) return 0; // provisioned-only cycles are legal; they don't lengthen the chain
    visiting.add(p);
    const h = 1 + Math.max(0, ...(dependents.get(p) ?? []).map(height));
    visiting.delete(p);
    memo.set(p, h);
    return h;
  };
  return new Map(nodes.map((n) => [n.path, height(n.path)]));
}
