/**
 * The durable write path to GitHub. Writes are rows of `github_writes` (controller/store/github-writes.ts), one queue
 * per installation (`gh:<installation>`), and go out in order through whichever process holds the queue's advisory
 * lock, so every
 * replica shares one path and one rate-limit state (`github_write_queues.not_before`). A newer write for the same
 * check / comment / issue replaces an older unsent one. Failures are retried with backoff; nothing is thrown to the
 * code that reported.
 */
import type pg from 'pg';
import type { Queryable } from '../../store/in-transaction.js';
import {
  completeWrite,
  failWrite,
  nextWrite,
  noteWriteError,
  pauseWriteQueue,
  retryWriteLater,
  tryLockWriteQueue,
  unlockWriteQueue,
  writeQueueWaitMs,
  type QueuedWrite,
} from '../store/github-writes.js';

export type { NewWrite, QueuedWrite } from '../store/github-writes.js';

/** Sends one write to GitHub; throws octokit's RequestError (or any error) when it did not go through. */
export interface WriteSender {
  /** `db` is the drain's connection: bookkeeping goes through it, so a drain never needs a second connection. */
  send(write: QueuedWrite, db: Queryable): Promise<void>;
  /** Epoch ms before which the queue must not send again (the rate limit is used up), if any. */
  pauseUntil?(queue: string): number | undefined;
}

export interface MinimalLogger {
  debug?(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

type FailureClass = { kind: 'rate-limited'; until: number } | { kind: 'transient' } | { kind: 'terminal' };

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

interface DrainResult {
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
    if (!(await tryLockWriteQueue(client, queue))) return { sent: 0, busy: true };
    try {
      return await drainLocked(client, queue, sender, opts);
    } finally {
      await unlockWriteQueue(client, queue);
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
    const waitMs = await writeQueueWaitMs(client, queue);
    if (waitMs > 0) return { sent, blockedUntil: Date.now() + waitMs };
    const next = await nextWrite(client, queue);
    if (!next) return { sent };
    // Strict order within an installation: a write waiting for its retry holds back the ones after it.
    if (next.dueInMs > 0) return { sent, blockedUntil: Date.now() + next.dueInMs };
    const outcome = await sendOne(client, next.write, sender, opts);
    if (outcome !== 'sent') return { sent, blockedUntil: outcome };
    sent++;
    const pause = sender.pauseUntil?.(queue);
    if (pause && pause > Date.now()) {
      await pauseWriteQueue(client, queue, pause);
      return { sent, blockedUntil: pause };
    }
  }
  return { sent };
}

/** Sends one write; returns 'sent' or the time before which the queue should not be tried again. */
async function sendOne(
  client: pg.PoolClient,
  write: QueuedWrite,
  sender: WriteSender,
  opts: DrainOptions,
): Promise<'sent' | number> {
  const log = { write: write.id, queue: write.queue, key: write.key, kind: write.kind, attempt: write.attempts + 1 };
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
      await pauseWriteQueue(client, write.queue, failure.until);
      await noteWriteError(client, write.id, message);
      return failure.until;
    }
    if (failure.kind === 'terminal') {
      opts.logger?.error(
        { ...log, err: message },
        'GitHub refused a write; it is kept in github_writes (failed_at) and not retried',
      );
      await failWrite(client, write.id, message);
      return 'sent';
    }
    const delay = Math.min(opts.maxBackoffMs ?? 600_000, (opts.backoffBaseMs ?? 1_000) * 2 ** write.attempts);
    opts.logger?.warn({ ...log, retryInMs: delay, err: message }, 'writing to GitHub failed; will retry');
    await retryWriteLater(client, write.id, message, delay);
    return Date.now() + delay;
  }
  // A newer write merged in while this one was in flight stays queued and goes out next.
  await completeWrite(client, write);
  return 'sent';
}
