/**
 * Sends the queued notifications (`alert_deliveries`, controller/store/alert-deliveries.ts) to their webhooks:
 * signed (X-Politburo-Signature-256), each attempt bounded by a timeout, retried with exponential backoff on
 * connection errors, timeouts, 408, 429 and 5xx answers, given up after the configured attempts or on any other
 * answer (docs/controller.md, "Notifications"). Runs beside the jobs, never inside one: a job only queues rows. Kicked
 * when this process queues something, and sweeps periodically for rows queued by other replicas and retries.
 */
import type pg from 'pg';
import {
  claimDueAlertDeliveries,
  failAlertDelivery,
  markAlertDelivered,
  pendingAlertDeliveries,
  pruneAlertDeliveries,
  retryAlertDeliveryLater,
  type ClaimedDelivery,
} from '../store/alert-deliveries.js';
import { signBody } from './event.js';

interface MinimalLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface AlertDeliveryOptions {
  pool: pg.Pool;
  fetch: typeof fetch;
  logger: MinimalLogger;
  /** POLITBURO_ALERT_SECRET: bodies are signed with it; undefined: sent unsigned. */
  secret?: string;
  /** Attempts per delivery, the first included. */
  attempts: number;
  /** How long one attempt may take (connect, send, answer). */
  timeoutMs: number;
  /** The first retry's delay; doubled per attempt up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs?: number;
  /** How often rows due (other replicas', retries) are looked for besides the kicks (default 2 s). */
  pollIntervalMs?: number;
}

export interface AlertDeliveryWorker {
  /** Something was queued here: send it now. */
  kick(): void;
  start(): void;
  /** Sends until nothing is pending or `timeoutMs` passed; returns how many deliveries are left. */
  flush(opts?: { timeoutMs?: number }): Promise<number>;
  /** Stops sending; an attempt in flight is abandoned and sent again later (by this or another process). */
  stop(): Promise<void>;
}

/** How often delivered (after 7 days) and given-up (after 30 days) rows are deleted. */
const PRUNE_EVERY_MS = 3_600_000;

/** Attempts in flight at once in this process. */
const CONCURRENCY = 16;

type Outcome =
  { kind: 'delivered' } | { kind: 'retry'; error: string; afterMs?: number } | { kind: 'fail'; error: string };

