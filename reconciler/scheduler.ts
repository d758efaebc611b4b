/**
 * The run scheduler: works through nodes as a dependency graph (not in waves). A node's configuration starts the moment
 * every dependency has reached its required state (in this run, or recorded so outside it), bounded by `concurrency`.
 * A failed node blocks its dependents, transitively; independent nodes carry on. Pure control flow: the work itself
 * (provisioning, running tasks) is injected.
 *
 * Rolling batches (docs/language.md, "Rolling batches"): the nodes of a rollout group are released a batch at a time
 * (batches from reconciler/rollout.ts); the next batch starts once every node of the current one has settled. When the
 * group's failures exceed its `maxFailures`, nothing more of the group starts: the rest are blocked with the reason.
 *
 * Checked in parallel (check-first.ts; docs/architecture.md): with `check` and `counted` given, nodes marked
 * `checkFirst` are checked read only at once, each as soon as a slot is free, without waiting for their dependencies.
 * One whose check said met, and each of whose `#ready` dependencies counted as met, counts as met: `counted` records it
 * and it settles with that outcome, without running; its dependents checked met may count at once, in the same turn.
 * Every other node runs as without checks, in dependency order. A rollout group's node counts as met only once its
 * batch is released, and checks never count as failures. Checks hold a slot while they run; being read only, they are
 * stopped at once on Ctrl-C rather than after the grace period.
 */
import type { DependencyState, LifecycleState, RolloutStop, RunEvent } from '../kernel/types.js';
import { CheckFirst } from './check-first.js';
import { rolloutBatches, rolloutStopReason, type RolloutSetting } from './rollout.js';

export interface SchedulerNode {
  path: string;
  host?: string | null;
  dependsOn: { path: string; state: DependencyState }[];
  /** True when the node needs an on-demand host first: the provisioning phase runs before its configuration. */
  provision?: boolean;
  /** The node's rollout group: it is released with its batch (provisioning included). */
  rollout?: RolloutSetting;
  /** A candidate to be checked read only before its dependencies settle (check-first.ts says which really are). */
  checkFirst?: boolean;
}

/** What a read-only check found: met (running the node now would change nothing), or not and why. */
export interface CheckOutcome {
  met: boolean;
  reason?: string;
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
  /**
   * The node's work once its dependencies allow it; resolves to its final state (`ready`, `failed`, ...). `checked`
   * says why a node checked first runs in dependency order after all.
   */
  runNode(node: N, signal: AbortSignal, checked?: { reason: string }): Promise<PhaseOutcome>;
  /** The read-only check of a `checkFirst` node; must never change the host. */
  check?(node: N, signal: AbortSignal): Promise<CheckOutcome>;
  /** Records a node that counts as met (after its check); resolves to its final state (`ready`). */
  counted?(node: N): Promise<PhaseOutcome>;
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

type Phase = 'pending' | 'provisioning' | 'waiting' | 'running' | 'checking' | 'counting' | 'done';

/** What one need of an entry is, as far as the run knows: still to come, met, or failed for good. */
const WAIT = 0;
const MET = 1;
const BLOCKS = 2;

interface Entry<N> {
  node: N;
  /** Position in the input: ties between equal priorities go to the earlier node. */
  index: number;
  phase: Phase;
  provisioned: boolean;
  outcome?: ScheduledOutcome;
  startedAt?: string;
  /** When its check started (never `startedAt`, which says a node was provisioned or configured in this run). */
  checkedAt?: string;
  priority: number;
  lastWaiting?: string;
  /** Rollout group and 0-based batch, for nodes of a rollout group. */
  group?: Group<N>;
  batch?: number;
  /** Per need (index into `node.dependsOn`): WAIT, MET or BLOCKS. */
  needs: Uint8Array;
  /** Needs that BLOCK the entry. */
  blocking: number;
  /** The needs still WAIT: what the entry waits for, by need index, in `dependsOn` order (for `node-waiting`). */
  waitLabels: Map<number, string>;
  /** In the ready queue (may start once a slot is free) / in the queue of entries to look at again. */
  queued: boolean;
  dirty: boolean;
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

/**
 * One scheduling of a set of nodes: entries move pending → (provisioning →) waiting → running → done.
 *
 * Work is proportional to the graph, not to nodes × settles: each entry keeps a count of the needs it still waits for
 * (and of those that block it), updated only when the node it needs settles or gets its host; an entry is looked at
 * again only then (or when its rollout batch is released, or the run stops), and entries that may start wait in a
 * priority queue (longest chain first, then input order) for a free slot.
 */
class DagRun<N extends SchedulerNode> {
  private readonly entries = new Map<string, Entry<N>>();
  private readonly groups: Group<N>[] = [];
  /** Entries that need a node's host (`#provisioned`), by that node's path. */
  private readonly needHost = new Map<string, Entry<N>[]>();
  /** Per node path: the entries needing it, with the index of that need. */
  private readonly dependents = new Map<string, { entry: Entry<N>; need: number }[]>();
  private readonly limit: number;
  private readonly running = new Map<string, AbortController>();
  /** Nodes counted as met whose record is being written (they hold no slot). */
  private counting = 0;
  private readonly checks: CheckFirst | null;
  private readonly settling: Promise<unknown>[] = [];
  /** Entries to look at again (something they depend on changed). */
  private dirty: Entry<N>[] = [];
  /** Entries that may start, waiting for a slot: a binary heap, highest priority first. */
  private readonly ready: Entry<N>[] = [];
  /** Entries queued since slots were last handed out: told they wait for a slot if they did not get one. */
  private queuedNow: Entry<N>[] = [];
  private stopping: boolean;
  private wake: () => void = () => {};
  private graceTimer?: NodeJS.Timeout;
  private done = 0;

