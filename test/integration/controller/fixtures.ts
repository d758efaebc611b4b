/** Shared set-up of the controller integration tests: a migrated database with the queue schema, signed deliveries. */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { createLogger, type Logger } from '../../../controller/logger.js';
import { ensureQueueSchema } from '../../../controller/queue/queue-worker.js';
import { listJobs } from '../../../controller/store/graphile-queue.js';
import { signWebhook } from '../../helpers/webhook-signature.js';

const require = createRequire(import.meta.url);

interface ExampleSet {
  name: string;
  examples: Record<string, unknown>[];
}

/** A real payload from @octokit/webhooks-examples (the first example of the event, or the one matching pick). */
export function examplePayload(
  event: string,
  pick: (p: Record<string, unknown>) => boolean = () => true,
): Record<string, unknown> {
  const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as ExampleSet[];
  const set = sets.find((s) => s.name === event);
  const example = set?.examples.find(pick);
  if (!example) throw new Error(`no @octokit/webhooks-examples payload for ${event}`);
  return structuredClone(example);
}

/** `sha256=<hex>` of body with secret, as GitHub signs it. */

/** Headers of a signed GitHub delivery. */
export function deliveryHeaders(
  secret: string,
  event: string,
  body: string,
  id = randomUUID(),
): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-github-event': event,
    'x-github-delivery': id,
    'x-hub-signature-256': signWebhook(secret, body),
  };
}

export interface QueueDb {
  db: TestDatabase;
  pool: pg.Pool;
  logger: Logger;
  close(): Promise<void>;
}

/** A fresh migrated database (ours and graphile-worker's schema) with a pool, and a quiet logger. */
export async function queueDatabase(): Promise<QueueDb> {
  const db = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: db.url, max: 10 });
  pool.on('error', () => {}); // idle connections are cut when the test database is dropped
  pool.on('error', () => {});
  const logger = createLogger({ level: (process.env.TEST_LOG_LEVEL as 'info' | undefined) ?? 'silent' });
  await ensureQueueSchema(pool, logger);
  return {
    db,
    pool,
    logger,
    async close() {
      await pool.end();
      await db.drop();
    },
  };
}

/** Jobs in the queue (controller/store/graphile-queue.ts listJobs), oldest first. */
export async function jobs(
  pool: pg.Pool,
  task?: string,
): Promise<{ id: string; task_identifier: string; key: string | null; queue_name: string | null; payload: any }[]> {
  return (await listJobs(pool, { task })).map((j) => ({
    id: j.id,
    task_identifier: j.task,
    key: j.key,
    queue_name: j.queueName,
    payload: j.payload,
  }));
}

/** The delivery ids a `github-delivery` job carries (its payload is an array of `{ deliveryId }`, or one of them). */
export function deliveryIdsOf(job: { payload: any }): string[] {
  const entries = Array.isArray(job.payload) ? job.payload : [job.payload];
  return entries.map((e: { deliveryId?: unknown }) => String(e?.deliveryId));
}
