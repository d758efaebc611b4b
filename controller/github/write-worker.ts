/**
 * Runs the write queues in this process: drains a queue as soon as something is added to it here, and sweeps every
 * queue with due writes periodically (writes added by other replicas, retries after backoff or a rate limit).
 */
import type pg from 'pg';
import { drainQueue, type DrainOptions, type MinimalLogger, type NewWrite, type WriteSender } from './write-queue.js';
import { dueWriteQueues, enqueueWrite, unsentWrites } from '../store/github-writes.js';

interface WriteWorkerOptions extends DrainOptions {
  pool: pg.Pool;
  sender: WriteSender;
  logger: MinimalLogger;
  /** How often every queue is swept for due writes (default 2 s). */
  pollIntervalMs?: number;
}

export interface WriteWorker {
  enqueue(write: NewWrite): Promise<void>;
  /** Drains every queue that has due writes. */
  drainAll(): Promise<void>;
  /** Drains until no unsent write is left or `timeoutMs` passed; returns how many are left. */
  flush(opts?: { timeoutMs?: number }): Promise<number>;
  start(): void;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Creates the worker; `start()` begins the periodic sweep. */
export function createWriteWorker(opts: WriteWorkerOptions): WriteWorker {
  const running = new Map<string, Promise<void>>();
  const again = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  let interval: NodeJS.Timeout | null = null;
  let stopped = false;

  const later = (queue: string, at: number) => {
    if (stopped) return;
    const t = setTimeout(
      () => {
        timers.delete(t);
        void kick(queue);
      },
      Math.max(0, Math.min(at - Date.now(), 3_600_000)) + 5,
    );
    t.unref();
    timers.add(t);
  };

  // One drain per queue at a time in this process; a kick during a drain runs it once more afterwards.
  function kick(queue: string): Promise<void> {
    const current = running.get(queue);
    if (current) {
      again.add(queue);
      return current;
    }
    const p = (async () => {
      do {
        again.delete(queue);
        try {
          const r = await drainQueue(opts.pool, queue, opts.sender, opts);
          if (r.blockedUntil) later(queue, r.blockedUntil);
        } catch (err) {
          opts.logger.error(
            { queue, err: (err as Error).message },
            'draining the GitHub write queue failed; will retry',
          );
          later(queue, Date.now() + (opts.pollIntervalMs ?? 2_000));
        }
      } while (again.has(queue) && !stopped);
    })().finally(() => {
      running.delete(queue);
      // A kick that came after the loop's last check but before this point is not lost.
      if (again.has(queue) && !stopped) void kick(queue);
    });
    running.set(queue, p);
    return p;
  }

  async function drainAll(): Promise<void> {
    const queues = await dueWriteQueues(opts.pool);
    await Promise.all(queues.map((queue) => kick(queue)));
  }

  return {
    async enqueue(write) {
      await enqueueWrite(opts.pool, write);
      void kick(write.queue);
    },
    drainAll,
    async flush({ timeoutMs = 10_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        await Promise.all(running.values());
        await drainAll();
        const { count, dueInMs } = await unsentWrites(opts.pool);
        if (count === 0 || Date.now() >= deadline) return count;
        await sleep(Math.max(10, Math.min(dueInMs ?? 50, deadline - Date.now(), 1_000)));
      }
    },
    start() {
      if (interval) return;
      interval = setInterval(() => {
        drainAll().catch((err) =>
          opts.logger.error({ err: (err as Error).message }, 'sweeping GitHub write queues failed'),
        );
      }, opts.pollIntervalMs ?? 2_000);
      interval.unref();
    },
    async stop() {
      stopped = true;
      if (interval) clearInterval(interval);
      for (const t of timers) clearTimeout(t);
      await Promise.allSettled(running.values());
    },
  };
}
