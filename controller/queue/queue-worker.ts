/**
 * The durable queue's worker: graphile-worker run programmatically on our pg pool, with the task list the composition
 * root injects. We own signals and shutdown (noHandleSignals), and crash recovery (heartbeat.ts) instead of
 * graphile-worker's 4-hour lock timeout.
 *
 * A lost database connection must not stop the queue for good: when graphile-worker cannot record a job's completion
 * or failure it shuts its worker pool down (graphile-runner.ts). This process then starts a new pool at once (retrying
 * while the database is away) and lets the old one finish the jobs it runs. The old pool stays registered in
 * `controller_processes` (as `<process>~<pool>`) until it has stopped, so no process takes its running jobs; then the
 * jobs it still holds (the one whose completion was lost) are released and run again. Job handlers are idempotent
 * (a delivery already processed is not processed again), so a job runs to completion once.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { runMigrations, type TaskList, type WorkerEvents } from 'graphile-worker';
import { errorFields, type Logger } from '../logger.js';
import { heartbeat, recoverStaleWorkers, registerProcess, unregisterProcess } from './heartbeat.js';
import { workerPoolRestarts } from '../metrics.js';
import { wrapTaskList } from './wrap-task.js';
import type { DeliveryGate } from './delivery-gate.js';
import { ensureDeliveryTask } from '../store/ingest-deliveries.js';
import { graphileLogger, startRunner, stopRunner, type RunningPool } from './graphile-runner.js';
import {
  checkGraphileWorkerPackage,
  checkQueueSchema,
  countJobsLockedBy,
  forceUnlockWorkers,
  holdsLockedJob,
} from '../store/graphile-queue.js';

export { graphileLogger } from './graphile-runner.js';

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
  /** This process's identity in controller_processes (default: a random UUID). */
  processId?: string;
  /** Holds `github-delivery` jobs to one at a time during webhook bursts (see delivery-gate.ts); none: no limit. */
  deliveryGate?: DeliveryGate;
  /** Longest wait between attempts to start a new worker pool while the database is away (default 10 s). */
  maxRestartDelayMs?: number;
}

export interface QueueWorker {
  processId: string;
  /** graphile-worker's pool id: what `locked_by` says for this process's jobs (changes when the pool is replaced). */
  readonly workerPoolId: string;
  events: WorkerEvents;
  /** Worker pools started so far (1 + the replacements after lost connections). */
  readonly generations: number;
  /**
   * Stops taking jobs, waits up to graceMs for running ones, then releases them to the queue; resolves when stopped.
   */
  stop(graceMs: number): Promise<void>;
  /** Settles when the worker has stopped. */
  promise: Promise<void>;
}

/**
 * A dropped connection (idle or checked out) must be logged, never crash the process; graphile-worker checks for these.
 */
function attachPoolErrorHandlers(pool: pg.Pool, logger: Logger): void {
  if (pool.listenerCount('connect') > 0 && pool.listenerCount('error') > 0) return;
  const log = logger.child({ component: 'db' });
  pool.on('error', (err) => log.warn({ error: errorFields(err) }, 'idle database connection lost'));
  pool.on('connect', (client) => {
    client.on('error', (err) => log.warn({ error: errorFields(err) }, 'database connection lost'));
  });
}

/**
 * Installs or upgrades graphile-worker's own schema (idempotent); the webhook path needs it before the worker runs.
 * Refuses (QueueSchemaMismatchError) an installed graphile-worker, or a schema in the database, other than the one
 * controller/store/graphile-queue.ts was written for: the package is checked before its migrations can touch the
 * database, the database after them (a newer replica may have migrated it further).
 */
export async function ensureQueueSchema(pool: pg.Pool, logger: Logger): Promise<void> {
  attachPoolErrorHandlers(pool, logger);
  checkGraphileWorkerPackage();
  await runMigrations({ pgPool: pool, logger: graphileLogger(logger) });
  await checkQueueSchema(pool);
  await ensureDeliveryTask(pool);
}

