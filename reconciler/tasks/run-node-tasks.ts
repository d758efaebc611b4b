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
import { becomeCommand } from './become.js';
import { TaskValueError } from './resolve-task-value.js';
import { babushkaBatchCommand, runBabushkaBatch } from './run-babushka-batch.js';
import { babushkaCommand, resolveArgs, runBabushkaTask } from './run-babushka-task.js';
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
  const step = babushkaStep(run.opts, tasks, i);
  if ('error' in step) {
    run.opts.onTaskStart?.(task.name);
    return [failedResult(task.name, step.error, started)];
  }
  const { batch, args } = step;
  if (batch.length === 1) {
    run.opts.onTaskStart?.(task.name);
    return [await runBabushkaTask(run, task, dir)];
  }
  return runBabushkaBatch(run, batch, args, dir);
}

/**
 * The babushka tasks one Babushka process runs from `i` on (a batch ends where the become setting changes, or before a
 * task whose arguments do not resolve), with their arguments; the error of the task at `i` when its own do not.
 */
function babushkaStep(
  opts: RunNodeTasksOptions,
  tasks: TaskSpec[],
  i: number,
): { batch: BabushkaTask[]; args: [string, string][][] } | { error: string } {
  const task = tasks[i];
  const batch: BabushkaTask[] = [];
  const args: [string, string][][] = [];
  const sameBecome = (t: TaskSpec) => JSON.stringify(t.become ?? null) === JSON.stringify(task.become ?? null);
  for (let j = i; j < tasks.length && tasks[j].kind === 'babushka' && sameBecome(tasks[j]); j++) {
    try {
      args.push(resolveArgs(opts, tasks[j] as BabushkaTask));
      batch.push(tasks[j] as BabushkaTask);
    } catch (err) {
      if (!(err instanceof TaskValueError)) throw err;
      if (batch.length > 0) break; // run what precedes it; this task fails on its own turn
      return { error: err.message };
    }
  }
  return { batch, args };
}

/** Whether the node's first task is Babushka run as the SSH user, or as root through sudo without a password. */
export function mayHoldFirst(node: ResolvedNode): boolean {
  const first = node.tasks[0];
  if (first?.kind !== 'babushka') return false;
  return !first.become || (first.become.user === 'root' && first.become.password === undefined);
}

/**
 * The command of the node's first step when it is a Babushka process, run as the SSH user or escalated to root without
 * a password (sudo's stdin is then free for the release, and root reads the SSH user's deps and hold FIFO where they
 * are: become.ts), whose arguments resolve now: what may be started ahead and held (docs/babushka.md, "Started ahead");
 * null otherwise. It is the very command the step will run, so the step's exec releases the held process (a command
 * that changed meanwhile, say an address that became known, simply runs afresh).
 */
export function firstBabushkaCommand(node: ResolvedNode, opts: RunNodeTasksOptions): string | null {
  const first = node.tasks[0];
  const dir = opts.remoteDepsDir;
  if (!mayHoldFirst(node) || first?.kind !== 'babushka' || dir === null) return null;
  const step = babushkaStep(opts, node.tasks, 0);
  if ('error' in step) return null;
  const { batch, args } = step;
  const command =
    batch.length === 1
      ? babushkaCommand(dir, batch[0].dep, args[0], opts.dryRun)
      : babushkaBatchCommand(batch, args, dir, opts.dryRun);
  return first.become ? becomeCommand(command, first.become, { password: false, babushka: true }) : command;
}
