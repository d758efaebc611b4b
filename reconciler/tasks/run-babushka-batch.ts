/**
 * Consecutive babushka tasks of a node in ONE Babushka process, through a generated dep that requires them all
 * (see generated-dep.ts). Output is read as it streams, so each task still gets its own start, duration and timeout.
 */
import { quoteShell } from '../../kernel/quote-shell.js';
import { PolitburoError, type BabushkaTask, type ExecResult } from '../../kernel/types.js';
import { generateDep } from './generated-dep.js';
import { StringDecoder } from 'node:string_decoder';
import { BabushkaOutputParser, type ParsedDep } from './parse-babushka-output.js';
import { babushkaCommand, escalate, resultFromDep } from './run-babushka-task.js';
import { prepareBecome } from './become.js';
import {
  execOn,
  failedResult,
  lineLogger,
  outputTail,
  timeoutResult,
  type NodeTaskResult,
  type TaskRun,
} from './task-run.js';

/**
 * The command: writes the generated dep (`content`, in a here-document) into the deps directory once (atomically),
 * then meets it. The command reads no stdin, so the channel's stdin stays its lifeline (see hosts/remote-command.ts).
 */
export function batchCommand(
  dir: string,
  fileName: string,
  depName: string,
  args: [string, string][],
  dryRun: boolean,
  content: string,
): string {
  const file = quoteShell(`babushka-deps/${fileName}`);
  const tmp = `babushka-deps/.${fileName}.$$`;
  let delimiter = 'POLITBURO_GENERATED_DEP';
  while (content.split('\n').includes(delimiter)) delimiter += '_';
  const write = `{ test -f ${file} || { cat > ${tmp} <<'${delimiter}' && mv -f ${tmp} ${file}; }; }`;
  const body = content.endsWith('\n') ? content : `${content}\n`;
  // A replacer function: in a replacement string `$$` (the shell's pid in the temp file's name) would become `$`.
  const command = babushkaCommand(dir, depName, args, dryRun).replace(
    / && babushka meet /,
    () => ` && ${write} && babushka meet `,
  );
  return `${command}\n${body}${delimiter}\n`;
}

/** The command running `tasks` (arguments resolved, in key order) in one Babushka process, in `dir`. */
export function babushkaBatchCommand(
  tasks: BabushkaTask[],
  args: [string, string][][],
  dir: string,
  dryRun: boolean,
): string {
  const gen = generateDep(tasks);
  const cliArgs = gen.params.flatMap((ps, i) => ps.map((p, j) => [p.param, args[i][j][1]] as [string, string]));
  return batchCommand(dir, gen.fileName, gen.name, cliArgs, dryRun, gen.content);
}

interface Progress {
  text: string;
  parser: BabushkaOutputParser;
  starts: number[];
  ends: number[];
  timedOutIndex: number;
  /** Results known before the process ended (a task closed ✓ or ~), already passed to onTaskFinished. */
  live: NodeTaskResult[];
  /** Set when the run was cancelled or the connection lost during the process. */
  stopped?: PolitburoError;
}

/**
 * Runs the tasks (arguments already resolved, in key order) and returns results for the tasks up to and including the
 * first failure; the caller skips the rest.
 */
