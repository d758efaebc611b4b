/**
 * A node's output and running task, written to the store while its tasks run (docs/controller.md, "Live updates"), so
 * the dashboard can show them before the node finishes. Writes are coalesced: output is appended at most once per
 * interval, and a task start is recorded only when the task is still running at the end of an interval. A node whose
 * tasks finish within one interval costs exactly one write, at the end, as before.
 */
import type { StateStore } from '../kernel/types.js';

/** How often a running node's new output is written. */
export const LIVE_LOG_INTERVAL_MS = 1000;

export interface LiveLog {
  /** Output as it arrives (already redacted). */
  write(text: string): void;
  taskStarted(task: string): void;
  taskFinished(): void;
  /** Writes what is left and waits for every write; the log is complete when it resolves. */
  finish(): Promise<void>;
}

export function liveLog(
  store: Pick<StateStore, 'appendLog' | 'taskStarted'>,
  runId: string,
  path: string,
  opts: { intervalMs?: number; onError?: (err: Error) => void } = {},
): LiveLog {
  const intervalMs = opts.intervalMs ?? LIVE_LOG_INTERVAL_MS;
  let buffered = '';
  let task: string | null = null;
  let taskWritten = false;
  let timer: NodeJS.Timeout | null = null;
  // Writes run one after the other, so the stored log keeps the order of the output.
  let chain: Promise<void> = Promise.resolve();
  const enqueue = (write: () => Promise<void>) => {
    chain = chain.then(write).catch((err: Error) => opts.onError?.(err));
  };
  const flush = () => {
    timer = null;
    const text = buffered;
    buffered = '';
    if (text) enqueue(() => store.appendLog(runId, path, text));
    if (task !== null && !taskWritten && store.taskStarted) {
      taskWritten = true;
      const name = task;
      enqueue(() => store.taskStarted!(runId, path, name));
    }
  };
  const arm = () => {
    if (!timer) {
      timer = setTimeout(flush, intervalMs);
      timer.unref();
    }
  };
  return {
    write(text) {
      if (!text) return;
      buffered += text;
      arm();
    },
    taskStarted(name) {
      task = name;
      taskWritten = false;
      arm();
    },
    taskFinished() {
      task = null;
    },
    async finish() {
      if (timer) clearTimeout(timer);
      task = null;
      flush();
      await chain;
    },
  };
}
