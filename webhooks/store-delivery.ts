/**
 * Stores a verified delivery and queues its `github-delivery` job in one statement (so one transaction): a crash
 * after the 2xx answer loses nothing, and a replayed delivery id stores nothing and queues nothing.
 *
 * The job row is inserted into graphile-worker's jobs table directly rather than through `add_job()`: add_job ends
 * every call with a `pg_notify`, and NOTIFY serialises committing transactions database-wide, which capped ingestion
 * at ~200 deliveries/s (measured). The wake-up is instead coalesced (createJobNotifier): one NOTIFY per burst, in
 * graphile-worker's own format, so every replica's workers still start at once. Delivery jobs need none of add_job's
 * extras (no queue, no replace semantics: the delivery id is already unique).
 */
import type pg from 'pg';
import { JOB_DELIVERY } from '../controller/ports.js';

export interface DeliveryRecord {
  id: string;
  event: string;
  action: string | null;
  /** `owner/name`, null for events without a repository. */
  repository: string | null;
  installationId: number | null;
  /** The raw JSON text, as signed. */
  payload: string;
}

/** Attempts of a delivery job before it fails for good (graphile-worker backs off exponentially between them). */
export const DELIVERY_MAX_ATTEMPTS = 10;

const STORE_SQL = {
  name: 'politburo_store_delivery',
  text: `WITH ins AS (
    INSERT INTO webhook_deliveries (delivery_id, event, action, repository, installation_id, payload)
    VALUES ($1, $2, $3, $4, $5, $6::jsonb)
    ON CONFLICT (delivery_id) DO NOTHING
    RETURNING delivery_id
  )
  INSERT INTO graphile_worker._private_jobs (task_id, payload, key, max_attempts)
  SELECT (SELECT id FROM graphile_worker._private_tasks WHERE identifier = $7), json_build_object('deliveryId', delivery_id), delivery_id, $8
    FROM ins
  RETURNING id::text AS job_id`,
};

/** Makes sure graphile-worker knows the delivery task (its id is looked up by every insert). Idempotent. */
export async function ensureDeliveryTask(db: Pick<pg.Pool, 'query'>): Promise<void> {
  await db.query(`INSERT INTO graphile_worker._private_tasks (identifier) VALUES ($1) ON CONFLICT DO NOTHING`, [JOB_DELIVERY]);
}

/** Inserts the delivery and its job; `duplicate` when the delivery id was already stored. */
export async function storeDelivery(db: Pick<pg.Pool, 'query'>, d: DeliveryRecord): Promise<{ duplicate: boolean; jobId?: string }> {
  const values = [d.id, d.event, d.action, d.repository, d.installationId, d.payload, JOB_DELIVERY, DELIVERY_MAX_ATTEMPTS];
  let rows: { job_id: string }[];
  try {
    ({ rows } = await db.query<{ job_id: string }>({ ...STORE_SQL, values }));
  } catch (err) {
    // 23502 (task_id null): the task row is not there yet on a fresh queue schema.
    if ((err as { code?: string }).code !== '23502') throw err;
    await ensureDeliveryTask(db);
    ({ rows } = await db.query<{ job_id: string }>({ ...STORE_SQL, values }));
  }
  return rows.length ? { duplicate: false, jobId: rows[0].job_id } : { duplicate: true };
}

export interface JobNotifier {
  /** A job was inserted: wake the workers (coalesced with other kicks within delayMs). */
  kick(): void;
  /** Sends a pending wake-up now and stops. */
  close(): Promise<void>;
}

/** One `NOTIFY "jobs:insert"` per burst of inserted jobs (see module comment). */
export function createJobNotifier(db: Pick<pg.Pool, 'query'>, delayMs = 5): JobNotifier {
  let pending = 0;
  let timer: NodeJS.Timeout | null = null;
  const flush = async () => {
    timer = null;
    const count = pending;
    pending = 0;
    if (!count) return;
    // graphile-worker's payload: workers are nudged `count` times. Failures only delay pick-up to its poll interval.
    await db.query(`SELECT pg_notify('jobs:insert', $1)`, [JSON.stringify({ r: Math.random(), count })]).catch(() => {});
  };
  return {
    kick() {
      pending++;
      timer ??= setTimeout(() => void flush(), delayMs);
    },
    async close() {
      if (timer) clearTimeout(timer);
      await flush();
    },
  };
}
