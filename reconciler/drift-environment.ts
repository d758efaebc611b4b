/**
 * Drift (SPEC §2): dry-run every applied node on its host; unmet tasks make it `drifted` (the reason lists them). With
 * heal, the drifted nodes are then met, in dependency order, and recorded ready. A live plan is the static plan plus
 * the same dry-run, recorded as a `plan-live` run.
 */
import { collectResults, recordedRun } from './apply-environment.js';
import { planEnvironment } from './plan-environment.js';
import { environmentOf, hostOf, type EngineInput, type EngineRun } from './run-engine.js';
import { withEnvironmentLock } from './run-lock.js';
import { resultOf, runTasksOf, transition } from './run-node.js';
import { buildResult } from './run-result.js';
import { schedule, type ScheduledOutcome, type SchedulerNode } from './scheduler.js';
import type { Plan, PlannedNode, ResolvedNode, RunResult } from './types.js';

export type DriftInput = EngineInput & { heal: boolean };

/** Dry-runs every applied node of the environment; with `heal`, meets the drifted ones. */
export async function driftEnvironment(input: DriftInput): Promise<RunResult> {
  const env = environmentOf(input);
  return withEnvironmentLock(input.store, input.repository, env.name, () => recordedRun(input, 'drift', (run) => drift(run, input.heal)), {
    log: input.log,
    signal: input.signal,
  });
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
        return dryRunAll(run, plan, { onlyApplied: false });
      }),
    { log: input.log, signal: input.signal },
  );
  return { plan: plan!, result };
}

async function drift(run: EngineRun, heal: boolean): Promise<RunResult> {
  // Plan, to know which nodes are applied and unchanged: only those can drift.
  const plan = planEnvironment(run.env, [...run.recorded.values()], run.input.commit);
  // Dry-run them all at once: a dry-run changes nothing, so order does not matter.
  const checked = await dryRunAll(run, plan, { onlyApplied: true });
  if (!heal || checked.status === 'cancelled') return checked;
  // Heal: meet the drifted nodes in dependency order.
  const drifted = checked.nodes.filter((n) => n.state === 'drifted').map((n) => plan.nodes.find((p) => p.path === n.path)!);
  if (drifted.length === 0) return checked;
  const started = Date.now() - checked.durationMs;
  // Results are updated in place by the heal: remember what the dry run found first.
  const found = new Map(checked.nodes.filter((n) => n.state === 'drifted').map((n) => [n.path, n.reason]));
  const outcomes = await healNodes(run, drifted);
  const nodes = checked.nodes.map((n) => {
    if (!found.has(n.path)) return n;
    const r = collectResults(run, [plan.nodes.find((p) => p.path === n.path)!], outcomes)[0];
    // Say what was found even though it is fixed now: `healed (unmet: ...)`.
    if (r.state === 'ready') r.reason = `healed (${found.get(n.path)})`;
    return r;
  });
  const interrupted = outcomes.some((o) => o.reason?.startsWith('Interrupted'));
  const result = buildResult({ runId: run.runId, kind: 'drift', environment: run.env.name, commit: run.input.commit, nodes, interrupted, startedMs: started });
  result.summary.healed = nodes.filter((n) => n.reason?.startsWith('healed')).length;
  return result;
}

/**
 * Dry-runs nodes: `onlyApplied` limits it to nodes applied and unchanged (drift); otherwise every node with a host
 * (live plan). Unchanged nodes found drifted (or no longer drifted) are recorded so.
 */
async function dryRunAll(run: EngineRun, plan: Plan, opts: { onlyApplied: boolean }): Promise<RunResult> {
  const started = Date.now();
  const planned = plan.nodes.filter((p) => p.node && (!opts.onlyApplied || p.action === 'unchanged') && hostOf(run, p.node) !== null);
  const jobs = planned.map((p): SchedulerNode & { planned: PlannedNode } => ({ path: p.path, host: p.host, dependsOn: [], planned: p }));
  const outcomes = await schedule({
    nodes: jobs,
    concurrency: run.input.concurrency ?? run.env.defaults.concurrency,
    outside: () => undefined,
    runNode: async (job, signal) => {
      const out = await runTasksOf(run, job.planned.node as ResolvedNode, { dryRun: true, signal, action: job.planned.action });
      await recordDryRun(run, job.planned, out);
      return out;
    },
    signal: run.input.signal,
    graceMs: run.input.graceMs,
    onEvent: run.emit,
  });
  const nodes = collectResults(run, planned, outcomes);
  // Nodes not dry-run are still reported (live plans show every planned node).
  const rest = opts.onlyApplied ? [] : plan.nodes.filter((p) => !planned.includes(p)).map((p) => resultOf(run, p.path, p.action));
  const interrupted = outcomes.some((o) => o.state === null) || !!run.input.signal?.aborted;
  const kind = opts.onlyApplied ? 'drift' : 'plan-live';
  return buildResult({ runId: run.runId, kind, environment: run.env.name, commit: run.input.commit, nodes: [...nodes, ...rest], interrupted, startedMs: started });
}

/** An unchanged node's drift is recorded (drifted, or ready again once the host matches); failures only in the run. */
async function recordDryRun(run: EngineRun, planned: PlannedNode, out: { state: string; reason?: string }): Promise<void> {
  if (planned.action !== 'unchanged' || out.state === 'failed') return;
  // Recorded either way, so the run's history lists every node checked.
  if (out.state === 'drifted') await transition(run, planned.path, 'drifted', { reason: out.reason });
  else await transition(run, planned.path, 'ready', { reason: null });
}

async function healNodes(run: EngineRun, drifted: PlannedNode[]): Promise<ScheduledOutcome[]> {
  const inRun = new Set(drifted.map((p) => p.path));
  return schedule({
    nodes: drifted.map((p) => ({ path: p.path, host: p.host, dependsOn: (p.node as ResolvedNode).dependsOn, planned: p })),
    concurrency: run.input.concurrency ?? run.env.defaults.concurrency,
    outside: (path) => {
      if (inRun.has(path)) return undefined;
      const r = run.results.get(path);
      const rec = run.recorded.get(path);
      const state = r && r.state !== 'failed' ? r.state : rec?.state;
      return state ? { state, hasHost: !!(r?.host ?? rec?.host) } : undefined;
    },
    runNode: (job, signal) => runTasksOf(run, job.planned.node as ResolvedNode, { dryRun: false, signal, action: job.planned.action }),
    signal: run.input.signal,
    graceMs: run.input.graceMs,
    onEvent: run.emit,
    onSettled: async (job, outcome) => {
      if (outcome.state === 'blocked') await transition(run, job.path, 'blocked', { reason: outcome.reason });
    },
  });
}
