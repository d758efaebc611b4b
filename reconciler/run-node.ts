/**
 * One node's work in a run, recorded as it happens: provisioning an on-demand host, running (or dry-running) its tasks,
 * terminating it. Each returns the state the node ended in; the scheduler decides what runs when.
 */
import { knownHostsLine, providerCreate, providerDestroy } from './provider.js';
import { connectDepsUnchecked, depsShippedNote, holdUntilDepsFound, type TaskCallbacks } from './deps-unchecked.js';
import { connectNode, errorReason, hostOf, setProvided, type EngineRun } from './run-engine.js';
import type { PhaseOutcome } from './scheduler.js';
import { runNodeTasks, type NodeTaskResult } from './tasks/run-node-tasks.js';
import { liveLog } from './live-log.js';
import type { LifecycleState, NodeResult, NodeUpdate, PlanAction, ResolvedNode, TaskResult } from '../kernel/types.js';

/** The node's entry in the run result, created on first use. */
export function resultOf(run: EngineRun, path: string, action?: PlanAction): NodeResult {
  let r = run.results.get(path);
  if (!r) {
    const rec = run.recorded.get(path);
    r = { path, host: rec?.host ?? null, action, state: rec?.state ?? 'defined', tasks: [] };
    run.results.set(path, r);
  }
  if (action && !r.action) r.action = action;
  return r;
}

/** States that start work on a node: never entered unless the store has recorded them. */
const STARTS_WORK = new Set<LifecycleState>(['provisioning', 'configuring', 'terminating']);

/**
 * Records a state transition in the store and the result, and emits it. Work does not start unrecorded: when the
 * store refuses a state that starts work, this throws and the node keeps its recorded state. A final state the store
 * refuses (the database is away) is kept in `run.unsaved` and written again before the run is finished.
 */
export async function transition(
  run: EngineRun,
  path: string,
  state: LifecycleState,
  extra: {
    reason?: string | null;
    host?: string | null;
    port?: number;
    user?: string;
    hostKey?: string | null;
    applied?: ResolvedNode;
  } = {},
): Promise<void> {
  const applied = extra.applied
    ? { specHash: extra.applied.specHash, tasks: extra.applied.tasks, commit: run.input.commit }
    : undefined;
  const update: NodeUpdate = {
    state,
    reason: extra.reason ?? null,
    ...(extra.host !== undefined ? { host: extra.host } : {}),
    ...(extra.port !== undefined ? { port: extra.port } : {}),
    ...(extra.user !== undefined ? { user: extra.user } : {}),
    ...(extra.hostKey !== undefined ? { hostKey: extra.hostKey } : {}),
    applied,
  };
  const write = () =>
    run.input.store.updateNode(run.input.repository, run.env.name, path, { ...update, runId: run.runId });
  if (STARTS_WORK.has(state)) {
    try {
      await write();
    } catch (err) {
      throw new Error(`could not record ${path} as ${state}, so it was not started: ${(err as Error).message}`, {
        cause: err,
      });
    }
  } else {
    await write().then(
      () => run.unsaved.delete(path),
      (err: Error) => {
        run.unsaved.set(path, mergeUpdates(run.unsaved.get(path), update));
        run.input.log?.(`could not record ${path} as ${state} (${err.message}): will retry before the run ends`);
      },
    );
  }
  const r = resultOf(run, path);
  r.state = state;
  r.reason = extra.reason ?? undefined;
  if (extra.host !== undefined) r.host = extra.host;
  run.emit({ type: 'node-state', path, state, reason: extra.reason ?? undefined });
}

/** A later update over an unsaved earlier one: host, port, user and key given earlier are kept unless given again. */
function mergeUpdates(earlier: NodeUpdate | undefined, later: NodeUpdate): NodeUpdate {
  return { ...earlier, ...later, applied: later.applied ?? earlier?.applied };
}

/** How long writes refused by the database are retried at the end of a run before giving up. */
export const RETRY_WRITES_MS = 120_000;

/**
 * Retries a store write until it succeeds or the time `until` (ms since the epoch) has passed (then logs, gives up).
 */
export async function retryWrite(
  write: () => Promise<void>,
  what: string,
  log: ((line: string) => void) | undefined,
  until: number,
): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      await write();
      return true;
    } catch (err) {
      if (Date.now() >= until) {
        log?.(`gave up ${what}: ${(err as Error).message}`);
        return false;
      }
      if (attempt === 0) log?.(`${what} failed (${(err as Error).message}): retrying until the database answers`);
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** attempt, Math.max(0, until - Date.now()))));
    }
  }
}

/** Writes the final node states the database refused during the run, retrying while it is away (until `until`). */
export async function flushUnsaved(run: EngineRun, until: number): Promise<void> {
  for (const [path, update] of run.unsaved) {
    const write = () =>
      run.input.store.updateNode(run.input.repository, run.env.name, path, { ...update, runId: run.runId });
    if (await retryWrite(write, `recording ${path} as ${update.state}`, run.input.log, until)) run.unsaved.delete(path);
  }
}

