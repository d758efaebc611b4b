/**
 * A babushka task, one Babushka process: `cd DIR && babushka meet 'DEP' name=value ... --defaults --no-color
 * [--dry-run] </dev/null 2>&1`, then its output read into an outcome. With `become`, through sudo (become.ts).
 */
import { quoteShell } from '../../kernel/quote-shell.js';
import type { BabushkaTask, ExecResult } from '../../kernel/types.js';
import { depOutcome, parseBabushkaOutput, unmetDeps, type ParsedDep } from './parse-babushka-output.js';
import { resolveTaskValue, TaskValueError } from './resolve-task-value.js';
import { becomeCommand, prepareBecome, type BecomeReady } from './become.js';
import {
  execOn,
  failedResult,
  lineLogger,
  outputTail,
  timeoutResult,
  type NodeTaskResult,
  type RunNodeTasksOptions,
  type TaskRun,
} from './task-run.js';

/**
 * The command line meeting one dep; every argument is one safely quoted shell word. Babushka writes an exception's
 * message, the detailed-log line and `NAME <- this dep isn't defined!` on stderr and the rest on stdout: both go to one
 * stream, so they are read in the order written, as a terminal shows them.
 */
export function babushkaCommand(dir: string, dep: string, args: [string, string][], dryRun: boolean): string {
  const words = [
    'babushka',
    'meet',
    quoteShell(dep),
    ...args.map(([k, v]) => quoteShell(`${k}=${v}`)),
    '--defaults',
    '--no-color',
  ];
  if (dryRun) words.push('--dry-run');
  return `cd ${quoteShell(dir)} && ${words.join(' ')} </dev/null 2>&1`;
}

/** Resolves a task's arguments (secrets, addresses) in key order; throws TaskValueError. */
export function resolveArgs(opts: RunNodeTasksOptions, task: BabushkaTask): [string, string][] {
  return Object.keys(task.args)
    .sort()
    .map((k) => [k, resolveTaskValue(task.args[k], opts)] as [string, string]);
}

/** Runs one babushka task in its own process. */
export async function runBabushkaTask(run: TaskRun, task: BabushkaTask, dir: string): Promise<NodeTaskResult> {
  const started = Date.now();
  let args: [string, string][];
  try {
    args = resolveArgs(run.opts, task);
  } catch (err) {
    if (err instanceof TaskValueError) return failedResult(task.name, err.message, started);
    throw err;
  }
  const become = task.become && (await prepareBecome(run, task.become, dir));
  if (become && !become.ok) return failedResult(task.name, become.message, started);
  const command = babushkaCommand(become ? become.dir! : dir, task.dep, args, run.opts.dryRun);
  const log = lineLogger(run);
  const r = await execOn(run.conn, become ? escalate(command, task, become) : command, {
    timeoutMs: run.opts.timeoutMs,
    signal: run.opts.signal,
    stdin: become ? become.stdin : undefined,
    onStdout: (d) => log.write(d),
  });
  log.flush();
  if (r.stderr) run.opts.onLog?.(run.redactor.redact(r.stderr));
  if (r.timedOut) return timeoutResult(task.name, run.opts.timeoutMs, started, outputTail(run, r));
  const parsed = parseBabushkaOutput(r.stdout);
  const dep = parsed.roots.find((d) => d.name === task.dep);
  const result = resultFromDep(run, task, dep, r, started);
  const expectedCode = result.outcome === 'already met' || result.outcome === 'met' ? 0 : 1;
  if (result.outcome !== 'failed' && r.code !== expectedCode) {
    return failedResult(task.name, `babushka exited with status ${r.code}\n${outputTail(run, r)}`.trimEnd(), started);
  }
  return result;
}

/** A Babushka command run as the task's become user (become.ts). */
export function escalate(command: string, task: BabushkaTask, ready: BecomeReady & { ok: true }): string {
  return becomeCommand(command, task.become!, { password: ready.stdin !== undefined, babushka: true });
}

/** Maps what Babushka reported for a task's dep (and its exit status) to the task's result. */
export function resultFromDep(
  run: TaskRun,
  task: BabushkaTask,
  dep: ParsedDep | undefined,
  r: ExecResult,
  started: number,
  durationMs?: number,
): NodeTaskResult {
  const duration = durationMs ?? Date.now() - started;
  const failed = (why: string): NodeTaskResult => ({
    name: task.name,
    outcome: 'failed',
    reason: 'TaskFailed',
    message: `${why}\n${outputTail(run, r)}`.trimEnd(),
    durationMs: duration,
  });
  if (!dep) {
    if (r.code === 127) return failed(`babushka is not installed on the host (not found on PATH)`);
    return failed(`babushka did not report on dep '${task.dep}' (exit status ${r.code})`);
  }
  const outcome = depOutcome(dep);
  if (dep.undefinedDep) return failed(`dep '${task.dep}' isn't defined in the deps directory`);
  if (outcome === 'failed')
    return failed(
      dep.status === 'open'
        ? `babushka stopped with an error while meeting '${task.dep}'`
        : `'${task.dep}' could not be met`,
    );
  if (outcome === 'unmet') {
    if (!run.opts.dryRun) return failed(`'${task.dep}' is still unmet`);
    return {
      name: task.name,
      outcome,
      message: run.redactor.redact(`unmet: ${unmetDeps(dep).join(', ')}`),
      durationMs: duration,
    };
  }
  return { name: task.name, outcome, durationMs: duration };
}
