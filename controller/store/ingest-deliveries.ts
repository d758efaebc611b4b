/**
 * Stores verified deliveries and queues their `github-delivery` jobs, many in one statement (so one transaction): a
 * crash after the 2xx answer loses nothing, and a replayed delivery id stores nothing and queues nothing. The webhook
 * endpoint (webhooks/webhook-endpoint.ts) is given this as its DeliveryStore (createDeliveryStore).
 *
 * The bodies travel as they were signed, as one binary parameter (the bodies end to end, with offsets and lengths):
 * PostgreSQL checks that each is UTF-8 JSON, turns it into jsonb (which it had to do anyway to store it) and reads the
 * indexed fields (action, repository, installation) from it. Node never parses the payload or escapes it into a
 * text[] literal; both were the largest costs of ingestion in bench/webhooks.
 *
 * The deliveries stored by one statement share one `github-delivery` job, a graphile-worker "batch job": its payload is
 * the array of their `{ deliveryId }` in arrival order, and when some of them fail transiently only those are retried
 * (controller/queue/wrap-task.ts runs the entries one by one and reports each). A delivery arriving alone is a batch
 * of one. One job row per statement rather than per delivery: under a burst, both the inserts (the jobs table has
 * four indexes) and the workers' job fetches are divided by the batch size.
 *
 * The job rows are inserted into graphile-worker's jobs table directly rather than through `add_job()`: add_job ends
 * every call with a `pg_notify`, and NOTIFY serialises committing transactions database-wide, which capped ingestion
 * at ~200 deliveries/s (measured). The wake-up is instead coalesced (createJobNotifier): one NOTIFY per burst, in
 * graphile-worker's own format, so every replica's workers still start at once. Delivery jobs need none of add_job's
 * extras (no queue, no key: a delivery id is stored once, webhook_deliveries' primary key sees to that).
 */
import type { DeliveryStore, IncomingDelivery, StoreOutcome } from '../../webhooks/ingest-ports.js';
import { JOB_DELIVERY } from '../ports.js';
import { ensureTask, insertJobSql } from './graphile-queue.js';
import type { Queryable } from '../../store/in-transaction.js';

export type { IncomingDelivery, StoreOutcome };

/** Attempts of a delivery job before it fails for good (graphile-worker backs off exponentially between them). */
const DELIVERY_MAX_ATTEMPTS = 10;

// $1 ids, $2 events, $3 the bodies end to end, $4 1-based offsets, $5 lengths, $6 the job's task, $7 its attempts.
// Rows come back for JSON objects only: with a job id when stored, without when the id was already there.
// A \u0000 escape (an odd number of backslashes before u0000) becomes \ufffd, which jsonb can hold (see NUL_NOTE).
const STORE_SQL = {
  name: 'politburo_store_deliveries_v5',
  text: `WITH input AS MATERIALIZED (
    SELECT t.n, t.id, t.event,
      (CASE WHEN strpos(x.body, '\\u0000') > 0 THEN regexp_replace(x.body, '(?<!\\\\)((?:\\\\\\\\)*)\\\\u0000', '\\1\\\\ufffd', 'g') ELSE x.body END)::jsonb AS p
      FROM unnest($1::text[], $2::text[], $4::int[], $5::int[]) WITH ORDINALITY AS t(id, event, off, len, n),
           LATERAL (SELECT convert_from(substring($3::bytea FROM t.off FOR t.len), 'UTF8') AS body) x
  ), objects AS (
    SELECT n, id, event, p,
      CASE WHEN jsonb_typeof(p->'action') = 'string' THEN left(p->>'action', 200) END AS action,
      CASE WHEN jsonb_typeof(p#>'{repository,full_name}') = 'string' THEN p#>>'{repository,full_name}' END AS repository,
      CASE WHEN jsonb_typeof(p#>'{installation,id}') = 'number' AND p#>>'{installation,id}' ~ '^-?[0-9]{1,16}$'
        THEN CASE WHEN abs((p#>>'{installation,id}')::numeric) <= 9007199254740991 THEN (p#>>'{installation,id}')::bigint END
      END AS installation_id
      FROM input WHERE jsonb_typeof(p) = 'object'
  ), ins AS (
    INSERT INTO webhook_deliveries (delivery_id, event, action, repository, installation_id, payload)
    SELECT id, event, action, repository, installation_id, p FROM objects
    ON CONFLICT (delivery_id) DO NOTHING
    RETURNING delivery_id
  ), job AS (
    ${insertJobSql({
      task: '$6',
      payload: "json_agg(json_build_object('deliveryId', o.id) ORDER BY o.n)",
      maxAttempts: '$7',
      from: 'ins JOIN objects o ON o.id = ins.delivery_id',
    })}
  )
  SELECT o.n::int AS n, o.action, o.repository, o.installation_id::text AS installation_id,
         CASE WHEN ins.delivery_id IS NOT NULL THEN (SELECT id::text FROM job) END AS job_id
    FROM objects o LEFT JOIN ins ON ins.delivery_id = o.id`,
};