export async function runBabushkaBatch(
  run: TaskRun,
  tasks: BabushkaTask[],
  args: [string, string][][],
  dir: string,
): Promise<NodeTaskResult[]> {
  const started = Date.now();
  // The tasks of a batch share their become (run-node-tasks.ts).
  const become = tasks[0].become && (await prepareBecome(run, tasks[0].become, dir));
  if (become && !become.ok) {
    run.opts.onTaskStart?.(tasks[0].name);
    return [failedResult(tasks[0].name, become.message, started)];
  }
  if (become) dir = become.dir!;
  const gen = generateDep(tasks);
  const progress: Progress = {
    text: '',
    parser: new BabushkaOutputParser(),
    starts: [],
    ends: [],
    timedOutIndex: -1,
    live: [],
  };
  const decoder = new StringDecoder('utf8');
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort();
  run.opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const log = lineLogger(run);
  const children = () => progress.parser.roots.find((d) => d.name === gen.name)?.children ?? [];
  let running = true;
  const update = () => {
    children().forEach((child, i) => {
      if (i >= tasks.length) return;
      if (progress.starts[i] === undefined) {
        progress.starts[i] = Date.now();
        run.opts.onTaskStart?.(tasks[i].name);
        clearTimeout(timer);
        if (running) timer = setTimeout(() => ((progress.timedOutIndex = i), controller.abort()), run.opts.timeoutMs);
      }
      if (child.status !== 'open' && progress.ends[i] === undefined) {
        progress.ends[i] = Date.now();
        clearTimeout(timer);
        if (running) reportLive(run, tasks, i, child, progress);
      }
    });
  };
  let r: ExecResult;
  try {
    const command = babushkaBatchCommand(tasks, args, dir, run.opts.dryRun);
    r = await execOn(run.conn, become ? escalate(command, tasks[0], become) : command, {
      // Backstop for output that does not stream; per-task timers above do the precise work.
      timeoutMs: run.opts.timeoutMs * tasks.length + 5000,
      signal: controller.signal,
      stdin: become ? become.stdin : undefined,
      onStdout: (d) => {
        const text = decoder.write(d);
        progress.text += text;
        progress.parser.push(text);
        update();
        log.write(d);
      },
    });
  } catch (err) {
    if (!(err instanceof PolitburoError) || (err.reason !== 'Interrupted' && err.reason !== 'HostUnreachable'))
      throw err;
    const ourTimeout = progress.timedOutIndex >= 0 && !run.opts.signal?.aborted && err.reason === 'Interrupted';
    if (!ourTimeout) progress.stopped = err; // what finished before still counts
    r = { code: null, stdout: progress.text, stderr: '', timedOut: ourTimeout };
  } finally {
    running = false;
    clearTimeout(timer);
    run.opts.signal?.removeEventListener('abort', onOuterAbort);
    log.flush();
  }
  if (r.stderr) run.opts.onLog?.(run.redactor.redact(r.stderr));
  const rest = decoder.end();
  progress.text += rest;
  progress.parser.push(rest);
  if (progress.text === '') {
    progress.text = r.stdout; // a connection that does not stream output
    progress.parser.push(r.stdout);
  }
  progress.parser.end();
  update();
  return batchResults(run, tasks, children(), r, progress, started);
}

/**
 * Reports a task as soon as Babushka closes its block, unless it failed (its message wants the whole tail) or is the
 * last one (the exit status may still change it).
 */
function reportLive(run: TaskRun, tasks: BabushkaTask[], i: number, child: ParsedDep, progress: Progress): void {
  if (i === tasks.length - 1 || child.name !== tasks[i].dep) return;
  const partial: ExecResult = { code: null, stdout: progress.text, stderr: '', timedOut: false };
  const result = resultFromDep(
    run,
    tasks[i],
    child,
    partial,
    progress.starts[i],
    progress.ends[i] - progress.starts[i],
  );
  if (result.outcome === 'failed') return;
  if (result.message !== undefined) result.message = run.redactor.redact(result.message);
  progress.live[i] = result;
  run.emitted.add(result);
  run.opts.onTaskFinished?.(result);
}

function batchResults(
  run: TaskRun,
  tasks: BabushkaTask[],
  children: ParsedDep[],
  r: ExecResult,
  progress: Progress,
  started: number,
): NodeTaskResult[] {
  const results: NodeTaskResult[] = [];
  for (let i = 0; i < tasks.length; i++) {
    const task = tasks[i];
    const child = children[i];
    const t0 = progress.starts[i] ?? started;
    let result: NodeTaskResult;
    if (progress.live[i]) {
      result = progress.live[i];
    } else if (progress.stopped && (!child || child.status === 'open' || progress.ends[i] === undefined)) {
      result = {
        name: task.name,
        outcome: 'failed',
        reason: progress.stopped.reason,
        message: progress.stopped.message,
        durationMs: Date.now() - t0,
      };
    } else if (progress.timedOutIndex === i || (r.timedOut && (!child || child.status === 'open'))) {
      result = timeoutResult(task.name, run.opts.timeoutMs, t0, outputTail(run, r));
    } else if (!child) {
      const why =
        r.code === 127
          ? 'babushka is not installed on the host (not found on PATH)'
          : `babushka stopped before '${task.dep}' (exit status ${r.code})`;
      result = failedResult(task.name, `${why}\n${outputTail(run, r)}`.trimEnd(), t0);
    } else if (child.name !== task.dep) {
      result = failedResult(
        task.name,
        `babushka reported '${child.name}' where '${task.dep}' was expected\n${outputTail(run, r)}`,
        t0,
      );
    } else {
      const duration = progress.ends[i] !== undefined ? progress.ends[i] - t0 : undefined;
      result = resultFromDep(run, task, child, r, t0, duration);
    }
    results.push(result);
    if (result.outcome === 'failed') break;
  }
  if (progress.stopped) return results;
  const allGood = results.length === tasks.length && results.every((x) => x.outcome !== 'failed');
  const expected = results.every((x) => x.outcome === 'met' || x.outcome === 'already met') ? 0 : 1;
  if (allGood && r.code !== expected) {
    const last = results.length - 1;
    results[last] = failedResult(
      tasks[last].name,
      `babushka exited with status ${r.code}\n${outputTail(run, r)}`.trimEnd(),
      started,
    );
  }
  return results;
}
