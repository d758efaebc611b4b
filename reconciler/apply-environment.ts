/**
 * Apply (docs/cli.md): one reconcile in two layers. The outer layer resolves the environment, takes the environment's
 * lock, starts the run record and always finishes it; the inner one plans, selects, provisions, configures in
 * dependency order, terminates, and records every transition as it happens. With `--all`, nodes recorded ready at the
 * spec they are applied at are checked in parallel first, read only, and only what is not found met runs in
 * dependency order (check-first.ts).
 */
import {
  CHECKED_REASON,
  checkedPreface,
  checkNode,
  mayCheckFirst,
  recordChecked,
  type NodeCheck,
} from './check-node.js';
import { planEnvironment } from './plan-environment.js';
import {
  closeExtraConnectors,
  warmNode,
  createEngineRun,
  environmentOf,
  hostOf,
  type EngineInput,
  type EngineRun,
} from './run-engine.js';
import { startLeasedRun, withEnvironmentLock } from './run-lock.js';
import {
  flushUnsaved,
  provisionNode,
  resultOf,
  RETRY_WRITES_MS,
  retryWrite,
  runTasksOf,
  terminateNode,
  transition,
} from './run-node.js';
import { buildResult, summaryLine } from './run-result.js';
import { selectNodes, type Selection } from './run-selection.js';
import { schedule, type ScheduledOutcome, type SchedulerNode } from './scheduler.js';
import { startAhead } from './start-ahead.js';
import type {
  NodeResult,
  PlannedNode,
  ResolvedNode,
  RolloutStop,
  RunKind,
  RunResult,
  RunStatus,
} from '../kernel/types.js';

export type ApplyInput = EngineInput & { dryRun?: false };

/** Applies one environment (or a target within it); resolves with the run's result, never leaving the run open. */
export async function applyEnvironment(input: ApplyInput): Promise<RunResult> {
  const env = environmentOf(input);
  return withEnvironmentLock(
    input.store,
    input.repository,
    env.name,
    () => recordedRun(input, 'apply', (run) => reconcile(run)),
    {
      log: input.log,
      signal: input.signal,
    },
  );
}

/**
 * Starts a run record under the environment's lease (see run-lock.ts), runs `body`, and finishes the record in a
 * `finally` with the summary (failed, with the error logged, when `body` throws). Writes the database refused meanwhile
 * are retried first. Shared by apply, drift and live plans.
 */
export async function recordedRun(
  input: EngineInput,
  kind: RunKind,
  body: (run: EngineRun) => Promise<RunResult>,
): Promise<RunResult> {
  const env = environmentOf(input);
  const leased = await startLeasedRun(
    input.store,
    { repository: input.repository, environment: env.name, commit: input.commit, kind, trigger: input.trigger },
    { settings: input.lease, signal: input.signal, log: input.log },
  );
  const record = leased.record;
  // Ctrl-C or a lost lease: the lease's reason (LeaseLost) makes the scheduler stop running tasks at once.
  const signals = [input.signal, leased.signal].filter((s): s is AbortSignal => s !== undefined);
  const runInput: EngineInput = { ...input, signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0] };
  let status: RunStatus = 'failed';
  let summary: Record<string, number> = {};
  let run: EngineRun | undefined;
  try {
    const recorded = await input.store.recordedNodes(input.repository, env.name);
    run = createEngineRun(runInput, env, record.id, recorded);
    const result = await body(run);
    status = result.status;
    summary = result.summary;
    input.log?.(
      summaryLine(kind === 'apply' ? 'applied' : kind === 'drift' ? 'drift-checked' : 'live-planned', result),
    );
    return result;
  } catch (err) {
    input.log?.(`${kind} of ${env.name} failed: ${err instanceof Error ? err.message : String(err)}`);
    throw err;
  } finally {
    if (run) await closeExtraConnectors(run);
    const until = Date.now() + RETRY_WRITES_MS;
    if (run) await flushUnsaved(run, until);
    await retryWrite(
      () => input.store.finishRun(record.id, status, summary),
      `finishing run ${record.id}`,
      input.log,
      until,
    );
    leased.stop();
  }
}

