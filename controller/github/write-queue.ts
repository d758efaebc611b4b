/**
 * The durable write path to GitHub. Writes are rows of `github_writes` (migration 020), one queue per installation
 * (`gh:<installation>`), and go out in order through whichever process holds the queue's advisory lock, so every
 * replica shares one path and one rate-limit state (`github_write_queues.not_before`). A newer write for the same
 * check / comment / issue replaces an older unsent one. Failures are retried with backoff; nothing is thrown to the
 * code that reported.
 */
import type pg from 'pg';

export type WriteKind = 'check' | 'comment' | 'reaction' | 'drift-issue';

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

/** Something that runs queries: a pool, or the drain's own client. */
export type Db = Pick<pg.Pool | pg.PoolClient, 'query'>;

/** Sends one write to GitHub; throws octokit's RequestError (or any error) when it did not go through. */
export interface WriteSender {
  /** `db` is the drain's connection: bookkeeping goes through it, so a drain never needs a second connection. */
  send(write: QueuedWrite, db: Db): Promise<void>;
  /** Epoch ms before which the queue must not send again (the rate limit is used up), if any. */
  pauseUntil?(queue: string): number | undefined;
}

export interface MinimalLogger {
  debug?(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export type FailureClass = { kind: 'rate-limited'; until: number } | { kind: 'transient' } | { kind: 'terminal' };

/** How a failed GitHub request should be handled: wait for the rate limit, retry with backoff, or give up. */
export function classifyFailure(err: unknown, now = Date.now()): FailureClass {
  const e = err as { status?: number; message?: string; response?: { headers?: Record<string, string | undefined> } };
  const status = typeof e?.status === 'number' ? e.status : undefined;
  const headers = e?.response?.headers ?? {};
  if (status === 403 || status === 429) {
    const retryAfter = Number(headers['retry-after']);
    if (Number.isFinite(retryAfter) && retryAfter >= 0 && headers['retry-after'] !== undefined)
      return { kind: 'rate-limited', until: now + retryAfter * 1000 };
    if (headers['x-ratelimit-remaining'] === '0') {
      const reset = Number(headers['x-ratelimit-reset']) * 1000;
      return { kind: 'rate-limited', until: Number.isFinite(reset) && reset > now ? reset + 1000 : now + 60_000 };
    }
    // GitHub documents waiting at least a minute on a secondary rate limit without retry-after.
    if (status === 429 || /secondary rate limit|abuse/i.test(e.message ?? ''))
      return { kind: 'rate-limited', until: now + 60_000 };
    return { kind: 'terminal' };
  }
  if (status === undefined || status >= 500 || status === 401 || status === 408) return { kind: 'transient' };
  return { kind: 'terminal' };
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
export async function enqueueWrite(db: Db, w: NewWrite): Promise<void> {
  await db.query(ENQUEUE_SQL, [w.queue, w.key, w.kind, JSON.stringify(w.payload)]);
}

export interface DrainResult {
  sent: number;
  /** Another process holds the queue. */
  busy?: boolean;
  /** Nothing can be sent before this time (epoch ms): rate limit or backoff. */
  blockedUntil?: number;
}

export interface DrainOptions {
  logger?: MinimalLogger;
  /** First retry delay after a transient failure; doubles per attempt up to maxBackoffMs. */
  backoffBaseMs?: number;
  maxBackoffMs?: number;
  /** Writes sent per drain before yielding the lock. */
  maxBatch?: number;
}

interface WriteRow {
  id: string;
  queue: string;
  key: string;
  kind: WriteKind;
  payload: Record<string, unknown>;
  version: number;
  attempts: number;
  due_in_ms: number;
}

/** Sends the queue's writes in order while holding its advisory lock; stops at the first write that cannot go yet. */
export async function drainQueue(
  pool: pg.Pool,
  queue: string,
  sender: WriteSender,
  opts: DrainOptions = {},
): Promise<DrainResult> {
  const client = await pool.connect();
  // A connection lost while checked out emits 'error' on the client; unheard, that would end the process. The failed
  // query reports it; the listener only keeps the process alive.
  const lost = () => {};
  client.on('error', lost);
  try {
    const { rows } = await client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock(hashtextextended($1, 7305)) AS locked',
      [queue],
    );
    if (!rows[0].locked) return { sent: 0, busy: true };
    try {
      return await drainLocked(client, queue, sender, opts);
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 7305))', [queue]);
    }
  } finally {
    client.off('error', lost);
    client.release();
  }
}