/** Provisioning phase of an on-demand node: the provider's create, then the host is recorded. */
export async function provisionNode(run: EngineRun, node: ResolvedNode, signal: AbortSignal): Promise<PhaseOutcome> {
  if (node.host.kind !== 'provider') return { state: 'provisioned' };
  await transition(run, node.path, 'provisioning');
  try {
    const created = await providerCreate({
      root: run.input.description.root,
      provider: node.host.provider,
      environment: run.env.name,
      resource: node.path,
      params: run.env.params,
      timeoutMs: run.input.providerTimeoutMs,
      signal,
    });
    const port = created.port ?? node.host.port ?? 22;
    const line = created.hostKey ? knownHostsLine(created.address, port, created.hostKey) : undefined;
    const info = setProvided(run, node, { ...created, port, knownHostsLine: line });
    const t = info.target as { port: number; user: string };
    // The key is recorded with the host (null when none was printed: an older key belongs to an older host), so later
    // runs that reuse the address trust it too.
    await transition(run, node.path, 'provisioned', {
      host: created.address,
      port: t.port,
      user: t.user,
      hostKey: line ?? null,
    });
    return { state: 'provisioned' };
  } catch (err) {
    const reason = errorReason(err);
    await transition(run, node.path, 'failed', { reason });
    await run.input.store.appendLog(run.runId, node.path, `provisioning failed: ${reason}\n`).catch(() => undefined);
    return { state: 'failed', reason };
  }
}

/** Runs (or dry-runs) a node's tasks on its host and records every outcome; returns the node's state afterwards. */
export async function runTasksOf(
  run: EngineRun,
  node: ResolvedNode,
  opts: {
    dryRun: boolean;
    signal: AbortSignal;
    action?: PlanAction;
    preface?: string;
    /**
     * The node's check could not connect to its host (check-node.ts): the run fails with that error as if its own
     * connect had, without connecting again.
     */
    connectFailed?: { error: unknown };
  },
): Promise<PhaseOutcome & { tasks: TaskResult[] }> {
  const result = resultOf(run, node.path, opts.action);
  result.startedAt = new Date().toISOString();
  const host = hostOf(run, node);
  if (!host)
    return finishTasks(run, node, opts, [], `ProvisionFailed: ${node.path} has no host yet (it was never provisioned)`);
  result.host = host.label;
  // Connecting (or reusing the connection) and shipping the deps start while `configuring` is being recorded: neither
  // touches what the node manages, only Politburo's own deps directory (prewarming in apply-environment.ts does the
  // same ahead of time); the first command of a task is sent only once the state is recorded. A failure to connect is
  // reported below, like any other. A dry run does not look for the deps first (deps-unchecked.ts).
  const connecting: ReturnType<typeof connectDepsUnchecked> = opts.connectFailed
    ? Promise.reject(opts.connectFailed.error)
    : opts.dryRun
      ? connectDepsUnchecked(run, node, host)
      : connectNode(run, node, host);
  connecting.catch(() => undefined);
  if (!opts.dryRun) await transition(run, node.path, 'configuring', { host: host.label, ...portUser(host) });
  const pending: Promise<unknown>[] = [];
  const store = run.input.store;
  // Output and the running task are written while the tasks run, at most once a second (docs/controller.md, "Live
  // updates"); the store keeps a log's last MiB.
  const live = liveLog(store, run.runId, node.path, {
    onError: (e) => run.input.log?.(`recording the log of ${node.path} failed: ${e.message}`),
  });
  // Why a node checked in parallel runs in order after all (check-node.ts).
  if (opts.preface) live.write(opts.preface);
  try {
    const { conn, remoteDepsDir, unchecked } = await connecting;
    const callbacks: TaskCallbacks = {
      onTaskStart: (task) => {
        live.taskStarted(task);
        run.emit({ type: 'task-started', path: node.path, task });
      },
      onTaskFinished: (r) => {
        live.taskFinished();
        run.emit({ type: 'task-finished', path: node.path, result: r });
        pending.push(
          store
            .recordTask(run.runId, node.path, {
              name: r.name,
              outcome: r.outcome,
              message: r.message,
              durationMs: r.durationMs,
            })
            .catch((e: Error) => run.input.log?.(`recording a task failed: ${e.message}`)),
        );
      },
      onLog: (text) => {
        live.write(text);
        run.onOutput?.(node.path);
      },
    };
    const attempt = (dir: string | null, cb: TaskCallbacks) =>
      runNodeTasks(conn, node, {
        dryRun: opts.dryRun,
        remoteDepsDir: dir,
        timeoutMs: run.env.defaults.timeoutMs,
        secrets: run.input.secrets,
        addresses: run.addresses,
        signal: opts.signal,
        onTaskStart: cb.onTaskStart,
        onTaskFinished: cb.onTaskFinished,
        onLog: cb.onLog,
      });
    let tasks: NodeTaskResult[];
    if (!unchecked) tasks = await attempt(remoteDepsDir, callbacks);
    else {
      // Progress is held only until the first Babushka step shows the deps are there; an attempt whose `cd` found them
      // missing leaves no trace (no record, log or event): the deps are shipped and the node dry-run again, live.
      const held = holdUntilDepsFound(node, unchecked, callbacks);
      try {
        tasks = await attempt(remoteDepsDir, held);
      } finally {
        held.release();
      }
      if (held.missing) {
        const shipped = await connectNode(run, node, host);
        live.write(depsShippedNote(unchecked));
        tasks = await attempt(shipped.remoteDepsDir, callbacks);
      }
    }
    pending.push(live.finish());
    const plain = tasks.map(({ name, outcome, message, durationMs }) => ({ name, outcome, message, durationMs }));
    const failed = tasks.find((t) => t.outcome === 'failed');
    const failure = !failed
      ? null
      : opts.signal.aborted
        ? `Interrupted: task '${failed.name}' was stopped`
        : `${failed.reason ?? 'TaskFailed'}: task '${failed.name}' failed${failed.message ? `: ${firstLine(failed.message)}` : ''}`;
    // The last task's record, the log and the node's final state are written together, not one after the other: each
    // is a round trip to the database and dependents wait for the node to finish. All three are written before it
    // counts as finished, and `ready` still follows its tasks (docs/operations.md, "Records tell the truth").
    const [finished] = await Promise.all([finishTasks(run, node, opts, plain, failure), Promise.all(pending)]);
    return finished;
  } catch (err) {
    await Promise.all(pending);
    const reason = errorReason(err);
    live.write(`${reason}\n`);
    await live.finish();
    const skipped = node.tasks.map((t) => ({
      name: t.name,
      outcome: 'skipped' as const,
      message: 'the host could not be reached',
    }));
    for (const s of skipped) run.emit({ type: 'task-finished', path: node.path, result: s });
    return finishTasks(run, node, opts, skipped, reason);
  }
}