/** plan → select → provision, configure and terminate in dependency order → result. */
async function reconcile(run: EngineRun): Promise<RunResult> {
  const started = Date.now();
  const { input, env } = run;
  // Plan against the recorded state.
  const plan = planEnvironment(env, [...run.recorded.values()], input.commit);
  // Select what this apply works on.
  const selection = selectNodes(plan, { target: input.target, all: input.all });
  // Provision, configure and terminate, as the dependency graph allows.
  const rollouts: RolloutStop[] = [];
  const outcomes = await executeSelection(run, selection, (stop) => rollouts.push(stop));
  const nodes = collectResults(run, [...selection.configure, ...selection.terminate], outcomes);
  const interrupted = outcomes.some((o) => o.reason?.startsWith('Interrupted')) || !!input.signal?.aborted;
  const result = buildResult({
    runId: run.runId,
    kind: 'apply',
    environment: env.name,
    commit: input.commit,
    nodes,
    interrupted,
    startedMs: started,
    rollouts,
  });
  const checked = nodes.filter((n) => n.state === 'ready' && n.reason === CHECKED_REASON).length;
  if (checked) result.summary[CHECKED_SUMMARY] = checked;
  return result;
}

/** The summary's count of nodes that counted as met by their check in parallel (`30 ready, 30 checked in parallel`). */
export const CHECKED_SUMMARY = 'checked in parallel';

type Job = SchedulerNode & { planned: PlannedNode; kind: 'configure' | 'terminate' };

/**
 * Provisions, configures and terminates the selected nodes as the dependency graph allows; candidates
 * (check-node.ts) are checked in parallel first.
 */
async function executeSelection(
  run: EngineRun,
  selection: Selection,
  onRolloutStopped: (stop: RolloutStop) => void,
): Promise<ScheduledOutcome[]> {
  const inRun = new Set([...selection.configure, ...selection.terminate].map((p) => p.path));
  const jobs: Job[] = [
    ...selection.configure.map((p): Job => {
      const node = p.node as ResolvedNode;
      return {
        path: p.path,
        host: p.host,
        dependsOn: selection.provisionOnly ? [] : node.dependsOn,
        provision: node.host.kind === 'provider' && !run.provided.has(node.path),
        rollout: node.rollout,
        checkFirst: !selection.provisionOnly && mayCheckFirst(run, p),
        planned: p,
        kind: 'configure',
      };
    }),
    ...selection.terminate.map((p): Job => ({
      path: p.path,
      host: p.host,
      dependsOn: [],
      planned: p,
      kind: 'terminate',
    })),
  ];
  // Candidates connect when their check starts, at once; the others are warmed up meanwhile.
  const checkFirst = new Set(jobs.filter((j) => j.checkFirst).map((j) => j.path));
  if (!selection.provisionOnly)
    prewarm(
      run,
      selection.configure.filter((p) => !checkFirst.has(p.path)),
    );
  const checks = new Map<string, NodeCheck>();
  const ahead = startAhead(
    run,
    jobs
      .filter((j) => j.kind === 'configure')
      .map((j) => ({
        path: j.path,
        node: j.planned.node as ResolvedNode,
        eligible:
          !selection.provisionOnly &&
          !j.provision &&
          !j.checkFirst &&
          (run.input.startAhead ?? process.env.POLITBURO_START_AHEAD !== '0'),
      })),
  );
  // A node's dependents are started ahead once its own Babushka is past its start-up (its first output): on hosts that
  // share CPUs, held processes starting then do not slow the start-up of the node they wait for.
  run.onOutput = (path) => ahead.started(path);
  const byPath = new Map(selection.configure.map((p) => [p.path, p.node as ResolvedNode]));
  return schedule<Job>({
    nodes: jobs,
    concurrency: run.input.concurrency ?? run.env.defaults.concurrency,
    outside: (path) => {
      if (inRun.has(path)) return undefined;
      const rec = run.recorded.get(path);
      return rec ? { state: rec.state, hasHost: rec.host !== null } : undefined;
    },
    provision: (job, signal) => provisionNode(run, job.planned.node as ResolvedNode, signal),
    runNode: async (job, signal, checked) => {
      // A check that did not count is discarded, the run decides; but one that could not connect is final for the node:
      // its run fails with that error, without connecting again (check-node.ts).
      const connectFailed = checks.get(job.path)?.connectFailed;
      checks.delete(job.path);
      resultOf(run, job.path, job.kind === 'terminate' ? 'terminate' : job.planned.action);
      if (job.kind === 'terminate') return terminateNode(run, job.path, job.planned.node, signal);
      if (selection.provisionOnly) return provisionedOnly(run, job.planned);
      await ahead.placed(job.path);
      return runTasksOf(run, job.planned.node as ResolvedNode, {
        dryRun: false,
        signal,
        action: job.planned.action,
        preface: checked && checkedPreface(checked.reason),
        connectFailed,
      });
    },
    check: async (job, signal) => {
      const check = await checkNode(run, job.planned.node as ResolvedNode, signal);
      checks.set(job.path, check);
      return check;
    },
    counted: (job) => {
      const check = checks.get(job.path)!;
      checks.delete(job.path);
      return recordChecked(run, job.planned.node as ResolvedNode, check, job.planned.action);
    },
    signal: run.input.signal,
    graceMs: run.input.graceMs,
    onEvent: (e) => {
      run.emit(e);
      // A node without Babushka has no start-up of its own to get through: its dependents may start at once.
      if (e.type === 'node-started' && !byPath.get(e.path)?.tasks.some((t) => t.kind === 'babushka'))
        ahead.started(e.path);
    },
    onSettled: async (job, outcome) => {
      ahead.settled(job.path);
      if (outcome.state === 'blocked') await transition(run, job.path, 'blocked', { reason: outcome.reason });
    },
    onRolloutStopped,
  });
}

