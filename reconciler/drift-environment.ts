/**
 * Drift (docs/cli.md): dry-run every recorded node on its host, as described at the commit it was last applied from;
 * unmet tasks make it `drifted` (the reason lists them), and nodes that cannot be checked are listed with why. With
 * heal, the drifted nodes are then met, in dependency order, each at its own commit, and recorded ready. A live plan is
 * the static plan plus a dry-run of every node with a host, recorded as a `plan-live` run.
 */
import { recordedRun } from './apply-environment.js';
import { driftTargets, type DescriptionAt, type DriftTarget } from './drift-targets.js';
import { planEnvironment } from './plan-environment.js';
import { environmentOf, hostOf, type EngineInput, type EngineRun } from './run-engine.js';
import { withEnvironmentLock } from './run-lock.js';
import { resultOf, runTasksOf, transition } from './run-node.js';
import { buildResult } from './run-result.js';
import { schedule, type ScheduledOutcome, type SchedulerNode } from './scheduler.js';
import type {
  LifecycleState,
  NodeResult,
  Plan,
  PlannedNode,
  ResolvedNode,
  RolloutStop,
  RunResult,
  StateStore,
  UncheckedNode,
} from '../kernel/types.js';

export type { DescriptionAt } from './drift-targets.js';

export type DriftInput = EngineInput & {
  heal: boolean;
  /** Reads the description at another commit, for nodes last applied from it; without it, those need the same spec. */
  descriptionAt?: DescriptionAt;
};

/** Dry-runs every recorded node of the environment at its applied commit; with `heal`, meets the drifted ones. */
export async function driftEnvironment(input: DriftInput): Promise<RunResult> {
  const env = environmentOf(input);
  return withEnvironmentLock(
    input.store,
    input.repository,
    env.name,
    () => recordedRun(input, 'drift', (run) => drift(run, input)),
    {
      log: input.log,
      signal: input.signal,
    },
  );
}

/** `plan --live`: the static plan plus a dry-run of every node with a host; no provider script ever runs. */
export async function runLivePlan(input: EngineInput): Promise<{ plan: Plan; result: RunResult }> {
  const env = environmentOf(input);
  let plan: Plan | undefined;
  const result = await withEnvironmentLock(
    input.store,
    input.repository,
    env.name,
    () =>
      recordedRun(input, 'plan-live', async (run) => {
        plan = planEnvironment(run.env, [...run.recorded.values()], input.commit);
        return liveDryRun(run, plan);
      }),
    { log: input.log, signal: input.signal },
  );
  return { plan: plan!, result };
}

/**
 * Recorded states a drift check may change (to drifted, or back to ready); the others are the next apply's to settle.
 */
const SETTLED = new Set<LifecycleState>(['ready', 'drifted']);

async function drift(run: EngineRun, input: DriftInput): Promise<RunResult> {
  const started = Date.now();
  // Installed before the per-commit runs are made, so they share it.
  const history = holdHistory(run);
  const found = await driftTargets(run, input.descriptionAt);
  try {
    // Dry-run them all at once: a dry-run changes nothing, so order does not matter.
    const checked = await dryRunTargets(run, found.targets, history);
    const cancelled = checked.some((o) => o.state === null) || !!input.signal?.aborted;
    const drifted = found.targets.filter((t) => run.results.get(t.path)?.state === 'drifted');
    // What the dry run found, before a heal updates the results in place.
    const unmet = new Map(drifted.map((t) => [t.path, run.results.get(t.path)!.reason]));
    const healable = drifted.filter((t) => SETTLED.has(t.recorded.state));
    const rollouts: RolloutStop[] = [];
    const healed = input.heal && !cancelled && healable.length ? await healTargets(run, healable, rollouts) : [];
    // Interrupted before it started: the state as recorded, and why.
    const notStarted = new Map(checked.filter((o) => o.state === null).map((o) => [o.path, o.reason]));
    const nodes = found.targets.map((t) =>
      Object.assign(
        nodeResult(run, t, unmet.get(t.path), input.heal),
        notStarted.has(t.path) ? { reason: notStarted.get(t.path) } : {},
      ),
    );
    const interrupted = cancelled || healed.some((o) => o.reason?.startsWith('Interrupted'));
    const result = buildResult({
      runId: run.runId,
      kind: 'drift',
      environment: run.env.name,
      commit: input.commit,
      nodes,
      interrupted,
      startedMs: started,
      rollouts,
    });
    if (input.heal) result.summary.healed = nodes.filter((n) => n.reason?.startsWith('healed')).length;
    return withUnchecked(result, found.unchecked);
  } finally {
    await found.close();
  }
}

