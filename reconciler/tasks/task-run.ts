/**
 * What every task runner of a node shares: the connection, the options of the run, redaction and logging.
 */
import { StringDecoder } from 'node:string_decoder';
import type { ExecOptions } from '../../kernel/exec-options.js';
import type { ExecResult, FailureReason, HostConnection, TaskResult } from '../../kernel/types.js';
import type { Redactor } from './redactor.js';

export interface RunNodeTasksOptions {
  dryRun: boolean;
  /** From ensureDeps; null when the node has no babushka tasks. */
  remoteDepsDir: string | null;
  /** Per task. */
  timeoutMs: number;
  /** Secret values by NAME (as in `${secret.NAME}`; upper-case names and POLITBURO_SECRET_NAME keys are found too). */
  secrets: Record<string, string>;
  /** For the symbolic `${address(PATH)}` / `${addresses(PATH)}` of on-demand hosts, by PATH. */
  addresses?: Record<string, string>;
  signal?: AbortSignal;
  onTaskStart?(name: string): void;
  onTaskFinished?(r: TaskResult): void;
  /** Output as it arrives, secrets already redacted. */
  onLog?(text: string): void;
}

/** A task result; failures carry the reason (TaskFailed or TaskTimeout). */
export type NodeTaskResult = TaskResult & { reason?: FailureReason };

export interface TaskRun {
  conn: HostConnection;
  opts: RunNodeTasksOptions;
  redactor: Redactor;
  /** Results already passed to onTaskFinished (live, by the batch runner). */
  emitted: Set<NodeTaskResult>;
}

/** The exec of a connection with Politburo's extra options (stdin, live stdout); other connections ignore them. */
export function execOn(conn: HostConnection, command: string, opts: ExecOptions): Promise<ExecResult> {
  return (conn.exec as (c: string, o: ExecOptions) => Promise<ExecResult>)(command, opts);
}

/** The last `n` lines of a command's output (stdout, then stderr), secrets redacted. */
export function outputTail(run: TaskRun, r: { stdout: string; stderr: string }, n = 20): string {
  const text = [r.stdout.trimEnd(), r.stderr.trimEnd()].filter(Boolean).join('\n');
  return run.redactor.redact(text.split('\n').slice(-n).join('\n'));
}

/** Passes output to onLog line by line, so a secret is never split across two calls and escapes redaction. */
export function lineLogger(run: TaskRun): { write(chunk: Buffer | string): void; flush(): void } {
  let pending = '';
  const decoder = new StringDecoder('utf8'); // a chunk may end inside a multi-byte character
  return {
    write(chunk) {
      pending += typeof chunk === 'string' ? chunk : decoder.write(chunk);
      const cut = pending.lastIndexOf('\n');
      if (cut < 0 || run.redactor.multiline) return; // a secret spanning lines: hold everything until flush
      run.opts.onLog?.(run.redactor.redact(pending.slice(0, cut + 1)));
      pending = pending.slice(cut + 1);
    },
    flush() {
      pending += decoder.end();
      if (pending) run.opts.onLog?.(run.redactor.redact(pending.endsWith('\n') ? pending : pending + '\n'));
      pending = '';
    },
  };
}

/** `15m`, `90s`, `1.5s`: for timeout messages. */
export function formatDuration(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${(ms / 1000).toFixed(1)}s`;
}

export function timeoutResult(name: string, timeoutMs: number, started: number, tail: string): NodeTaskResult {
  const message =
    `task '${name}' exceeded the timeout of ${formatDuration(timeoutMs)} and was killed (TaskTimeout)` +
    (tail ? `\n${tail}` : '');
  return { name, outcome: 'failed', reason: 'TaskTimeout', message, durationMs: Date.now() - started };
}

export function failedResult(name: string, message: string, started: number): NodeTaskResult {
  return { name, outcome: 'failed', reason: 'TaskFailed', message, durationMs: Date.now() - started };
}
