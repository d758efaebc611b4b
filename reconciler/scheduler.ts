/**
 * The run scheduler: works through nodes as a dependency graph (not in waves). A node's configuration starts the moment
 * every dependency has reached its required state (in this run, or recorded so outside it), bounded by `concurrency`.
 * A failed node blocks its dependents, transitively; independent nodes carry on. Pure control flow: the work itself
 * (provisioning, running tasks) is injected.
 */
import type { DependencyState, LifecycleState, RunEvent } from './types.js';

export interface SchedulerNode {
  path: string;
  host?: string | null;
  dependsOn: { path: string; state: DependencyState }[];
  /** True when the node needs an on-demand host first: the provisioning phase runs before its configuration. */
  provision?: boolean;
}

/** What a phase of a node ended in. */
export interface PhaseOutcome {
  state: LifecycleState;
  reason?: string;
}

/** Final outcome of a node in the run; `state` null means it never started (interrupted) and keeps its recorded state. */
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
  /** Ctrl-C: start nothing new, abort running work after `graceMs`. */
  signal?: AbortSignal;
  graceMs?: number;
  onEvent?(e: RunEvent): void;
  /** Called once per node when it settles without running (blocked, interrupted) or after it ran; awaited before returning. */
  onSettled?(node: N, outcome: ScheduledOutcome): Promise<void> | void;
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
}

const SATISFIES_PROVISIONED = new Set<LifecycleState>(['provisioned', 'configuring', 'ready', 'drifted']);

