/**
 * The durable queue's worker: graphile-worker run programmatically on our pg pool, with the task list the composition
 * root injects. We own signals and shutdown (noHandleSignals), and crash recovery (heartbeat.ts) instead of
 * graphile-worker's 4-hour lock timeout.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { Logger as GraphileLogger, run, runMigrations, type ParsedCronItem, type Runner, type TaskList, type WorkerEvents, type WorkerPool } from 'graphile-worker';
import type { Logger } from '../logger.js';
import { heartbeat, recoverStaleWorkers, registerProcess, unregisterProcess } from './heartbeat.js';
import { wrapTaskList } from './wrap-task.js';
import type { DeliveryGate } from './delivery-gate.js';
import { ensureDeliveryTask } from '../../webhooks/store-delivery.js';

export interface QueueWorkerOptions {
  pool: pg.Pool;
  taskList: TaskList;
  /** Jobs this process runs at once. */
  concurrency: number;
  logger: Logger;
  heartbeatIntervalMs: number;
  staleAfterMs: number;
  /** Test seam: each job waits this long before its handler. */
  testJobDelayMs?: number;
  /** How often to look for jobs scheduled in the future (retries); new jobs arrive by LISTEN/NOTIFY at once. */
  pollIntervalMs?: number;
  /** Schedules (e.g. drift checks), passed to graphile-worker's cron. */
  parsedCronItems?: ParsedCronItem[];
  /** This process's identity in controller_processes (default: a random UUID). */
  processId?: string;
  /** Holds `github-delivery` jobs to one at a time during webhook bursts (see delivery-gate.ts); none: no limit. */
  deliveryGate?: DeliveryGate;
}

export interface QueueWorker {
  processId: string;
  /** graphile-worker's pool id: what `locked_by` says for this process's jobs. */
  workerPoolId: string;
  events: WorkerEvents;
  /** Stops taking jobs, waits up to graceMs for running ones, then releases them to the queue; resolves when stopped. */
  stop(graceMs: number): Promise<void>;
  /** Settles when the worker stops (rejects if it stopped on an error). */
  promise: Promise<void>;
}

/** graphile-worker's logger, routed into pino (its `info` chatter goes to debug). */
export function graphileLogger(logger: Logger): GraphileLogger {
  const log = logger.child({ component: 'queue' });
  return new GraphileLogger(() => (level, message, meta) => {
    const fields = meta && 'error' in meta ? { err: meta.error } : {};
    if (level === 'error') log.error(fields, message);
    else if (level === 'warning') log.warn(fields, message);
    else log.debug(fields, message);
  });
}

/** A dropped connection (idle or checked out) must be logged, never crash the process; graphile-worker checks for these. */
export function attachPoolErrorHandlers(pool: pg.Pool, logger: Logger): void {
  if (pool.listenerCount('connect') > 0 && pool.listenerCount('error') > 0) return;
  const log = logger.child({ component: 'db' });
  pool.on('error', (err) => log.warn({ err }, 'idle database connection lost'));
  pool.on('connect', (client) => {
    client.on('error', (err) => log.warn({ err }, 'database connection lost'));
  });
}

/** Installs or upgrades graphile-worker's own schema (idempotent); the webhook path needs it before the worker runs. */
export async function ensureQueueSchema(pool: pg.Pool, logger: Logger): Promise<void> {
  attachPoolErrorHandlers(pool, logger);
  await runMigrations({ pgPool: pool, logger: graphileLogger(logger) });
  await ensureDeliveryTask(pool);
}