async function drainLocked(
  client: pg.PoolClient,
  queue: string,
  sender: WriteSender,
  opts: DrainOptions,
): Promise<DrainResult> {
  let sent = 0;
  for (let i = 0; i < (opts.maxBatch ?? 200); i++) {
    const gate = await client.query<{ wait_ms: number }>(
      `SELECT GREATEST(0, EXTRACT(EPOCH FROM (not_before - now())) * 1000)::float8 AS wait_ms FROM github_write_queues WHERE queue = $1`,
      [queue],
    );
    const waitMs = gate.rows[0]?.wait_ms ?? 0;
    if (waitMs > 0) return { sent, blockedUntil: Date.now() + waitMs };
    // ORDER BY w.id, not id: the output column `id` is text, and '10' sorts before '9'.
    const { rows } = await client.query<WriteRow>(
      `SELECT w.id::text AS id, queue, key, kind, payload, version, attempts,
              GREATEST(0, EXTRACT(EPOCH FROM (next_attempt_at - now())) * 1000)::float8 AS due_in_ms
         FROM github_writes w WHERE queue = $1 AND failed_at IS NULL ORDER BY w.id LIMIT 1`,
      [queue],
    );
    const row = rows[0];
    if (!row) return { sent };
    // Strict order within an installation: a write waiting for its retry holds back the ones after it.
    if (row.due_in_ms > 0) return { sent, blockedUntil: Date.now() + row.due_in_ms };
    const outcome = await sendOne(client, row, sender, opts);
    if (outcome !== 'sent') return { sent, blockedUntil: outcome };
    sent++;
    const pause = sender.pauseUntil?.(queue);
    if (pause && pause > Date.now()) {
      await setNotBefore(client, queue, pause);
      return { sent, blockedUntil: pause };
    }
  }
  return { sent };
}

/** Sends one write; returns 'sent' or the time before which the queue should not be tried again. */
async function sendOne(
  client: pg.PoolClient,
  row: WriteRow,
  sender: WriteSender,
  opts: DrainOptions,
): Promise<'sent' | number> {
  const write: QueuedWrite = {
    id: row.id,
    queue: row.queue,
    key: row.key,
    kind: row.kind,
    payload: row.payload,
    version: row.version,
    attempts: row.attempts,
  };
  const log = { write: row.id, queue: row.queue, key: row.key, kind: row.kind, attempt: row.attempts + 1 };
  try {
    await sender.send(write, client);
  } catch (err) {
    const failure = classifyFailure(err);
    const message = (err as Error)?.message ?? String(err);
    if (failure.kind === 'rate-limited') {
      opts.logger?.warn(
        { ...log, until: new Date(failure.until).toISOString() },
        `GitHub rate limit: waiting before writing again (${message})`,
      );
      await setNotBefore(client, row.queue, failure.until);
      await client.query('UPDATE github_writes SET last_error = $2, updated_at = now() WHERE id = $1', [
        row.id,
        message,
      ]);
      return failure.until;
    }
    if (failure.kind === 'terminal') {
      opts.logger?.error(
        { ...log, err: message },
        'GitHub refused a write; it is kept in github_writes (failed_at) and not retried',
      );
      await client.query(
        'UPDATE github_writes SET failed_at = now(), last_error = $2, attempts = attempts + 1, updated_at = now() WHERE id = $1',
        [row.id, message],
      );
      return 'sent';
    }
    const delay = Math.min(opts.maxBackoffMs ?? 600_000, (opts.backoffBaseMs ?? 1_000) * 2 ** row.attempts);
    opts.logger?.warn({ ...log, retryInMs: delay, err: message }, 'writing to GitHub failed; will retry');
    await client.query(
      `UPDATE github_writes SET attempts = attempts + 1, last_error = $2, next_attempt_at = now() + $3 * interval '1 millisecond', updated_at = now() WHERE id = $1`,
      [row.id, message, delay],
    );
    return Date.now() + delay;
  }
  // A newer write merged in while this one was in flight stays queued and goes out next.
  const done = await client.query('DELETE FROM github_writes WHERE id = $1 AND version = $2', [row.id, row.version]);
  if (done.rowCount === 0)
    await client.query('UPDATE github_writes SET attempts = 0, last_error = NULL WHERE id = $1', [row.id]);
  return 'sent';
}

async function setNotBefore(client: pg.PoolClient, queue: string, until: number): Promise<void> {
  await client.query(
    `INSERT INTO github_write_queues (queue, not_before) VALUES ($1, to_timestamp($2 / 1000.0))
     ON CONFLICT (queue) DO UPDATE SET not_before = GREATEST(github_write_queues.not_before, EXCLUDED.not_before), updated_at = now()`,
    [queue, until],
  );
}
