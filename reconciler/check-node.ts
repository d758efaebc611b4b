/**
 * The work of a node checked in parallel (check-first.ts; docs/architecture.md, "apply --all: checked in parallel"):
 * which nodes of an apply are candidates, their read-only check, and the records of one that counts as met.
 *
 * The check runs the node's tasks exactly as its run would (same connection, user, `become`, arguments resolved the
 * same way, the same timeout per task) but as a dry run: Babushka with `--dry-run`, which evaluates `met?` blocks and
 * meets nothing, and a shell task's `met` command alone. Nothing about it is recorded while it runs; its output is kept
 * until the scheduler decides. A node that counts as met gets the records its run would have left, saying how it was
 * found: every task `already met`, the check's output as its log, `ready` at the spec it was applied at. A node that
 * runs in order after all gets only the records of that run, whose log starts with why.
 *
 * The check does not look for the deps directory first (deps-unchecked.ts): where the connection says where the deps
 * would be (`depsDirFor`), the check's Babushka command `cd`s there directly; only when that `cd` fails (a new host, or
 * deps changed since they were shipped) are they shipped, as a run ships them, and the node checked again. Tasks with
 * `become` and connections that cannot say (the local machine) ship the deps first, as a run does.
 *
 * A check that could not connect to the node's host (the connector's connect failed, after its own retries: refused,
 * timed out, reset, authentication or host key refused) is final for the node: its run, in dependency order, fails with
 * that error without connecting again (`connectFailed`, given to runTasksOf), and so records what a run that cannot
 * connect records. A check that connected and whose command failed or timed out is only discarded: the run decides.
 */
import { connectDepsUnchecked, depsMissing, depsShippedNote } from './deps-unchecked.js';
import { connectAhead, connectNode, errorReason, hostOf, type EngineRun } from './run-engine.js';
import { resultOf, transition } from './run-node.js';
import type { CheckOutcome } from './scheduler.js';
import { runNodeTasks } from './tasks/run-node-tasks.js';
import type { PlanAction, PlannedNode, ResolvedNode, TaskResult } from '../kernel/types.js';

/** The reason recorded for a node that counts as met, and the message of each of its tasks. */
export const CHECKED_REASON = 'checked in parallel: every task already met';
export const CHECKED_TASK_MESSAGE = 'checked in parallel (read only)';
/** How the reason of a check that could not connect starts (the connection error follows). */
export const CONNECT_FAILED = 'its host could not be connected to (its run does not try again)';

/** What a node's check found; kept until the node counts as met or runs in order. */
export interface NodeCheck extends CheckOutcome {
  tasks: TaskResult[];
  /** The check's output, redacted. */
  log: string;
  host: string | null;
  startedAt: string;
  finishedAt: string;
  /**
   * Set when the check could not connect to the host: what the connector's connect rejected with. The node's run fails
   * with it instead of connecting again.
   */
  connectFailed?: { error: unknown };
}

/**
 * A candidate to be checked in parallel: planned `unchanged` (recorded at the spec it is applied at) and recorded
 * `ready` (not `drifted`: a node known to have drifted runs in order at once), with its host known. check-first.ts adds
 * what depends on the other nodes of the run.
 */
export function mayCheckFirst(run: EngineRun, p: PlannedNode): boolean {
  const node = p.node;
  const rec = p.recorded;
  if (!node || !rec || p.action !== 'unchanged') return false;
  return rec.state === 'ready' && rec.specHash === node.specHash && hostOf(run, node) !== null;
}

