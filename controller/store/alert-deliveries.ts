/**
 * `alert_deliveries` (migration 091): one row per notification and webhook URL, sent by
 * controller/notify/delivery-worker.ts (docs/controller.md, "Notifications").
 */
import type { Queryable } from '../../store/in-transaction.js';

/** A delivery claimed for one attempt. */
export interface ClaimedDelivery {
  id: string;
  eventId: string;
  kind: string;
  url: string;
  body: string;
  /** This attempt's number (1 for the first). */
  attempt: number;
}

/** Queues the event's body for every URL (an event already queued for a URL is not queued twice). */
export async function enqueueAlertDeliveries(
  db: Queryable,
  event: { id: string; kind: string; body: string },
  urls: readonly string[],
): Promise<void> {
  if (!urls.length) return;
  await db.query(
    `INSERT INTO alert_deliveries (event_id, kind, url, body)
     SELECT $1, $2, u, $3 FROM unnest($4::text[]) AS u
     ON CONFLICT (event_id, url) DO NOTHING`,
    [event.id, event.kind, event.body, [...urls]],
  );
}

/**
 * Claims up to `limit` due deliveries for one attempt each: their attempt count goes up and they are not due again
 * before `leaseMs` (longer than a request may take), so no other sender takes them meanwhile; a sender that dies
 * mid-attempt leaves them to be sent again after the lease.
 */
export async function claimDueAlertDeliveries(
  db: Queryable,
  limit: number,
  leaseMs: number,
): Promise<ClaimedDelivery[]> {
  const { rows } = await db.query<{
    id: string;
    event_id: string;
    kind: string;
    url: string;
    body: string;
    attempts: number;
  }>(
    `UPDATE alert_deliveries SET attempts = attempts + 1, next_attempt_at = now() + $2 * interval '1 millisecond'
      WHERE id IN (
        SELECT id FROM alert_deliveries
         WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now()
         ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
     RETURNING id, event_id, kind, url, body, attempts`,
    [limit, leaseMs],
  );
  return rows
    .map((r) => ({ id: r.id, eventId: r.event_id, kind: r.kind, url: r.url, body: r.body, attempt: r.attempts }))
    .sort((a, b) => Number(a.id) - Number(b.id));
}

/** The receiver accepted it. */
export async function markAlertDelivered(db: Queryable, id: string): Promise<void> {
  await db.query(`UPDATE alert_deliveries SET delivered_at = now(), last_error = NULL WHERE id = $1`, [id]);
}

/** Failed for now: tried again in `delayMs`. */
export async function retryAlertDeliveryLater(
  db: Queryable,
  id: string,
  error: string,
  delayMs: number,
): Promise<void> {
  await db.query(
    `UPDATE alert_deliveries SET last_error = $2, next_attempt_at = now() + $3 * interval '1 millisecond' WHERE id = $1`,
    [id, error, delayMs],
  );
}

/** Given up: kept with its error, never sent again. */
export async function failAlertDelivery(db: Queryable, id: string, error: string): Promise<void> {
  await db.query(`UPDATE alert_deliveries SET last_error = $2, failed_at = now() WHERE id = $1`, [id, error]);
}

/** How many deliveries are still to be sent, and in how many ms the next one is due (null: none). */
export async function pendingAlertDeliveries(db: Queryable): Promise<{ count: number; dueInMs: number | null }> {
  const { rows } = await db.query<{ count: string; due_in_ms: number | null }>(
    `SELECT count(*) AS count,
            GREATEST(0, EXTRACT(EPOCH FROM (min(next_attempt_at) - now())) * 1000)::float8 AS due_in_ms
       FROM alert_deliveries WHERE delivered_at IS NULL AND failed_at IS NULL`,
  );
  return { count: Number(rows[0].count), dueInMs: rows[0].due_in_ms };
}

/** Forgets deliveries delivered more than `deliveredDays` ago and given up more than `failedDays` ago. */
export async function pruneAlertDeliveries(db: Queryable, deliveredDays = 7, failedDays = 30): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM alert_deliveries
      WHERE delivered_at < now() - $1 * interval '1 day' OR failed_at < now() - $2 * interval '1 day'`,
    [deliveredDays, failedDays],
  );
  return rowCount ?? 0;
}