/** Decides and records the node's state after its tasks. */
async function finishTasks(
  run: EngineRun,
  node: ResolvedNode,
  opts: { dryRun: boolean },
  tasks: TaskResult[],
  failure: string | null,
): Promise<PhaseOutcome & { tasks: TaskResult[] }> {
  const result = resultOf(run, node.path);
  result.tasks = tasks;
  result.finishedAt = new Date().toISOString();
  if (failure !== null) {
    if (!opts.dryRun) await transition(run, node.path, 'failed', { reason: failure });
    else Object.assign(result, { state: 'failed', reason: failure });
    return { state: 'failed', reason: failure, tasks };
  }
  const unmet = tasks.filter((t) => t.outcome === 'unmet').map((t) => t.name);
  if (opts.dryRun) {
    const state = unmet.length ? 'drifted' : 'ready';
    const reason = unmet.length ? `unmet: ${unmet.join(', ')}` : undefined;
    Object.assign(result, { state, reason });
    return { state, reason, tasks };
  }
  await transition(run, node.path, 'ready', { reason: null, applied: node });
  return { state: 'ready', tasks };
}

/**
 * Terminates a node: the provider's destroy for on-demand hosts; a pre-allocated host is only released from the state.
 */
export async function terminateNode(
  run: EngineRun,
  path: string,
  node: ResolvedNode | undefined,
  signal: AbortSignal,
): Promise<PhaseOutcome> {
  const rec = run.recorded.get(path);
  const result = resultOf(run, path, 'terminate');
  result.startedAt = new Date().toISOString();
  const provider = node ? (node.host.kind === 'provider' ? node.host.provider : undefined) : run.env.provider;
  const onDemand = node
    ? node.host.kind === 'provider'
    : provider !== undefined && !!rec?.host && !isStaticHost(run, rec.host);
  await transition(run, path, 'terminating');
  try {
    if (onDemand && provider && rec?.host) {
      await providerDestroy({
        root: run.input.description.root,
        provider,
        environment: run.env.name,
        resource: path,
        params: run.env.params,
        address: rec.host,
        timeoutMs: run.input.providerTimeoutMs,
        signal,
      });
    }
    await transition(run, path, 'terminated', {
      reason: onDemand ? 'destroyed by the provider' : 'released from the state (no command was run on the host)',
    });
    result.finishedAt = new Date().toISOString();
    return { state: 'terminated' };
  } catch (err) {
    const reason = errorReason(err);
    await transition(run, path, 'failed', { reason });
    result.finishedAt = new Date().toISOString();
    return { state: 'failed', reason };
  }
}

/** A host still bound statically in the description is never destroyed through a provider. */
function isStaticHost(run: EngineRun, address: string): boolean {
  return run.env.nodes.some((n) => n.host.kind === 'static' && n.host.address === address);
}

function portUser(host: { target: { kind: string; port?: number; user?: string } }): { port?: number; user?: string } {
  return host.target.kind === 'ssh' ? { port: host.target.port, user: host.target.user } : {};
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .find((l) => l.trim())
      ?.trim()
      .slice(0, 300) ?? ''
  );
}
