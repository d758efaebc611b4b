/**
 * Every task runs through this wrapper: a child logger per job, outcome metrics, terminal errors recorded instead of
 * retried, transient ones rethrown for graphile-worker's retry with exponential backoff.
 *
 * A `github-delivery` job may carry several deliveries (an array payload: the deliveries stored together, see
 * controller/store/ingest-deliveries.ts). The wrapper runs the handler once per delivery, in order, each with its own
 * logger, metrics and error handling, and hands graphile-worker one settled promise per entry: a transient failure
 * re-queues that delivery alone (graphile-worker's batch jobs), a terminal one is recorded on it and not retried.
 */
import type pg from 'pg';
import type { JobHelpers, Task, TaskList } from 'graphile-worker';
import { errorFields, type Logger } from '../logger.js';
import { jobOutcomes } from '../metrics.js';
import { isTerminal } from './terminal-error.js';
import type { DeliveryGate } from './delivery-gate.js';
import { JOB_DELIVERY } from '../ports.js';

export interface WrapContext {
  logger: Logger;
  pool: pg.Pool;
  /** Test seam (POLITBURO_TEST_JOB_DELAY): a pause before every handler, to catch a process mid-job. */
  testJobDelayMs: number;
  /** `github-delivery` jobs go through it (one at a time during webhook bursts: delivery-gate.ts). */
  deliveryGate?: DeliveryGate;
}

/** Wraps every task of the list (see module comment). */
export function wrapTaskList(tasks: TaskList, ctx: WrapContext): TaskList {
  const wrapped: TaskList = {};
  for (const [name, task] of Object.entries(tasks)) {
    if (task) wrapped[name] = wrapTask(name, task as Task, ctx);
  }
  return wrapped;
}

function deliveryIdOf(payload: unknown): string | undefined {
  const id = payload && typeof payload === 'object' ? (payload as { deliveryId?: unknown }).deliveryId : undefined;
  return typeof id === 'string' ? id : undefined;
}

function wrapTask(name: string, task: Task, ctx: WrapContext): Task {
  const gate = name === JOB_DELIVERY ? ctx.deliveryGate : undefined;
  const runOne = async (payload: unknown, helpers: JobHelpers): Promise<void> => {
    const delivery = deliveryIdOf(payload);
    const log = ctx.logger.child({
      job: helpers.job.id,
      task: name,
      attempt: helpers.job.attempts,
      ...(delivery ? { delivery } : {}),
    });
    await runTask(name, task, payload, helpers, ctx, log, delivery);
  };
  const run = async (payload: unknown, helpers: JobHelpers): Promise<void | Promise<void>[]> => {
    if (ctx.testJobDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, ctx.testJobDelayMs));
    if (!Array.isArray(payload)) return runOne(payload, helpers);
    const settled: Promise<void>[] = [];
    for (const entry of payload) {
      const outcome = runOne(entry, helpers);
      // Waited for (and so handled: a failed entry is no unhandled rejection); graphile-worker still sees it rejected.
      await outcome.catch(() => undefined);
      settled.push(outcome);
    }
    return settled;
  };
  return async (payload: unknown, helpers: JobHelpers) =>
    gate ? gate.run(() => run(payload, helpers)) : run(payload, helpers);
}

/** Runs the handler: outcome metrics, and terminal errors recorded instead of retried. */
async function runTask(
  name: string,
  task: Task,
  payload: unknown,
  helpers: JobHelpers,
  ctx: WrapContext,
  log: Logger,
  delivery: string | undefined,
): Promise<void> {
  const started = Date.now();
  try {
    await task(payload, helpers);
  } catch (err) {
    if (isTerminal(err)) {
      jobOutcomes.inc({ task: name, outcome: 'terminal' });
      log.error({ err, durationMs: Date.now() - started }, 'job failed (terminal, not retried)');
      if (delivery) await recordDeliveryError(ctx.pool, delivery, err, log);
      return;
    }
    const final = helpers.job.attempts >= helpers.job.max_attempts;
    jobOutcomes.inc({ task: name, outcome: final ? 'failed' : 'retry' });
    // A retried failure is most often a lost connection: its message and code say enough (no stack, no client).
    if (final) log.error({ err, durationMs: Date.now() - started }, 'job failed for good after its last attempt');
    else log.warn({ error: errorFields(err), durationMs: Date.now() - started }, 'job failed; it will be retried');
    if (final && delivery) await recordDeliveryError(ctx.pool, delivery, err, log);
    throw err;
  }
  jobOutcomes.inc({ task: name, outcome: 'success' });
  log.info({ durationMs: Date.now() - started }, 'job finished');
}

async function recordDeliveryError(pool: pg.Pool, deliveryId: string, err: unknown, log: Logger): Promise<void> {
  const message = err instanceof Error ? err.message : String(err);
  await pool
    .query(
      `UPDATE webhook_deliveries SET processed_at = now(), outcome = 'failed', error = $2 WHERE delivery_id = $1`,
      [deliveryId, message.slice(0, 4000)],
    )
    .catch((e) => log.warn({ error: errorFields(e) }, 'could not record the delivery failure'));
}