/**
 * Connects to every known host of the run and ships its deps while nodes still wait for their dependencies, so a
 * node starts its tasks the moment it may. Nodes that can start now connect first (on their own), the others after
 * them a few at a time, so warming never slows the critical path. Errors surface when the node itself runs.
 */
function prewarm(run: EngineRun, planned: PlannedNode[]): void {
  const inRun = new Set(planned.map((p) => p.path));
  const waits = (p: PlannedNode) => (p.node as ResolvedNode).dependsOn.some((d) => inRun.has(d.path));
  const warm = (p: PlannedNode) => {
    const host = hostOf(run, p.node as ResolvedNode);
    return host
      ? warmNode(run, p.node as ResolvedNode, host).then(
          () => undefined,
          () => undefined,
        )
      : Promise.resolve();
  };
  const later = planned.filter(waits);
  void Promise.all(planned.filter((p) => !waits(p)).map(warm)).then(async () => {
    const workers = Array.from({ length: Math.min(PREWARM_PARALLEL, later.length) }, async () => {
      for (let p = later.shift(); p; p = later.shift()) if (!run.input.signal?.aborted) await warm(p);
    });
    await Promise.all(workers);
  });
}

const PREWARM_PARALLEL = 8;

/**
 * `#provisioned`: the host exists (pre-allocated, or provisioned just now); a node already further along keeps its
 * state.
 */
async function provisionedOnly(run: EngineRun, planned: PlannedNode): Promise<{ state: 'provisioned' }> {
  const rec = run.recorded.get(planned.path);
  const node = planned.node as ResolvedNode;
  if (!rec || rec.state === 'defined' || rec.state === 'failed' || rec.state === 'provisioning') {
    const host =
      node.host.kind === 'static'
        ? node.host.address
        : node.host.kind === 'local'
          ? 'local'
          : run.provided.get(node.path)?.label;
    await transition(run, planned.path, 'provisioned', { host: host ?? null });
  } else {
    resultOf(run, planned.path).state = rec.state;
  }
  return { state: 'provisioned' };
}

/** The result of every selected node, in plan order; never-started nodes keep their recorded state. */
function collectResults(run: EngineRun, planned: PlannedNode[], outcomes: ScheduledOutcome[]): NodeResult[] {
  const byPath = new Map(outcomes.map((o) => [o.path, o]));
  return planned.map((p) => {
    const r = resultOf(run, p.path, p.action);
    const o = byPath.get(p.path);
    if (r.host === null) r.host = p.host;
    if (o && o.state === null) r.reason = o.reason; // interrupted before it started: state as recorded
    if (o?.state === 'blocked') Object.assign(r, { state: 'blocked', reason: o.reason });
    // Work that could not start (its start could not be recorded) failed in this run; the record keeps the old state.
    if (o?.state === 'failed' && r.state !== 'failed') Object.assign(r, { state: 'failed', reason: o.reason });
    return r;
  });
}
