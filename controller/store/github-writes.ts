/**
 * `github_writes` and `github_write_queues` (migration 020; kinds added by 090 and 093): the durable queue of writes
 * to GitHub, one queue per installation, and per queue the time before which nothing may be sent (a rate limit). The
 * write path that uses them, its order and its retries, is controller/github/write-queue.ts.
 */
import type pg from 'pg';
import type { Queryable } from '../../store/in-transaction.js';

type WriteKind = 'check' | 'comment' | 'reaction' | 'drift-issue' | 'reply' | 'deployment';

export interface NewWrite {
  queue: string;
  /** Coalescing key: at most one unsent write per (queue, key). */
  key: string;
  kind: WriteKind;
  payload: Record<string, unknown>;
}

export interface QueuedWrite extends NewWrite {
  id: string;
  version: number;
  attempts: number;
}

const ENQUEUE_SQL = `
INSERT INTO github_writes (queue, key, kind, payload) VALUES ($1, $2, $3, $4::jsonb)
ON CONFLICT (queue, key) WHERE failed_at IS NULL DO UPDATE SET
  -- Check run annotations accumulate (GitHub appends them; duplicates are dropped when sent); else the newest wins.
  payload = CASE WHEN github_writes.kind = 'check' THEN
      EXCLUDED.payload || jsonb_build_object('update', (EXCLUDED.payload -> 'update') || jsonb_build_object('annotations',
        COALESCE(github_writes.payload -> 'update' -> 'annotations', '[]'::jsonb) || COALESCE(EXCLUDED.payload -> 'update' -> 'annotations', '[]'::jsonb)))
    ELSE EXCLUDED.payload END,
  version = github_writes.version + 1,
  updated_at = now()`;

/** Adds a write (or merges it into the unsent one with the same key). */
export async function enqueueWrite(db: Queryable, w: NewWrite): Promise<void> {
  await db.query(ENQUEUE_SQL, [w.queue, w.key, w.kind, JSON.stringify(w.payload)]);
}

// The queue's lock is a session advisory lock: taken and released on the same client.
/** Takes the queue's lock unless another session holds it; true when taken. */
export async function tryLockWriteQueue(client: pg.PoolClient, queue: string): Promise<boolean> {
  const { rows } = await client.query<{ locked: boolean }>(
    'SELECT pg_try_advisory_lock(hashtextextended($1, 7305)) AS locked',
    [queue],
  );
  return rows[0].locked;
}

export async function unlockWriteQueue(client: pg.PoolClient, queue: string): Promise<void> {
  await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 7305))', [queue]);
}

/** How long (ms) the queue must still wait before sending (its rate limit); 0 when it may send now. */
export async function writeQueueWaitMs(db: Queryable, queue: string): Promise<number> {
  const { rows } = await db.query<{ wait_ms: number }>(
    `SELECT GREATEST(0, EXTRACT(EPOCH FROM (not_before - now())) * 1000)::float8 AS wait_ms FROM github_write_queues WHERE queue = $1`,
    [queue],
  );
  return rows[0]?.wait_ms ?? 0;
}

/** Pauses the queue until `until` (epoch ms), unless it is already paused for longer. */
export async function pauseWriteQueue(db: Queryable, queue: string, until: number): Promise<void> {
  await db.query(
    `INSERT INTO github_write_queues (queue, not_before) VALUES ($1, to_timestamp($2 / 1000.0))
     ON CONFLICT (queue) DO UPDATE SET not_before = GREATEST(github_write_queues.not_before, EXCLUDED.not_before), updated_at = now()`,
    [queue, until],
  );
}

/** The oldest unsent write of the queue and how long (ms) until it may be tried (0: now); null when none is left. */
export async function nextWrite(db: Queryable, queue: string): Promise<{ write: QueuedWrite; dueInMs: number } | null> {
  // ORDER BY w.id, not id: the output column `id` is text, and '10' sorts before '9'.
  const { rows } = await db.query<QueuedWrite & { due_in_ms: number }>(
    `SELECT w.id::text AS id, queue, key, kind, payload, version, attempts,
            GREATEST(0, EXTRACT(EPOCH FROM (next_attempt_at - now())) * 1000)::float8 AS due_in_ms
       FROM github_writes w WHERE queue = $1 AND failed_at IS NULL ORDER BY w.id LIMIT 1`,
    [queue],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    write: {
      id: r.id,
      queue: r.queue,
      key: r.key,
      kind: r.kind,
      payload: r.payload,
      version: r.version,
      attempts: r.attempts,
    },
    dueInMs: r.due_in_ms,
  };
}

/** The write was sent: deleted, unless a newer write merged into it meanwhile (that one stays queued, due now). */
export async function completeWrite(db: Queryable, write: Pick<QueuedWrite, 'id' | 'version'>): Promise<void> {
  const done = await db.query('DELETE FROM github_writes WHERE id = $1 AND version = $2', [write.id, write.version]);
  if (done.rowCount === 0)
    await db.query('UPDATE github_writes SET attempts = 0, last_error = NULL WHERE id = $1', [write.id]);
}

/** Notes why the write waits (a rate limit), without counting an attempt. */
export async function noteWriteError(db: Queryable, id: string, message: string): Promise<void> {
  await db.query('UPDATE github_writes SET last_error = $2, updated_at = now() WHERE id = $1', [id, message]);
}

/** GitHub refused the write for good: kept for inspection (failed_at), never retried. */
export async function failWrite(db: Queryable, id: string, message: string): Promise<void> {
  await db.query(
    'UPDATE github_writes SET failed_at = now(), last_error = $2, attempts = attempts + 1, updated_at = now() WHERE id = $1',
    [id, message],
  );
}

/** Counts a failed attempt and schedules the next one `delayMs` from now. */
export async function retryWriteLater(db: Queryable, id: string, message: string, delayMs: number): Promise<void> {
  await db.query(
    `UPDATE github_writes SET attempts = attempts + 1, last_error = $2, next_attempt_at = now() + $3 * interval '1 millisecond', updated_at = now() WHERE id = $1`,
    [id, message, delayMs],
  );
}

/** Queues with a write that may be sent now (due, and the queue not paused). */
export async function dueWriteQueues(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ queue: string }>(
    `SELECT DISTINCT w.queue FROM github_writes w LEFT JOIN github_write_queues q USING (queue)
      WHERE w.failed_at IS NULL AND w.next_attempt_at <= now() AND (q.not_before IS NULL OR q.not_before <= now())`,
  );
  return rows.map((r) => r.queue);
}

/** How many writes are unsent (not failed for good), and how long (ms) until the first of them may go (null: none). */
export async function unsentWrites(db: Queryable): Promise<{ count: number; dueInMs: number | null }> {
  const { rows } = await db.query<{ n: number; due_in_ms: number | null }>(
    `SELECT count(*)::int AS n, GREATEST(0, EXTRACT(EPOCH FROM (min(GREATEST(w.next_attempt_at, COALESCE(q.not_before, w.next_attempt_at))) - now())) * 1000)::float8 AS due_in_ms
       FROM github_writes w LEFT JOIN github_write_queues q USING (queue) WHERE w.failed_at IS NULL`,
  );
  return { count: rows[0].n, dueInMs: rows[0].due_in_ms };
}
