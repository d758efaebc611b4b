/**
 * A shell task: `met` says whether the host is as wanted (exit 0); `meet` makes it so. Dry runs only ask `met`.
 * With `become`, both run through sudo (become.ts).
 */
import type { ExecResult, ShellTask } from '../../kernel/types.js';
import { resolveTaskValue, TaskValueError } from './resolve-task-value.js';
import { becomeCommand, prepareBecome } from './become.js';
import {
  execOn,
  failedResult,
  lineLogger,
  outputTail,
  timeoutResult,
  type NodeTaskResult,
  type TaskRun,
} from './task-run.js';

/** Runs one shell task: met → (meet → met) unless dry-run. */
export async function runShellTask(run: TaskRun, task: ShellTask): Promise<NodeTaskResult> {
  const started = Date.now();
  let met: string;
  let meet: string;
  try {
    met = resolveTaskValue(task.met, run.opts);
    meet = resolveTaskValue(task.meet, run.opts);
  } catch (err) {
    if (err instanceof TaskValueError) return failedResult(task.name, err.message, started);
    throw err;
  }
  const become = task.become && (await prepareBecome(run, task.become, null));
  if (become && !become.ok) return failedResult(task.name, become.message, started);
  const step = async (label: string, command: string): Promise<ExecResult> => {
    const log = lineLogger(run);
    run.opts.onLog?.(`--- ${task.name}: ${label}\n`);
    const remaining = Math.max(1, run.opts.timeoutMs - (Date.now() - started));
    const escalated = become ? becomeCommand(command, task.become!, { password: become.stdin !== undefined }) : command;
    const r = await execOn(run.conn, escalated, {
      timeoutMs: remaining,
      signal: run.opts.signal,
      stdin: become ? become.stdin : undefined,
      onStdout: (d) => log.write(d),
    });
    log.flush();
    if (r.stderr) run.opts.onLog?.(run.redactor.redact(r.stderr.endsWith('\n') ? r.stderr : r.stderr + '\n'));
    return r;
  };
  const done = (outcome: NodeTaskResult['outcome'], message?: string): NodeTaskResult => ({
    name: task.name,
    outcome,
    ...(message ? { message } : {}),
    durationMs: Date.now() - started,
  });

  const first = await step('met', met);
  if (first.timedOut) return timeoutResult(task.name, run.opts.timeoutMs, started, outputTail(run, first));
  if (first.code === 0) return done('already met');
  if (run.opts.dryRun) return done('unmet', `met exited with status ${first.code}`);
  const meetRun = await step('meet', meet);
  if (meetRun.timedOut) return timeoutResult(task.name, run.opts.timeoutMs, started, outputTail(run, meetRun));
  if (meetRun.code !== 0) {
    return failedResult(
      task.name,
      `meet exited with status ${meetRun.code}\n${outputTail(run, meetRun)}`.trimEnd(),
      started,
    );
  }
  const again = await step('met', met);
  if (again.timedOut) return timeoutResult(task.name, run.opts.timeoutMs, started, outputTail(run, again));
  if (again.code === 0) return done('met');
  const tail = outputTail(run, { stdout: meetRun.stdout + again.stdout, stderr: meetRun.stderr + again.stderr });
  return failedResult(
    task.name,
    `meet ran but the task is still not met (met exited with status ${again.code})\n${tail}`.trimEnd(),
    started,
  );
}
