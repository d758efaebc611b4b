/**
 * Stores a verified delivery and queues its `github-delivery` job in one statement (so one transaction): a crash
 * after the 2xx answer loses nothing, and a replayed delivery id stores nothing and queues nothing.
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

// One round trip, one implicit transaction: the insert and graphile-worker's add_job commit together.
const STORE_SQL = {
  name: 'politburo_store_delivery',
  text: `WITH ins AS (
    INSERT INTO webhook_deliveries (delivery_id, event, action, repository, installation_id, payload)
    VALUES ($1, $2, $3, $4, $5, $6::jsonb)
    ON CONFLICT (delivery_id) DO NOTHING
    RETURNING delivery_id
  )
  SELECT (graphile_worker.add_job($7, json_build_object('deliveryId', delivery_id), job_key => delivery_id,
          max_attempts => $8)).id::text AS job_id
    FROM ins`,
};

/** Inserts the delivery and queues its job; `duplicate` when the delivery id was already stored. */
export async function storeDelivery(db: Pick<pg.Pool, 'query'>, d: DeliveryRecord): Promise<{ duplicate: boolean; jobId?: string }> {
  const { rows } = await db.query<{ job_id: string }>({
    ...STORE_SQL,
    values: [d.id, d.event, d.action, d.repository, d.installationId, d.payload, JOB_DELIVERY, DELIVERY_MAX_ATTEMPTS],
  });
  return rows.length ? { duplicate: false, jobId: rows[0].job_id } : { duplicate: true };
}