/**
 * Starts the worker pool, registers this process's heartbeat and recovers jobs of dead processes at once and then
 * periodically. Needs the queue schema (ensureQueueSchema); refuses one other than written for, as that does.
 */
export async function startQueueWorker(opts: QueueWorkerOptions): Promise<QueueWorker> {
  const processId = opts.processId ?? randomUUID();
  const log = opts.logger.child({ component: 'queue', process: processId });
  const events: WorkerEvents = new EventEmitter();
  // The schema ensureQueueSchema installed, still the one written for (another replica may have migrated it since).
  checkGraphileWorkerPackage();
  await checkQueueSchema(opts.pool);
  await registerProcess(opts.pool, processId, null);
  await recover(opts, log);
  const runnerOptions = {
    pool: opts.pool,
    taskList: wrapTaskList(opts.taskList, {
      logger: opts.logger,
      pool: opts.pool,
      testJobDelayMs: opts.testJobDelayMs ?? 0,
      deliveryGate: opts.deliveryGate,
    }),
    concurrency: opts.concurrency,
    pollIntervalMs: opts.pollIntervalMs ?? 2000,
    logger: opts.logger,
    events,
  };
  let current: RunningPool;
  try {
    current = await startRunner(runnerOptions);
    await registerProcess(opts.pool, processId, current.poolId);
  } catch (err) {
    await unregisterProcess(opts.pool, processId).catch(() => {});
    throw err;
  }
  log.info({ workerPool: current.poolId, concurrency: opts.concurrency }, 'queue worker started');
  /** Pools being replaced, still finishing their jobs: their controller_processes row id. */
  const draining = new Map<RunningPool, string>();
  let generations = 1;
  let stopping: Promise<void> | null = null;
  let replacing: Promise<void> | null = null;
  let finished!: () => void;
  const promise = new Promise<void>((resolve) => (finished = resolve));

  // A pool that shuts down without being asked to (a lost connection made graphile-worker give up on it) is replaced.
  const replaceIfCurrent = (poolId: string, why: string) => {
    if (stopping || replacing || poolId !== current.poolId) return;
    replacing = replace(why).finally(() => (replacing = null));
  };
  const watch = (running: RunningPool) => {
    void running.runner.promise
      .catch(() => undefined)
      .then(() => replaceIfCurrent(running.poolId, 'the worker pool stopped'));
  };
  events.on('pool:gracefulShutdown', ({ workerPool, message }) => replaceIfCurrent(workerPool.id, message));
  watch(current);

  async function replace(why: string): Promise<void> {
    const old = current;
    const drainId = `${processId}~${old.poolId}`;
    draining.set(old, drainId);
    log.warn(
      { workerPool: old.poolId, reason: why },
      'the worker pool is shutting down on its own (lost database connection?): starting a new one',
    );
    void retire(old, drainId);
    for (let attempt = 0; !stopping; attempt++) {
      try {
        // The old pool's running jobs stay claimed by a live row until it has stopped (see module comment).
        if (draining.has(old)) await registerProcess(opts.pool, drainId, old.poolId);
        const next = await startRunner(runnerOptions);
        current = next;
        generations++;
        workerPoolRestarts.inc();
        watch(next);
        await registerProcess(opts.pool, processId, next.poolId).catch((err) =>
          log.warn({ error: errorFields(err) }, 'could not register the new worker pool yet'),
        );
        log.info({ workerPool: next.poolId, replaced: old.poolId }, 'queue worker running again');
        return;
      } catch (err) {
        const wait = Math.min(opts.maxRestartDelayMs ?? 10_000, 250 * 2 ** attempt);
        log.warn({ error: errorFields(err), retryInMs: wait }, 'could not start a new worker pool (database away?)');
        await delay(wait);
      }
    }
  }

  // A replaced pool has finished the jobs it was running: release what it still holds and forget its row. Its runner
  // may never settle (graphile-worker can wait forever on a completion batch that failed), so idle is enough.
  async function retire(old: RunningPool, drainId: string): Promise<void> {
    let settled = false;
    void old.runner.promise.catch(() => undefined).then(() => (settled = true));
    while (!settled && !stopping && old.workerPool._workers.some((w) => w.getActiveJob())) await delay(200);
    // The database may still be away: keep the row (and so the claim) until the release has gone through.
    for (
      let attempt = 0;
      !stopping && draining.has(old) && !(await settleOwnLocks(opts.pool, old.poolId, log));
      attempt++
    ) {
      await delay(Math.min(5000, 250 * 2 ** attempt));
    }
    if (stopping || !draining.has(old)) return;
    await unregisterProcess(opts.pool, drainId).catch(() => undefined);
    draining.delete(old);
    log.info({ workerPool: old.poolId }, 'the replaced worker pool has finished its jobs');
  }

  let beating: Promise<void> | null = null;
  const timer = setInterval(() => {
    beating ??= beat(opts, processId, current.poolId, draining, log).finally(() => (beating = null));
  }, opts.heartbeatIntervalMs);
  timer.unref();
  return {
    processId,
    get workerPoolId() {
      return current.poolId;
    },
    get generations() {
      return generations;
    },
    events,
    promise,
    stop(graceMs) {
      stopping ??= (async () => {
        await replacing;
        const pools = [current, ...draining.keys()];
        await Promise.all(pools.map((p) => stopRunner(p, graceMs, log)));
        clearInterval(timer);
        // A heartbeat still in flight would re-register the rows just removed.
        await beating;
        for (const p of pools) {
          await settleOwnLocks(opts.pool, p.poolId, log);
          const row = draining.get(p);
          if (row) await unregisterProcess(opts.pool, row).catch(() => undefined);
        }
        draining.clear();
        await unregisterProcess(opts.pool, processId).catch((err) =>
          log.warn({ error: errorFields(err) }, 'could not remove the heartbeat row'),
        );
      })().finally(finished);
      return stopping;
    },
  };
}