  constructor(private readonly opts: ScheduleOptions<N>) {
    const heights = heightsOf(opts.nodes);
    opts.nodes.forEach((node, index) => {
      const provisioned = !node.provision || !opts.provision;
      this.entries.set(node.path, {
        node,
        index,
        phase: 'pending',
        provisioned,
        priority: heights.get(node.path) ?? 0,
        needs: new Uint8Array(node.dependsOn.length),
        blocking: 0,
        waitLabels: new Map(),
        queued: false,
        dirty: false,
      });
    });
    for (const g of rolloutBatches(opts.nodes)) {
      const group: Group<N> = { setting: g, batches: [], unsettled: [], current: 0, failures: 0, failed: [] };
      group.batches = g.batches.map((paths, i) =>
        paths.map((p) => Object.assign(this.entries.get(p)!, { group, batch: i })),
      );
      group.unsettled = group.batches.map((b) => b.length);
      this.groups.push(group);
    }
    for (const e of this.entries.values()) {
      e.node.dependsOn.forEach((d, i) => {
        if (this.entries.has(d.path)) {
          this.dependents.set(d.path, [...(this.dependents.get(d.path) ?? []), { entry: e, need: i }]);
          if (d.state === 'provisioned') this.needHost.set(d.path, [...(this.needHost.get(d.path) ?? []), e]);
        }
        // Outside the run, a need is decided once: the recorded state does not change during the run.
        this.setNeed(e, i, this.needStatus(d));
      });
    }
    this.limit = Math.max(1, Math.floor(opts.concurrency) || 1);
    this.stopping = opts.signal?.aborted ?? false;
    const checks =
      opts.check && opts.counted
        ? new CheckFirst(opts.nodes, {
            blocked: (p) => this.entries.get(p)!.blocking > 0,
            provisioned: (p) => this.entries.get(p)!.provisioned,
          })
        : null;
    this.checks = checks?.any ? checks : null;
  }