/** A drift result that could not check every recorded node says which and why, and never succeeds as "no drift". */
function withUnchecked(result: RunResult, unchecked: UncheckedNode[]): RunResult {
  result.unchecked = unchecked;
  if (!unchecked.length) return result;
  result.summary.unchecked = unchecked.length;
  if (result.status === 'succeeded') result.status = 'failed';
  return result;
}

/** The node's entry in the drift result: what was found (and healed), at which commit. */
function nodeResult(run: EngineRun, t: DriftTarget, unmet: string | undefined, heal: boolean): NodeResult {
  const r = resultOf(run, t.path);
  r.commit = t.run.input.commit;
  if (r.host === null) r.host = t.host;
  if (unmet !== undefined && r.state === 'ready') r.reason = `healed (${unmet})`;
  else if (!SETTLED.has(t.recorded.state) && (r.state === 'ready' || r.state === 'drifted')) {
    // Left as recorded: its last apply did not finish it, so the next apply retries it whatever the host looks like.
    const what = r.state === 'drifted' ? (r.reason ?? 'drifted') : 'no drift';
    r.reason = `${what}; recorded ${t.recorded.state}, left to the next apply${heal && r.state === 'drifted' ? ' (not healed)' : ''}`;
  }
  return r;
}

type TargetJob = SchedulerNode & { target: DriftTarget };

/** Dry-runs every target on its host; settled nodes are recorded drifted, or ready again once the host matches. */
async function dryRunTargets(
  run: EngineRun,
  targets: DriftTarget[],
  history: HeldHistory,
): Promise<ScheduledOutcome[]> {
  return schedule<TargetJob>({
    nodes: targets.map((t) => ({ path: t.path, host: t.host, dependsOn: [], target: t })),
    concurrency: run.input.concurrency ?? run.env.defaults.concurrency,
    outside: () => undefined,
    runNode: async (job, signal) => {
      const { target } = job;
      // A node left unsettled by its last apply keeps its record: its dry run is reported, not recorded.
      history.hold(target.path);
      const out = await runTasksOf(target.run, target.node, { dryRun: true, signal });
      await settle(history, target.run, target.path, SETTLED.has(target.recorded.state), out);
      return out;
    },
    signal: run.input.signal,
    graceMs: run.input.graceMs,
    onEvent: run.emit,
  });
}

/**
 * `plan --live`: dry-runs every planned node with a host. Only unchanged nodes get their drift recorded; the others'
 * dry runs are reported but leave no record (a node never applied stays unrecorded, never "configuring").
 */
async function liveDryRun(run: EngineRun, plan: Plan): Promise<RunResult> {
  const started = Date.now();
  const history = holdHistory(run);
  const planned = plan.nodes.filter((p) => p.node && hostOf(run, p.node) !== null);
  const jobs = planned.map((p): SchedulerNode & { planned: PlannedNode } => ({
    path: p.path,
    host: p.host,
    dependsOn: [],
    planned: p,
  }));
  const outcomes = await schedule({
    nodes: jobs,
    concurrency: run.input.concurrency ?? run.env.defaults.concurrency,
    outside: () => undefined,
    runNode: async (job, signal) => {
      history.hold(job.path);
      const out = await runTasksOf(run, job.planned.node as ResolvedNode, {
        dryRun: true,
        signal,
        action: job.planned.action,
      });
      await settle(history, run, job.path, job.planned.action === 'unchanged', out);
      return out;
    },
    signal: run.input.signal,
    graceMs: run.input.graceMs,
    onEvent: run.emit,
  });
  const byPath = new Map(outcomes.map((o) => [o.path, o]));
  const nodes = plan.nodes.map((p) => {
    const r = resultOf(run, p.path, p.action);
    if (r.host === null) r.host = p.host;
    const o = byPath.get(p.path);
    if (o && o.state === null) r.reason = o.reason; // interrupted before it started: state as recorded
    return r;
  });
  const interrupted = outcomes.some((o) => o.state === null) || !!run.input.signal?.aborted;
  return buildResult({
    runId: run.runId,
    kind: 'plan-live',
    environment: run.env.name,
    commit: run.input.commit,
    nodes,
    interrupted,
    startedMs: started,
  });
}