/** Starts the worker pool, registers this process's heartbeat and recovers jobs of dead processes at once and then periodically. */
export async function startQueueWorker(opts: QueueWorkerOptions): Promise<QueueWorker> {
  const processId = opts.processId ?? randomUUID();
  const log = opts.logger.child({ component: 'queue', process: processId });
  const events: WorkerEvents = new EventEmitter();
  let workerPool: WorkerPool | null = null;
  events.on('pool:create', (e) => {
    workerPool = e.workerPool;
  });
  await registerProcess(opts.pool, processId, null);
  await recover(opts, log);
  let runner: Runner;
  try {
    runner = await run({
      pgPool: opts.pool,
      taskList: wrapTaskList(opts.taskList, { logger: opts.logger, pool: opts.pool, testJobDelayMs: opts.testJobDelayMs ?? 0, deliveryGate: opts.deliveryGate }),
      concurrency: opts.concurrency,
      noHandleSignals: true,
      pollInterval: opts.pollIntervalMs ?? 2000,
      parsedCronItems: opts.parsedCronItems ?? [],
      logger: graphileLogger(opts.logger),
      events,
    });
  } catch (err) {
    await unregisterProcess(opts.pool, processId).catch(() => {});
    throw err;
  }
  const pool = workerPool as WorkerPool | null;
  if (!pool) throw new Error('graphile-worker started without announcing its worker pool');
  const poolId = pool.id;
  await registerProcess(opts.pool, processId, poolId);
  log.info({ workerPool: poolId, concurrency: opts.concurrency }, 'queue worker started');
  let beating: Promise<void> | null = null;
  const timer = setInterval(() => {
    beating ??= beat(opts, processId, poolId, log).finally(() => (beating = null));
  }, opts.heartbeatIntervalMs);
  timer.unref();
  let stopping: Promise<void> | null = null;
  return {
    processId,
    workerPoolId: poolId,
    events,
    promise: runner.promise,
    stop(graceMs) {
      stopping ??= stopWorker(runner, pool, graceMs, log).finally(async () => {
        clearInterval(timer);
        // A heartbeat still in flight would re-register the row just removed.
        await beating;
        await settleOwnLocks(opts.pool, poolId, log);
        await unregisterProcess(opts.pool, processId).catch((err) => log.warn({ err }, 'could not remove the heartbeat row'));
      });
      return stopping;
    },
  };
}

async function beat(opts: QueueWorkerOptions, processId: string, poolId: string, log: Logger): Promise<void> {
  try {
    if (!(await heartbeat(opts.pool, processId, poolId))) {
      log.error('this process had been declared dead (heartbeat too old: was the event loop or the database stuck?); re-registered');
    }
    await recover(opts, log);
  } catch (err) {
    log.warn({ err }, 'heartbeat failed; retrying at the next interval');
  }
}

async function recover(opts: QueueWorkerOptions, log: Logger): Promise<void> {
  const unlocked = await recoverStaleWorkers(opts.pool, opts.staleAfterMs);
  if (unlocked.length) log.warn({ workerPools: unlocked }, 'released the jobs of dead controller processes');
}

/**
 * graphile-worker reports a pool stopped while the last completions may still be on their way to the database: wait
 * for them briefly, then unlock whatever this pool still holds so another process takes it now rather than after
 * the stale limit.
 */
async function settleOwnLocks(pool: pg.Pool, poolId: string, log: Logger): Promise<void> {
  try {
    for (let i = 0; i < 40; i++) {
      const { rowCount } = await pool.query(`SELECT 1 FROM graphile_worker._private_jobs WHERE locked_by = $1 LIMIT 1`, [poolId]);
      if (!rowCount) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    log.warn('jobs still locked after stopping: releasing them');
    await pool.query(`SELECT graphile_worker.force_unlock_workers($1::text[])`, [[poolId]]);
  } catch (err) {
    log.warn({ err }, 'could not check for jobs left locked; another process will recover them after the stale limit');
  }
}

async function stopWorker(runner: Runner, pool: WorkerPool, graceMs: number, log: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const graceful = runner.stop().then(() => 'stopped' as const);
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), graceMs);
  });
  const first = await Promise.race([graceful, timeout]).catch((err) => {
    log.warn({ err }, 'queue worker stopped with an error');
    return 'stopped' as const;
  });
  clearTimeout(timer);
  if (first === 'timeout') {
    log.warn({ graceMs }, 'jobs still running after the grace period: releasing them to the queue');
    // runner.kill() does nothing once a graceful shutdown is under way: go to the pool, which fails (releases) the jobs.
    await Promise.resolve(pool.forcefulShutdown(`grace period of ${graceMs} ms over`)).catch((err) => log.warn({ err }, 'forceful shutdown failed'));
  }
  await runner.promise.catch(() => {});
}
