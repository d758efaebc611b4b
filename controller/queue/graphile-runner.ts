/**
 * One graphile-worker runner (a worker pool) on our pg pool: started, and stopped with a grace period. The queue worker
 * (queue-worker.ts) keeps one running, replacing it when it dies.
 *
 * Completions and failures of jobs are batched (`completeJobBatchDelay` / `failJobBatchDelay` 0). Unbatched,
 * graphile-worker 0.17 calls them without awaiting them, so a connection lost while a job is marked done (PostgreSQL
 * restarted, a failover, pgbouncer cut it) becomes an unhandled rejection that ends the process. Batched, the same
 * failure is caught by graphile-worker: it reports `pool:fatalError` and shuts that pool down gracefully, which is
 * what the queue worker watches for.
 */
import type { EventEmitter } from 'node:events';
import type pg from 'pg';
import {
  Logger as GraphileLogger,
  run,
  type Runner,
  type TaskList,
  type WorkerEvents,
  type WorkerPool,
} from 'graphile-worker';
import type { Logger } from '../logger.js';
import { errorFields } from '../logger.js';

export interface RunnerOptions {
  pool: pg.Pool;
  /** Already wrapped (wrap-task.ts). */
  taskList: TaskList;
  concurrency: number;
  pollIntervalMs: number;
  logger: Logger;
  /** Shared by every runner of the process. */
  events: WorkerEvents;
}

/** A started runner and the worker pool it runs: `poolId` is what `locked_by` says for its jobs. */
export interface RunningPool {
  runner: Runner;
  workerPool: WorkerPool;
  poolId: string;
}

/** graphile-worker's logger, routed into pino (its `info` chatter goes to debug; errors as message and code only). */
export function graphileLogger(logger: Logger): GraphileLogger {
  const log = logger.child({ component: 'queue' });
  return new GraphileLogger(() => (level, message, meta) => {
    const error = meta?.error ?? meta?.fatalError;
    const fields = error ? { error: errorFields(error) } : {};
    if (level === 'error') log.error(fields, message);
    else if (level === 'warning') log.warn(fields, message);
    else log.debug(fields, message);
  });
}

/** Starts a runner; resolves once its worker pool exists. */
export async function startRunner(opts: RunnerOptions): Promise<RunningPool> {
  let created: WorkerPool | null = null;
  const onCreate = (e: { workerPool: WorkerPool }) => {
    created = e.workerPool;
  };
  (opts.events as EventEmitter).on('pool:create', onCreate);
  try {
    const runner = await run({
      pgPool: opts.pool,
      taskList: opts.taskList,
      concurrency: opts.concurrency,
      noHandleSignals: true,
      pollInterval: opts.pollIntervalMs,
      // Drift schedules are our own (controller/jobs/drift-schedule.ts), not graphile-worker's cron.
      parsedCronItems: [],
      logger: graphileLogger(opts.logger),
      events: opts.events,
      preset: { worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
    });
    const workerPool = created as WorkerPool | null;
    if (!workerPool) {
      await runner.stop().catch(() => undefined);
      throw new Error('graphile-worker started without announcing its worker pool');
    }
    return { runner, workerPool, poolId: workerPool.id };
  } finally {
    (opts.events as EventEmitter).off('pool:create', onCreate);
  }
}

/**
 * Stops a runner: no new jobs, up to graceMs for the running ones, then they are released to the queue. Resolves when
 * the runner has stopped; never rejects.
 */
export async function stopRunner(running: RunningPool, graceMs: number, log: Logger): Promise<void> {
  const { runner, workerPool } = running;
  let timer: NodeJS.Timeout | undefined;
  const graceful = runner.stop().then(() => 'stopped' as const);
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), graceMs);
  });
  const first = await Promise.race([graceful, timeout]).catch((err) => {
    // "Runner is already stopped": it died on its own; waiting for its promise below is all there is to do.
    log.debug({ error: errorFields(err) }, 'queue worker stopped with an error');
    return 'stopped' as const;
  });
  clearTimeout(timer);
  if (first === 'timeout') {
    log.warn({ graceMs }, 'jobs still running after the grace period: releasing them to the queue');
    // runner.kill() does nothing once a graceful shutdown is under way: go to the pool, which fails (releases) the
    // jobs.
    // It releases the jobs with a query; when that cannot finish (the database away), the stale-lock recovery of
    // the next process releases them: never wait for it forever.
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.resolve(workerPool.forcefulShutdown(`grace period of ${graceMs} ms over`)).catch((err) =>
        log.warn({ error: errorFields(err) }, 'forceful shutdown failed'),
      ),
      new Promise<void>((resolve) => {
        bound = setTimeout(() => {
          log.warn({ workerPool: running.poolId }, 'the forceful shutdown did not finish; its jobs are released later');
          resolve();
        }, 10_000);
      }),
    ]);
    clearTimeout(bound);
  }
  // A runner whose completion batch failed may never settle (graphile-worker waits for it forever): don't hang on it.
  let last: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    runner.promise.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => (last = setTimeout(() => resolve(false), 5000))),
  ]);
  clearTimeout(last);
  if (!settled)
    log.warn({ workerPool: running.poolId }, 'the worker pool did not report its end; its jobs are released anyway');
}