interface HeldHistory {
  /** Holds back the node's task outcomes and log until `keep` or `drop`. */
  hold(path: string): void;
  keep(path: string): Promise<void>;
  drop(path: string): void;
}

/**
 * Makes the run's store hold back the per-node history (task outcomes, logs) of held nodes: written with the node's
 * state when a dry run records one, dropped otherwise, since on its own it would open a node_run that says
 * "configuring" forever (a node never applied, a node left to the next apply, a host that could not be reached).
 */
function holdHistory(run: EngineRun): HeldHistory {
  const base = run.input.store;
  const held = new Map<string, (() => Promise<void>)[]>();
  const later = (path: string, write: () => Promise<void>) => {
    const writes = held.get(path);
    if (!writes) return write();
    writes.push(write);
    return Promise.resolve();
  };
  const store: StateStore = Object.assign(Object.create(base) as StateStore, {
    recordTask: (runId: string, path: string, r: Parameters<StateStore['recordTask']>[2]) =>
      later(path, () => base.recordTask(runId, path, r)),
    appendLog: (runId: string, path: string, text: string) => later(path, () => base.appendLog(runId, path, text)),
  });
  run.input = { ...run.input, store };
  return {
    hold: (path) => void held.set(path, []),
    async keep(path) {
      const writes = held.get(path) ?? [];
      held.delete(path);
      for (const write of writes) await write();
    },
    drop: (path) => void held.delete(path),
  };
}

/**
 * After a dry run: its history and state are recorded when `recordable` and the host could be checked, else neither.
 */
async function settle(
  history: HeldHistory,
  run: EngineRun,
  path: string,
  recordable: boolean,
  out: { state: string; reason?: string },
): Promise<void> {
  if (!recordable || out.state === 'failed') return history.drop(path);
  await history.keep(path);
  await recordDryRun(run, path, out);
}

/** A settled node's drift is recorded (drifted, or ready again once the host matches). */
async function recordDryRun(run: EngineRun, path: string, out: { state: string; reason?: string }): Promise<void> {
  // Recorded either way, so the run's history lists every node checked.
  if (out.state === 'drifted') await transition(run, path, 'drifted', { reason: out.reason });
  else await transition(run, path, 'ready', { reason: null });
}

/** Meets the drifted targets, each at the commit it was applied from, in dependency order. */
async function healTargets(
  run: EngineRun,
  drifted: DriftTarget[],
  rollouts: RolloutStop[],
): Promise<ScheduledOutcome[]> {
  const inRun = new Set(drifted.map((t) => t.path));
  return schedule<TargetJob>({
    nodes: drifted.map((t) => ({
      path: t.path,
      host: t.host,
      dependsOn: t.node.dependsOn,
      rollout: t.node.rollout,
      target: t,
    })),
    concurrency: run.input.concurrency ?? run.env.defaults.concurrency,
    outside: (path) => {
      if (inRun.has(path)) return undefined;
      const r = run.results.get(path);
      const rec = run.recorded.get(path);
      const state = r && r.state !== 'failed' ? r.state : rec?.state;
      return state ? { state, hasHost: !!(r?.host ?? rec?.host) } : undefined;
    },
    runNode: (job, signal) => runTasksOf(job.target.run, job.target.node, { dryRun: false, signal }),
    signal: run.input.signal,
    graceMs: run.input.graceMs,
    onEvent: run.emit,
    onSettled: async (job, outcome) => {
      if (outcome.state === 'blocked')
        await transition(job.target.run, job.path, 'blocked', { reason: outcome.reason });
    },
    onRolloutStopped: (stop) => rollouts.push(stop),
  });
}
