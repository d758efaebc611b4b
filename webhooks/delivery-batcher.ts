/**
 * Group commit for webhook deliveries: deliveries that arrive while a store is under way are written together, in one
 * statement and one transaction (one WAL flush), instead of one transaction each. Under load (100 connections) this
 * is what keeps the answer time low; alone, a delivery is written at once, as before. Every delivery is still stored
 * (and its job queued) before its own answer is sent.
 */
import type pg from 'pg';
import { JOB_DELIVERY } from '../controller/ports.js';
import { DELIVERY_MAX_ATTEMPTS, ensureDeliveryTask, storeDelivery, type DeliveryRecord } from './store-delivery.js';

export interface StoreResult {
  duplicate: boolean;
  jobId?: string;
}

export interface DeliveryBatcher {
  store(d: DeliveryRecord): Promise<StoreResult>;
}

const BATCH_SQL = {
  name: 'politburo_store_deliveries',
  text: `WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[]) AS t(id, event, action, repository, installation_id, payload)
  ), ins AS (
    INSERT INTO webhook_deliveries (delivery_id, event, action, repository, installation_id, payload)
    SELECT id, event, action, repository, installation_id, payload::jsonb FROM input
    ON CONFLICT (delivery_id) DO NOTHING
    RETURNING delivery_id
  )
  INSERT INTO graphile_worker._private_jobs (task_id, payload, key, max_attempts)
  SELECT (SELECT id FROM graphile_worker._private_tasks WHERE identifier = $7), json_build_object('deliveryId', delivery_id), delivery_id, $8
    FROM ins
  RETURNING key AS delivery_id, id::text AS job_id`,
};

interface Pending {
  d: DeliveryRecord;
  resolve(r: StoreResult): void;
  reject(err: unknown): void;
}

/**
 * @param maxInFlight statements under way at once (each holds a pool connection)
 * @param maxBatch deliveries per statement
 */
export function createDeliveryBatcher(pool: Pick<pg.Pool, 'query'>, opts: { maxInFlight?: number; maxBatch?: number } = {}): DeliveryBatcher {
  const maxInFlight = opts.maxInFlight ?? 4;
  const maxBatch = opts.maxBatch ?? 100;
  const queue: Pending[] = [];
  let inFlight = 0;

  const pump = () => {
    while (inFlight < maxInFlight && queue.length > 0) {
      const batch = queue.splice(0, maxBatch);
      inFlight++;
      void write(pool, batch).finally(() => {
        inFlight--;
        pump();
      });
    }
  };
  return {
    store(d) {
      return new Promise<StoreResult>((resolve, reject) => {
        queue.push({ d, resolve, reject });
        pump();
      });
    },
  };
}

/** Writes one batch; a delivery id twice in a batch is stored once (the later one is the duplicate). */
async function write(pool: Pick<pg.Pool, 'query'>, batch: Pending[]): Promise<void> {
  if (batch.length === 1) return settleOne(pool, batch[0]);
  const firsts = new Map<string, Pending>();
  const repeats: Pending[] = [];
  for (const p of batch) {
    if (firsts.has(p.d.id)) repeats.push(p);
    else firsts.set(p.d.id, p);
  }
  const list = [...firsts.values()];
  try {
    const rows = await insertMany(pool, list.map((p) => p.d));
    const jobs = new Map(rows.map((r) => [r.delivery_id, r.job_id]));
    for (const p of list) {
      const jobId = jobs.get(p.d.id);
      p.resolve(jobId ? { duplicate: false, jobId } : { duplicate: true });
    }
    for (const p of repeats) p.resolve({ duplicate: true });
  } catch {
    // One bad payload (a data error such as \u0000 in JSON text) must not fail the others: store each on its own,
    // so each gets its own answer. Repeats go after their first, which decides them.
    for (const p of [...list, ...repeats]) await settleOne(pool, p);
  }
}

async function settleOne(pool: Pick<pg.Pool, 'query'>, p: Pending): Promise<void> {
  try {
    p.resolve(await storeDelivery(pool, p.d));
  } catch (err) {
    p.reject(err);
  }
}

async function insertMany(pool: Pick<pg.Pool, 'query'>, ds: DeliveryRecord[]): Promise<{ delivery_id: string; job_id: string }[]> {
  const values = [
    ds.map((d) => d.id),
    ds.map((d) => d.event),
    ds.map((d) => d.action),
    ds.map((d) => d.repository),
    ds.map((d) => d.installationId),
    ds.map((d) => d.payload),
    JOB_DELIVERY,
    DELIVERY_MAX_ATTEMPTS,
  ];
  try {
    return (await pool.query<{ delivery_id: string; job_id: string }>({ ...BATCH_SQL, values })).rows;
  } catch (err) {
    // 23502 (task_id null): the task row is not there yet on a fresh queue schema.
    if ((err as { code?: string }).code !== '23502') throw err;
    await ensureDeliveryTask(pool);
    return (await pool.query<{ delivery_id: string; job_id: string }>({ ...BATCH_SQL, values })).rows;
  }
}
