/**
 * Runs a node's tasks on its host, in order: babushka tasks through Babushka, shell tasks as met/meet commands. A
 * failed
 * task fails the node and the remaining tasks are skipped. Secrets are substituted only here, at execution, and
 * redacted from every message and log.
 */
import {
  PolitburoError,
  type BabushkaTask,
  type HostConnection,
  type ResolvedNode,
  type TaskSpec,
} from '../../kernel/types.js';
import { Redactor } from './redactor.js';
import { TaskValueError } from './resolve-task-value.js';
import { runBabushkaBatch } from './run-babushka-batch.js';
import { resolveArgs, runBabushkaTask } from './run-babushka-task.js';
import { runShellTask } from './run-shell-task.js';
import { failedResult, type NodeTaskResult, type RunNodeTasksOptions, type TaskRun } from './task-run.js';

export type { NodeTaskResult, RunNodeTasksOptions } from './task-run.js';

/**
 * Runs every task of `node` over `conn`; returns one result per task, in order. A cancelled run or a lost connection
 * fails the task it interrupted (reason Interrupted / HostUnreachable) and skips the rest.
 */
export async function runNodeTasks(
  conn: HostConnection,
  node: ResolvedNode,
  opts: RunNodeTasksOptions,
): Promise<NodeTaskResult[]> {
  const run: TaskRun = { conn, opts, redactor: new Redactor(Object.values(opts.secrets)), emitted: new Set() };
  const results: NodeTaskResult[] = [];
  const tasks = node.tasks;
  while (results.length < tasks.length) {
    const failed = results.some((r) => r.outcome === 'failed');
    if (failed) {
      const skipped: NodeTaskResult = {
        name: tasks[results.length].name,
        outcome: 'skipped',
        message: 'an earlier task of this node failed',
      };
      results.push(skipped);
      opts.onTaskFinished?.(skipped);
      continue;
    }
    for (const r of await runStepSafely(run, tasks, results.length)) {
      const redacted = r.message === undefined ? r : { ...r, message: run.redactor.redact(r.message) };
      results.push(redacted);
      if (!run.emitted.has(r)) opts.onTaskFinished?.(redacted);
    }
  }
  return results;
}

/**
 * A step that could not finish because the run was cancelled (Interrupted) or the host went away (HostUnreachable)
 * becomes a failed task with that reason, so the results still say what ran before it.
 */
async function runStepSafely(run: TaskRun, tasks: TaskSpec[], i: number): Promise<NodeTaskResult[]> {
  const started = Date.now();
  try {
    return await runStep(run, tasks, i);
  } catch (err) {
    if (!(err instanceof PolitburoError)) throw err;
    return [
      {
        name: tasks[i].name,
        outcome: 'failed',
        reason: err.reason,
        message: err.message,
        durationMs: Date.now() - started,
      },
    ];
  }
}

/**
 * Runs the task at `i` and, for a babushka task, the babushka tasks right after it: one Babushka process for the run of
 * them, through a generated dep that requires them all (a lone task runs its dep directly). Returns their results.
 */
async function runStep(run: TaskRun, tasks: TaskSpec[], i: number): Promise<NodeTaskResult[]> {
  const task = tasks[i];
  const started = Date.now();
  if (task.kind === 'shell') {
    run.opts.onTaskStart?.(task.name);
    return [await runShellTask(run, task)];
  }
  const dir = run.opts.remoteDepsDir;
  if (dir === null) {
    run.opts.onTaskStart?.(task.name);
    return [
      failedResult(
        task.name,
        'the deps directory is not on the host (no remoteDepsDir given for a babushka task)',
        started,
      ),
    ];
  }
  const batch: BabushkaTask[] = [];
  const args: [string, string][][] = [];
  // One Babushka process runs as one user: a batch ends where the become setting changes.
  const sameBecome = (t: TaskSpec) => JSON.stringify(t.become ?? null) === JSON.stringify(task.become ?? null);
  for (let j = i; j < tasks.length && tasks[j].kind === 'babushka' && sameBecome(tasks[j]); j++) {
    try {
      args.push(resolveArgs(run, tasks[j] as BabushkaTask));
      batch.push(tasks[j] as BabushkaTask);
    } catch (err) {
      if (!(err instanceof TaskValueError)) throw err;
      if (batch.length > 0) break; // run what precedes it; this task fails on its own turn
      run.opts.onTaskStart?.(task.name);
      return [failedResult(task.name, err.message, started)];
    }
  }
  if (batch.length === 1) {
    run.opts.onTaskStart?.(task.name);
    return [await runBabushkaTask(run, task, dir)];
  }
  return runBabushkaBatch(run, batch, args, dir);
}