interface StoredRow {
  n: number;
  action: string | null;
  repository: string | null;
  installation_id: string | null;
  job_id: string | null;
}

/** Makes sure graphile-worker knows the delivery task (its id is looked up by every insert). Idempotent. */
export async function ensureDeliveryTask(db: Queryable): Promise<void> {
  await ensureTask(db, JOB_DELIVERY);
}

/**
 * Stores deliveries with distinct ids in one statement; the outcomes are in the same order. Throws when any body
 * cannot be stored (not UTF-8, not JSON, a `\u0000` jsonb refuses): the caller stores such a batch one by one, so
 * the error reaches only the delivery that caused it (see describeStoreError).
 */
async function storeDeliveries(db: Queryable, ds: readonly IncomingDelivery[]): Promise<StoreOutcome[]> {
  const offsets: number[] = [];
  const lengths: number[] = [];
  let at = 1;
  for (const d of ds) {
    offsets.push(at);
    lengths.push(d.body.length);
    at += d.body.length;
  }
  const values = [
    ds.map((d) => d.id),
    ds.map((d) => d.event),
    Buffer.concat(ds.map((d) => d.body)),
    offsets,
    lengths,
    JOB_DELIVERY,
    DELIVERY_MAX_ATTEMPTS,
  ];
  let rows: StoredRow[];
  try {
    ({ rows } = await db.query<StoredRow>({ ...STORE_SQL, values }));
  } catch (err) {
    // 23502 (task_id null): the task row is not there yet on a fresh queue schema.
    if ((err as { code?: string }).code !== '23502') throw err;
    await ensureDeliveryTask(db);
    ({ rows } = await db.query<StoredRow>({ ...STORE_SQL, values }));
  }
  const outcomes: StoreOutcome[] = ds.map(() => ({ status: 'not-an-object' }));
  for (const r of rows) {
    outcomes[r.n - 1] = r.job_id
      ? {
          status: 'accepted',
          jobId: r.job_id,
          action: r.action,
          repository: r.repository,
          installationId: r.installation_id === null ? null : Number(r.installation_id),
        }
      : { status: 'duplicate' };
  }
  return outcomes;
}

/** Stores one delivery (see storeDeliveries). */
export async function storeDelivery(db: Queryable, d: IncomingDelivery): Promise<StoreOutcome> {
  return (await storeDeliveries(db, [d]))[0];
}

/**
 * What a delivery that PostgreSQL refused to store did wrong, for its 400 answer; null when the error is not the
 * payload's fault (a database outage: the answer is 503 and GitHub can redeliver).
 */
function describeStoreError(err: unknown): string | null {
  const e = err as { code?: unknown; message?: unknown; detail?: unknown };
  if (typeof e?.code !== 'string') return null;
  const detail = typeof e.detail === 'string' && e.detail ? e.detail : '';
  // 22P02 invalid_text_representation: the json parser; nothing else in STORE_SQL parses text.
  if (e.code === '22P02') return `the body is not valid JSON (${String(e.message)}${detail ? `: ${detail}` : ''})`;
  // 54001 statement too complex / stack depth: JSON nested deeper than PostgreSQL will parse.
  if (e.code === '54001') return 'the payload cannot be stored: its JSON is nested too deeply';
  // Other data exceptions (class 22): \u0000 in a string (22P05), a body that is not UTF-8 (22021), …
  if (e.code.startsWith('22'))
    return `the payload cannot be stored: ${String(e.message)}${detail ? ` (${detail})` : ''}`;
  return null;
}

export interface JobNotifier {
  /** A job was inserted: wake the workers (coalesced with other kicks within delayMs). */
  kick(): void;
  /** Sends a pending wake-up now and stops. */
  close(): Promise<void>;
}

/** One `NOTIFY "jobs:insert"` per burst of inserted jobs (see module comment). */
function createJobNotifier(db: Queryable, delayMs = 5): JobNotifier {
  let pending = 0;
  let timer: NodeJS.Timeout | null = null;
  const flush = async () => {
    timer = null;
    const count = pending;
    pending = 0;
    if (!count) return;
    // graphile-worker's payload: workers are nudged `count` times. Failures only delay pick-up to its poll interval.
    await db
      .query(`SELECT pg_notify('jobs:insert', $1)`, [JSON.stringify({ r: Math.random(), count })])
      .catch(() => {});
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

/** The store the webhook endpoint is given (webhooks/ingest-ports.ts): these statements, and a coalesced wake-up. */
export function createDeliveryStore(db: Queryable, notifier: JobNotifier = createJobNotifier(db)): DeliveryStore {
  return {
    storeAll: (ds) => storeDeliveries(db, ds),
    describeError: describeStoreError,
    jobQueued: () => notifier.kick(),
  };
}
