/**
 * The job side of `webhook_deliveries` (stored by controller/store/ingest-deliveries.ts): reading a delivery and
 * recording its outcome; and `repositories`, which installations register. The DeliveryRecords port
 * (controller/jobs/delivery-records.ts) over a pool.
 */
import type { Queryable } from '../../store/in-transaction.js';
import type { DeliveryRecords, StoredDelivery } from '../jobs/delivery-records.js';

/** A stored delivery, or null when there is none with this id. */
async function loadDelivery(db: Queryable, deliveryId: string): Promise<StoredDelivery | null> {
  const { rows } = await db.query<{ event: string; payload: unknown; processed: boolean }>(
    'SELECT event, payload, processed_at IS NOT NULL AS processed FROM webhook_deliveries WHERE delivery_id = $1',
    [deliveryId],
  );
  return rows[0] ? { id: deliveryId, ...rows[0] } : null;
}

/** Marks a delivery handled, with its outcome (a failed attempt's error is cleared). */
async function markDeliveryProcessed(db: Queryable, deliveryId: string, outcome: string): Promise<void> {
  await db.query(
    `UPDATE webhook_deliveries SET processed_at = now(), outcome = $2, error = NULL WHERE delivery_id = $1`,
    [deliveryId, outcome],
  );
}

/** Adds repositories by key (`owner/name`); known ones are left as they are. */
async function registerRepositories(db: Queryable, keys: readonly string[]): Promise<void> {
  if (!keys.length) return;
  await db.query(`INSERT INTO repositories (key) SELECT DISTINCT unnest($1::text[]) ON CONFLICT (key) DO NOTHING`, [
    [...keys],
  ]);
}

/** The DeliveryRecords port over a pool. */
export function createPgDeliveryRecords(db: Queryable): DeliveryRecords {
  return {
    load: (id) => loadDelivery(db, id),
    markProcessed: (id, outcome) => markDeliveryProcessed(db, id, outcome),
    registerRepositories: (keys) => registerRepositories(db, keys),
  };
}