/** Checks a node's tasks on its host, read only; records nothing and emits no event. */
export async function checkNode(run: EngineRun, node: ResolvedNode, signal: AbortSignal): Promise<NodeCheck> {
  const startedAt = new Date().toISOString();
  const host = hostOf(run, node);
  let log = '';
  const done = (met: boolean, tasks: TaskResult[], reason?: string): NodeCheck => ({
    met,
    reason,
    tasks,
    log,
    host: host?.label ?? null,
    startedAt,
    finishedAt: new Date().toISOString(),
  });
  if (!host) return done(false, [], 'its host is not known');
  try {
    await connectAhead(run, host);
  } catch (error) {
    return { ...done(false, [], `${CONNECT_FAILED}: ${errorReason(error)}`), connectFailed: { error } };
  }
  try {
    // Connected: the connection is shared (connectNode gets the same one).
    const { conn, remoteDepsDir, unchecked } = await connectDepsUnchecked(run, node, host);
    const check = (dir: string | null) =>
      runNodeTasks(conn, node, {
        dryRun: true,
        remoteDepsDir: dir,
        timeoutMs: run.env.defaults.timeoutMs,
        secrets: run.input.secrets,
        addresses: run.addresses,
        signal,
        onLog: (text) => (log += text),
      });
    let tasks = await check(remoteDepsDir);
    if (unchecked && tasks.some((t) => t.outcome === 'failed' && depsMissing(t.message, unchecked))) {
      // Not there (a new host, or the deps changed since): shipped as a run ships them, then checked again.
      const shipped = await connectNode(run, node, host);
      log = depsShippedNote(unchecked);
      tasks = await check(shipped.remoteDepsDir);
    }
    const plain = tasks.map(({ name, outcome, message, durationMs }) => ({ name, outcome, message, durationMs }));
    const failed = tasks.find((t) => t.outcome === 'failed');
    if (failed) return done(false, plain, `the check failed: task '${failed.name}': ${firstLine(failed.message)}`);
    const unmet = tasks.filter((t) => t.outcome !== 'already met').map((t) => `'${t.name}'`);
    return unmet.length ? done(false, plain, `found unmet: ${unmet.join(', ')}`) : done(true, plain);
  } catch (err) {
    return done(false, [], `the check could not run: ${errorReason(err)}`);
  }
}

/**
 * Records a node that counts as met: its tasks (already met, checked in parallel), the check's output as its log and
 * `ready` at its spec, written together; emits what its run would have (each task finished, the state).
 */
export async function recordChecked(
  run: EngineRun,
  node: ResolvedNode,
  check: NodeCheck,
  action: PlanAction,
): Promise<{ state: 'ready'; reason: string }> {
  const result = resultOf(run, node.path, action);
  const tasks = check.tasks.map((t) => ({ ...t, message: CHECKED_TASK_MESSAGE }));
  Object.assign(result, { tasks, startedAt: check.startedAt, finishedAt: check.finishedAt });
  if (check.host !== null) result.host = check.host;
  const store = run.input.store;
  const log = (msg: string) => (e: Error) => run.input.log?.(`recording ${msg} of ${node.path} failed: ${e.message}`);
  for (const t of tasks) run.emit({ type: 'task-finished', path: node.path, result: t });
  // The tasks one after the other (their records keep the tasks' order), alongside the log and the state.
  const recordTasks = async () => {
    for (const t of tasks) {
      const { name, outcome, message, durationMs } = t;
      await store.recordTask(run.runId, node.path, { name, outcome, message, durationMs }).catch(log('a task'));
    }
  };
  await Promise.all([
    recordTasks(),
    store.appendLog(run.runId, node.path, `--- ${CHECKED_REASON} (read only)\n${check.log}`).catch(log('the log')),
    transition(run, node.path, 'ready', { reason: CHECKED_REASON, applied: node }),
  ]);
  return { state: 'ready', reason: CHECKED_REASON };
}

/** The first line of the log of a node that was checked first but runs in order: why. */
export function checkedPreface(reason: string): string {
  return `--- checked in parallel (read only), not counted as met: ${reason}; run in dependency order\n`;
}

function firstLine(text: string | undefined): string {
  return (
    (text ?? '')
      .split('\n')
      .find((l) => l.trim())
      ?.trim()
      .slice(0, 300) ?? ''
  );
}