async function beat(
  opts: QueueWorkerOptions,
  processId: string,
  poolId: string,
  draining: Map<RunningPool, string>,
  log: Logger,
): Promise<void> {
  try {
    if (!(await heartbeat(opts.pool, processId, poolId))) {
      log.error(
        'this process had been declared dead (heartbeat too old: was the event loop or the database stuck?); re-registered',
      );
    }
    for (const [old, row] of draining) await heartbeat(opts.pool, row, old.poolId);
    await recover(opts, log);
  } catch (err) {
    log.warn({ error: errorFields(err) }, 'heartbeat failed; retrying at the next interval');
  }
}

async function recover(opts: QueueWorkerOptions, log: Logger): Promise<void> {
  const unlocked = await recoverStaleWorkers(opts.pool, opts.staleAfterMs);
  if (unlocked.length) log.warn({ workerPools: unlocked }, 'released the jobs of dead controller processes');
}

/**
 * graphile-worker reports a pool stopped while the last completions may still be on their way to the database: wait
 * up to waitMs for them, then unlock whatever this pool still holds so it runs again now rather than after the stale
 * limit. False when the database did not answer (then the stale limit releases them: recoverStaleWorkers).
 */
async function settleOwnLocks(pool: pg.Pool, poolId: string, log: Logger, waitMs = 2000): Promise<boolean> {
  try {
    for (const until = Date.now() + waitMs; Date.now() < until;) {
      if (!(await holdsLockedJob(pool, poolId))) return true;
      await delay(50);
    }
    const locked = await countJobsLockedBy(pool, poolId);
    if (locked)
      log.warn(
        { workerPool: poolId, jobs: locked },
        'jobs still locked by a stopped worker pool: releasing them to the queue',
      );
    // Its named queues too (an environment's queue stays locked while its job is).
    await forceUnlockWorkers(pool, [poolId]);
    return true;
  } catch (err) {
    log.warn(
      { error: errorFields(err) },
      'could not check for jobs left locked; they are released after the stale limit',
    );
    return false;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