/** Creates the worker; `start()` begins the periodic sweep. */
export function createAlertDeliveryWorker(opts: AlertDeliveryOptions): AlertDeliveryWorker {
  const maxBackoffMs = opts.maxBackoffMs ?? 600_000;
  const stopping = new AbortController();
  let running: Promise<void> | null = null;
  const inFlight = new Set<Promise<void>>();
  let again = false;
  let interval: NodeJS.Timeout | null = null;
  let timer: NodeJS.Timeout | null = null;
  let prunedAt = 0;

  // One drain at a time in this process; a kick during a drain runs it once more afterwards.
  function kick(): Promise<void> {
    if (stopping.signal.aborted) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await drain();
        } catch (err) {
          opts.logger.warn({ err: (err as Error).message }, 'sending notifications failed; will retry');
        }
      } while (again && !stopping.signal.aborted);
    })().finally(() => {
      running = null;
      if (again && !stopping.signal.aborted) void kick();
      else void scheduleNext();
    });
    return running;
  }

  /**
   * Claims what is due (up to the free slots) and starts each attempt without waiting for it: a receiver that does not
   * answer holds one slot until its timeout, never the deliveries to other receivers or of later events.
   */
  async function drain(): Promise<void> {
    for (;;) {
      const free = CONCURRENCY - inFlight.size;
      if (stopping.signal.aborted || free <= 0) return;
      const claimed = await claimDueAlertDeliveries(opts.pool, free, opts.timeoutMs + 30_000);
      for (const d of claimed) {
        const p = attempt(d)
          .catch((err) =>
            opts.logger.warn(
              { delivery: d.id, err: (err as Error).message },
              'recording a notification attempt failed',
            ),
          )
          .finally(() => {
            inFlight.delete(p);
            // A slot is free, and a retry may be due.
            void kick();
          });
        inFlight.add(p);
      }
      if (claimed.length < free) return;
    }
  }

  /** Wakes up when the next retry is due (rows of other replicas are found by the sweep). */
  async function scheduleNext(): Promise<void> {
    if (stopping.signal.aborted) return;
    try {
      const { count, dueInMs } = await pendingAlertDeliveries(opts.pool);
      if (!count || dueInMs === null || stopping.signal.aborted) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(
        () => {
          timer = null;
          void kick();
        },
        Math.min(Math.max(dueInMs, 0), 3_600_000) + 5,
      );
      timer.unref();
    } catch {
      // The periodic sweep tries again.
    }
  }

  async function attempt(d: ClaimedDelivery): Promise<void> {
    const outcome = await send(d);
    const log = { delivery: d.id, event: d.eventId, kind: d.kind, url: redact(d.url), attempt: d.attempt };
    if (outcome.kind === 'delivered') {
      opts.logger.debug(log, 'notification delivered');
      await markAlertDelivered(opts.pool, d.id);
      return;
    }
    if (stopping.signal.aborted) {
      await retryAlertDeliveryLater(opts.pool, d.id, 'interrupted by shutdown', 0);
      return;
    }
    if (outcome.kind === 'fail' || d.attempt >= opts.attempts) {
      const error = outcome.kind === 'fail' ? outcome.error : `gave up after ${d.attempt} attempts: ${outcome.error}`;
      opts.logger.warn({ ...log, err: error }, 'a notification could not be delivered: check POLITBURO_ALERT_WEBHOOK');
      await failAlertDelivery(opts.pool, d.id, error);
      return;
    }
    const backoff = Math.min(maxBackoffMs, opts.backoffMs * 2 ** (d.attempt - 1));
    const delay = Math.min(maxBackoffMs, Math.max(backoff, outcome.afterMs ?? 0));
    opts.logger.warn({ ...log, retryInMs: delay, err: outcome.error }, 'sending a notification failed; will retry');
    await retryAlertDeliveryLater(opts.pool, d.id, outcome.error, delay);
  }

  async function send(d: ClaimedDelivery): Promise<Outcome> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'Politburo-Notifications',
      'x-politburo-event': d.kind,
      'x-politburo-delivery': d.eventId,
    };
    if (opts.secret) headers['x-politburo-signature-256'] = signBody(opts.secret, d.body);
    // The attempt ends at its timeout or at stop() (AbortSignal.any is not in every Node 20).
    const abort = new AbortController();
    const timeout = setTimeout(() => abort.abort(new DOMException('timed out', 'TimeoutError')), opts.timeoutMs);
    const onStop = () => abort.abort(new DOMException('stopping', 'AbortError'));
    stopping.signal.addEventListener('abort', onStop);
    try {
      const res = await opts.fetch(d.url, {
        method: 'POST',
        headers,
        body: d.body,
        redirect: 'manual',
        signal: abort.signal,
      });
      await res.body?.cancel().catch(() => undefined);
      if (res.ok) return { kind: 'delivered' };
      const error = `the webhook answered ${res.status}`;
      if (res.status >= 500 || res.status === 408 || res.status === 429)
        return { kind: 'retry', error, afterMs: retryAfterMs(res.headers.get('retry-after')) };
      if (res.status >= 300 && res.status < 400)
        return { kind: 'fail', error: `${error} (a redirect): configure the URL it redirects to` };
      return { kind: 'fail', error };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const reason = abort.signal.reason as Error | undefined;
      if (e.name === 'TimeoutError' || reason?.name === 'TimeoutError')
        return { kind: 'retry', error: `no answer within ${opts.timeoutMs} ms` };
      return { kind: 'retry', error: e.cause?.code ?? e.cause?.message ?? e.message };
    } finally {
      clearTimeout(timeout);
      stopping.signal.removeEventListener('abort', onStop);
    }
  }

  return {
    kick: () => void kick(),
    start() {
      if (interval) return;
      interval = setInterval(() => {
        void kick();
        if (Date.now() - prunedAt < PRUNE_EVERY_MS) return;
        prunedAt = Date.now();
        pruneAlertDeliveries(opts.pool).catch((err: Error) =>
          opts.logger.warn({ err: err.message }, 'could not delete old notification deliveries'),
        );
      }, opts.pollIntervalMs ?? 2_000);
      interval.unref();
      void kick();
    },
    async flush({ timeoutMs = 10_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        await kick();
        await Promise.all(inFlight);
        const { count, dueInMs } = await pendingAlertDeliveries(opts.pool);
        if (count === 0 || Date.now() >= deadline) return count;
        await new Promise((r) => setTimeout(r, Math.max(10, Math.min(dueInMs ?? 50, deadline - Date.now(), 1_000))));
      }
    },
    async stop() {
      stopping.abort();
      if (interval) clearInterval(interval);
      if (timer) clearTimeout(timer);
      await running?.catch(() => undefined);
      await Promise.allSettled(inFlight);
    },
  };
}

/** Retry-After in seconds (a date form is ignored: the backoff applies). */
function retryAfterMs(value: string | null): number | undefined {
  if (!value || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value.trim()) * 1000;
}

/** A webhook URL for the log: Slack-style URLs carry their secret in the path and query. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return '(invalid URL)';
  }
}