/** Runs every node once, in dependency order, as parallel as allowed; resolves with one outcome per node, in input order. */
export async function schedule<N extends SchedulerNode>(opts: ScheduleOptions<N>): Promise<ScheduledOutcome[]> {
  const entries = new Map<string, Entry<N>>();
  const heights = heightsOf(opts.nodes);
  for (const node of opts.nodes) {
    entries.set(node.path, { node, phase: 'pending', provisioned: !node.provision || !opts.provision, priority: heights.get(node.path) ?? 0 });
  }
  const limit = Math.max(1, Math.floor(opts.concurrency) || 1);
  const running = new Map<string, AbortController>();
  const settling: Promise<unknown>[] = [];
  let stopping = opts.signal?.aborted ?? false;
  let wake: () => void = () => {};
  let graceTimer: NodeJS.Timeout | undefined;

  const emit = (e: RunEvent) => opts.onEvent?.(e);
  const settle = (entry: Entry<N>, outcome: ScheduledOutcome) => {
    entry.phase = 'done';
    entry.outcome = outcome;
    if (outcome.state !== null) emit({ type: 'node-finished', path: outcome.path, state: outcome.state, reason: outcome.reason });
    if (opts.onSettled) settling.push(Promise.resolve(opts.onSettled(entry.node, outcome)).catch(() => undefined));
  };

  const onAbort = () => {
    stopping = true;
    graceTimer = setTimeout(() => running.forEach((c) => c.abort(opts.signal?.reason)), opts.graceMs ?? 10_000);
    wake();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const startPhase = (entry: Entry<N>, phase: 'provisioning' | 'running') => {
    const controller = new AbortController();
    const key = `${entry.node.path}\0${phase}`;
    running.set(key, controller);
    entry.phase = phase;
    entry.startedAt ??= new Date().toISOString();
    const work =
      phase === 'provisioning'
        ? (emit({ type: 'node-state', path: entry.node.path, state: 'provisioning' }), opts.provision!(entry.node, controller.signal))
        : (emit({ type: 'node-started', path: entry.node.path, host: entry.node.host ?? null }), opts.runNode(entry.node, controller.signal));
    void Promise.resolve(work)
      .catch((err: unknown): PhaseOutcome => ({ state: 'failed', reason: err instanceof Error ? err.message : String(err) }))
      .then((out) => {
        running.delete(key);
        finishPhase(entry, phase, out);
        wake();
      });
  };

  const finishPhase = (entry: Entry<N>, phase: 'provisioning' | 'running', out: PhaseOutcome) => {
    const base = { path: entry.node.path, started: true, startedAt: entry.startedAt, finishedAt: new Date().toISOString() };
    if (phase === 'provisioning' && out.state === 'provisioned') {
      entry.provisioned = true;
      entry.phase = 'waiting';
      emit({ type: 'node-state', path: entry.node.path, state: 'provisioned' });
      return;
    }
    settle(entry, { ...base, state: out.state, reason: out.reason });
  };

  /** Why a need is not (yet) met: 'wait', a block reason, or null when satisfied. */
  const needStatus = (need: { path: string; state: DependencyState }): 'wait' | string | null => {
    const dep = entries.get(need.path);
    if (dep) {
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
    const rec = opts.outside(need.path);
    if (need.state === 'ready' && rec?.state === 'ready') return null;
    if (need.state === 'provisioned' && rec && rec.hasHost && rec.state !== 'terminated') return null;
    return `${need.path} is not ${need.state} (state: ${rec?.state ?? 'defined'})`;
  };

  const pump = () => {
    const order = [...entries.values()].filter((e) => e.phase !== 'done').sort((a, b) => b.priority - a.priority);
    for (const entry of order) {
      if (entry.phase === 'provisioning' || entry.phase === 'running') continue;
      if (stopping) {
        // Provisioned in this run but never configured: it stays provisioned.
        const state = entry.startedAt ? 'provisioned' : null;
        settle(entry, { path: entry.node.path, state, reason: 'Interrupted: the run was stopped before this node was configured', started: false, startedAt: entry.startedAt });
        continue;
      }
      if (!entry.provisioned) {
        if (entry.phase === 'pending' && running.size < limit) startPhase(entry, 'provisioning');
        continue;
      }
      const waits: string[] = [];
      let blocked: string | null = null;
      for (const need of entry.node.dependsOn) {
        const s = needStatus(need);
        if (s === 'wait') waits.push(need.state === 'ready' ? need.path : `${need.path}#${need.state}`);
        else if (s !== null) blocked ??= s;
      }
      if (blocked) {
        settle(entry, { path: entry.node.path, state: 'blocked', reason: blocked, started: entry.startedAt !== undefined, startedAt: entry.startedAt, finishedAt: new Date().toISOString() });
        continue;
      }
      if (waits.length === 0 && running.size < limit) {
        startPhase(entry, 'running');
        continue;
      }
      const waitingFor = waits.length ? waits : ['a free slot (concurrency ' + limit + ')'];
      const key = waitingFor.join(',');
      if (entry.lastWaiting !== key) {
        entry.lastWaiting = key;
        emit({ type: 'node-waiting', path: entry.node.path, waitingFor });
      }
    }
  };

  try {
    for (;;) {
      const woken = new Promise<void>((resolve) => (wake = resolve));
      // Settling a node can unblock or block others: repeat until nothing changes within this turn.
      let before: number;
      do {
        before = countDone(entries);
        pump();
      } while (countDone(entries) !== before);
      if (countDone(entries) === entries.size) break;
      if (running.size === 0) {
        // Nothing runs and nothing can start: only a cycle (rejected by validation) gets here; never hang on one.
        for (const e of entries.values()) {
          if (e.phase !== 'done') settle(e, { path: e.node.path, state: 'blocked', reason: 'dependency cycle: its dependencies can never be ready', started: false });
        }
        continue;
      }
      await woken;
    }
  } finally {
    clearTimeout(graceTimer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
  await Promise.all(settling);
  return opts.nodes.map((n) => entries.get(n.path)!.outcome!);
}

function countDone<N>(entries: Map<string, Entry<N>>): number {
  let n = 0;
  for (const e of entries.values()) if (e.phase === 'done') n++;
  return n;
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
    for (const d of n.dependsOn) if (inRun.has(d.path)) dependents.set(d.path, [...(dependents.get(d.path) ?? []), n.path]);
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