  async run(): Promise<ScheduledOutcome[]> {
    const onAbort = () => this.interrupt();
    this.opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // First look: every entry, the longest chains first.
      [...this.entries.values()].sort(byPriority).forEach((e) => this.markDirty(e));
      while (this.done < this.entries.size) {
        const woken = new Promise<void>((resolve) => (this.wake = resolve));
        this.pump();
        if (this.done === this.entries.size) break;
        if (this.running.size === 0 && this.counting === 0) {
          this.settleDeadlock();
          this.pump();
        } else await woken;
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
    // A check changes nothing: no grace needed.
    for (const [key, c] of this.running) if (key.endsWith('\0checking')) c.abort(reason);
    for (const e of this.entries.values()) this.markDirty(e);
    this.wake();
  }

  private markDirty(entry: Entry<N>): void {
    if (entry.dirty || entry.phase === 'done') return;
    entry.dirty = true;
    this.dirty.push(entry);
  }

  /**
   * Looks at every entry whose situation changed (settling one can block or release others: until none is left), then
   * hands the free slots to the waiting entries, highest priority first.
   */
  private pump(): void {
    while (this.dirty.length) {
      const batch = this.dirty;
      this.dirty = [];
      for (const entry of batch) {
        entry.dirty = false;
        this.look(entry);
      }
    }
    while (this.running.size < this.limit && this.ready.length) {
      const entry = this.popReady();
      if (this.busy(entry)) continue;
      if (this.checks?.state(entry.node.path) === 'todo') this.start(entry, 'checking');
      else if (entry.provisioned) {
        // Queued for its check and sent back to dependency order meanwhile: it starts when its needs allow.
        if (entry.blocking === 0 && entry.waitLabels.size === 0 && this.released(entry)) this.start(entry, 'running');
      } else if (this.released(entry) || this.hostNeeded(entry)) this.start(entry, 'provisioning');
      else this.waitFor(entry, [this.batchWait(entry)]);
    }
    for (const e of this.queuedNow)
      if (e.queued && e.provisioned) this.waitFor(e, [`a free slot (concurrency ${this.limit})`]);
    this.queuedNow = [];
  }

  /** True while the entry is settled, or something of it is under way. */
  private busy(entry: Entry<N>): boolean {
    return entry.phase !== 'pending' && entry.phase !== 'waiting';
  }

  /** Settles, queues (may start) or marks waiting one entry that is not running. */
  private look(entry: Entry<N>): void {
    if (this.busy(entry)) return;
    if (this.stopping) return this.settleInterrupted(entry);
    if (entry.group?.stop) return this.settleRolloutStopped(entry, entry.group.stop.reason);
    const check = this.checks?.state(entry.node.path);
    if (check === 'todo') return this.queueReady(entry); // a check waits for nothing but a slot
    if (check === 'met') return this.lookChecked(entry);
    if (!entry.provisioned) {
      if (this.released(entry) || this.hostNeeded(entry)) this.queueReady(entry);
      else this.waitFor(entry, [this.batchWait(entry)]);
      return;
    }
    this.advance(entry);
  }

  /** A provisioned entry: blocked, queued to start, or (still) waiting on dependencies or its batch. */
  private advance(entry: Entry<N>): void {
    if (entry.blocking > 0) {
      // The first blocking need in `dependsOn` order names the reason.
      let blocked = 'blocked';
      for (let i = 0; i < entry.needs.length; i++) {
        if (entry.needs[i] !== BLOCKS) continue;
        blocked = this.needStatus(entry.node.dependsOn[i]) ?? blocked;
        break;
      }
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
    const waits = [...entry.waitLabels.values()];
    if (!this.released(entry)) waits.push(this.batchWait(entry));
    if (waits.length === 0) this.queueReady(entry);
    else this.waitFor(entry, waits);
  }

  /** A node checked met: counts as met once its `#ready` dependencies have and its rollout batch is released. */
  private lookChecked(entry: Entry<N>): void {
    const waits = this.checks!.waitingOn(entry.node.path);
    if (!this.released(entry)) waits.push(this.batchWait(entry));
    if (waits.length) return this.waitFor(entry, waits);
    entry.phase = 'counting';
    this.counting++;
    // Its dependents checked met may count now too: looked at in this same pump, so a whole graph found met counts at
    // once, and their records are written together.
    for (const p of this.checks!.count(entry.node.path)) this.markDirty(this.entries.get(p)!);
    void Promise.resolve()
      .then(() => this.opts.counted!(entry.node))
      .catch((err: unknown): PhaseOutcome => ({
        state: 'failed',
        reason: err instanceof Error ? err.message : String(err),
      }))
      .then((out) => {
        this.counting--;
        this.settle(entry, {
          path: entry.node.path,
          state: out.state,
          reason: out.reason,
          started: true,
          startedAt: entry.checkedAt,
          finishedAt: new Date().toISOString(),
        });
        this.wake();
      });
  }

  /** Records what a need is now, keeping the entry's counts. */
  private setNeed(entry: Entry<N>, i: number, status: 'wait' | string | null): void {
    const was = entry.needs[i];
    const now = status === 'wait' ? WAIT : status === null ? MET : BLOCKS;
    if (was === now && entry.waitLabels.has(i) === (now === WAIT)) return;
    entry.waitLabels.delete(i);
    if (was === BLOCKS) entry.blocking--;
    entry.needs[i] = now;
    if (now === WAIT) {
      const need = entry.node.dependsOn[i];
      entry.waitLabels.set(i, need.state === 'ready' ? need.path : `${need.path}#${need.state}`);
    } else if (now === BLOCKS) entry.blocking++;
  }

  /** A node got its host or settled: the needs of its dependents that waited for it are decided now. */
  private decideDependents(path: string): void {
    for (const { entry, need } of this.dependents.get(path) ?? []) {
      if (entry.needs[need] !== WAIT || entry.phase === 'done') continue;
      const status = this.needStatus(entry.node.dependsOn[need]);
      if (status === 'wait') continue;
      this.setNeed(entry, need, status);
      // A node still checked first moves on when what it needs counts (check-first.ts), not when it settles.
      if (this.checks && this.checks.state(entry.node.path) !== 'off') continue;
      this.markDirty(entry);
    }
  }

  private queueReady(entry: Entry<N>): void {
    if (entry.queued) return;
    entry.queued = true;
    this.queuedNow.push(entry);
    const heap = this.ready;
    heap.push(entry);
    for (let i = heap.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  private popReady(): Entry<N> {
    const heap = this.ready;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length) {
      heap[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < heap.length && before(heap[l], heap[best])) best = l;
        if (r < heap.length && before(heap[r], heap[best])) best = r;
        if (best === i) break;
        [heap[i], heap[best]] = [heap[best], heap[i]];
        i = best;
      }
    }
    top.queued = false;
    return top;
  }

  /** Emits `node-waiting` when what the entry waits for changed. */
  private waitFor(entry: Entry<N>, waitingFor: string[]): void {
    const key = waitingFor.join(',');
    if (entry.lastWaiting !== key) {
      entry.lastWaiting = key;
      this.emit({ type: 'node-waiting', path: entry.node.path, waitingFor });
    }
  }

  private start(entry: Entry<N>, phase: 'provisioning' | 'running' | 'checking'): void {
    const controller = new AbortController();
    const key = `${entry.node.path}\0${phase}`;
    this.running.set(key, controller);
    entry.phase = phase;
    const { path, host } = entry.node;
    if (phase === 'checking') return this.startCheck(entry, key, controller);
    entry.startedAt ??= new Date().toISOString();
    let work: Promise<PhaseOutcome>;
    if (phase === 'provisioning') {
      this.emit({ type: 'node-state', path, state: 'provisioning' });
      work = Promise.resolve().then(() => this.opts.provision!(entry.node, controller.signal));
    } else {
      this.emit({ type: 'node-started', path, host: host ?? null });
      const why = this.checks?.reason(path);
      work = Promise.resolve().then(() =>
        this.opts.runNode(entry.node, controller.signal, why === undefined ? undefined : { reason: why }),
      );
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

  /** A candidate's read-only check; afterwards it counts as met or goes back to dependency order (check-first.ts). */
  private startCheck(entry: Entry<N>, key: string, controller: AbortController): void {
    const { path, host } = entry.node;
    entry.checkedAt = new Date().toISOString();
    this.checks!.start(path);
    this.emit({ type: 'node-started', path, host: host ?? null });
    void Promise.resolve()
      .then(() => this.opts.check!(entry.node, controller.signal))
      .catch((err: unknown): CheckOutcome => ({ met: false, reason: err instanceof Error ? err.message : String(err) }))
      .then((out) => {
        this.running.delete(key);
        entry.phase = 'waiting';
        for (const p of this.checks!.checked(path, out.met, out.reason)) this.markDirty(this.entries.get(p)!);
        this.markDirty(entry);
        this.wake();
      });
  }

  private finish(entry: Entry<N>, phase: 'provisioning' | 'running', out: PhaseOutcome): void {
    if (phase === 'provisioning' && out.state === 'provisioned') {
      entry.provisioned = true;
      entry.phase = 'waiting';
      this.emit({ type: 'node-state', path: entry.node.path, state: 'provisioned' });
      this.decideDependents(entry.node.path);
      this.markDirty(entry);
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
    // Nothing more of the group starts: every entry of it not running is blocked when looked at.
    for (const b of g.batches) for (const e of b) this.markDirty(e);
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
    if (g && --g.unsettled[entry.batch!] === 0) {
      const was = g.current;
      while (g.current < g.batches.length && g.unsettled[g.current] === 0) g.current++;
      // Batches released now (and the hosts their nodes need) are looked at again.
      for (let b = was; b <= Math.min(g.current, g.batches.length - 1); b++)
        for (const e of g.batches[b]) {
          this.markDirty(e);
          for (const d of e.node.dependsOn) {
            const dep = d.state === 'provisioned' ? this.entries.get(d.path) : undefined;
            if (dep) this.markDirty(dep);
          }
        }
    }
    if (outcome.state !== null)
      this.emit({ type: 'node-finished', path: outcome.path, state: outcome.state, reason: outcome.reason });
    if (this.checks) {
      // Settled without counting as met (blocked, interrupted): what was to count after it runs in order instead.
      const why = `depends on ${entry.node.path}, which did not count as met`;
      for (const p of this.checks.settled(entry.node.path, why)) this.markDirty(this.entries.get(p)!);
    }
    this.decideDependents(entry.node.path);
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

/** Higher priority first (the longest chain of dependents), then input order. */
function before<N>(a: Entry<N>, b: Entry<N>): boolean {
  return a.priority > b.priority || (a.priority === b.priority && a.index < b.index);
}

function byPriority<N>(a: Entry<N>, b: Entry<N>): number {
  return b.priority - a.priority || a.index - b.index;
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
