/**
 * graphile-worker's tables, as the controller uses them: the one module that names its schema (`graphile_worker`),
 * its private tables (`_private_jobs`, `_private_tasks`, `_private_job_queues`) and its SQL functions (`add_job`,
 * `force_unlock_workers`). Everything else asks this module (docs/architecture.md, the queue).
 *
 * graphile-worker's private tables change in minor versions, so this module is written for one: WRITTEN_FOR. At
 * start-up the queue refuses to run with another installed package (checkGraphileWorkerPackage, before its migrations
 * could change the database) or another schema revision in the database (checkQueueSchema, after them: a newer
 * replica may have migrated it). Moving to a new graphile-worker means re-reading its migrations (node_modules/
 * graphile-worker/sql), adjusting the SQL below, and updating WRITTEN_FOR; the contract test
 * (test/integration/controller/store/graphile-queue.test.ts) runs every query here against the real tables.
 */
import { createRequire } from 'node:module';
import type { Queryable } from '../../store/in-transaction.js';

export type { Queryable };

// ---------------------------------------------------------------------------------------------------------------
// The version this module was written for

/** The graphile-worker this module was written for: its minor version and the last migration of its schema. */
export interface QueueSchemaContract {
  /** Any patch release of this major.minor (private tables change in minor versions). */
  version: { major: number; minor: number };
  /** `max(id)` of `graphile_worker.migrations` once its migrations ran (sql/000019.sql in 0.17). */
  schemaRevision: number;
}

export const WRITTEN_FOR: QueueSchemaContract = { version: { major: 0, minor: 17 }, schemaRevision: 19 };

/** The installed graphile-worker found, or the database, is not the one this module was written for. */
export class QueueSchemaMismatchError extends Error {
  constructor(
    message: string,
    readonly found: string,
    readonly expected: string,
  ) {
    super(message);
    this.name = 'QueueSchemaMismatchError';
  }
}

const versionRange = (c: QueueSchemaContract) => `${c.version.major}.${c.version.minor}.x`;
const HOW_TO_MOVE =
  'controller/store/graphile-queue.ts uses its private tables, which change between minor versions: install the ' +
  'graphile-worker version in package.json, or update that module (and its WRITTEN_FOR) for the new version';

/** The version of the graphile-worker package that is installed (its package.json). */
export function installedGraphileWorkerVersion(): string {
  const pkg = createRequire(import.meta.url)('graphile-worker/package.json') as { version?: unknown };
  if (typeof pkg.version !== 'string') throw new Error('graphile-worker/package.json has no version');
  return pkg.version;
}

/** Throws QueueSchemaMismatchError when the installed graphile-worker is not of the minor version written for. */
export function checkGraphileWorkerPackage(
  installed: string = installedGraphileWorkerVersion(),
  expected: QueueSchemaContract = WRITTEN_FOR,
): void {
  const m = /^(\d+)\.(\d+)\.\d+/.exec(installed);
  if (m && Number(m[1]) === expected.version.major && Number(m[2]) === expected.version.minor) return;
  throw new QueueSchemaMismatchError(
    `graphile-worker ${installed} is installed, but the controller was written for graphile-worker ` +
      `${versionRange(expected)}. ${HOW_TO_MOVE}.`,
    installed,
    versionRange(expected),
  );
}

/** `max(id)` of `graphile_worker.migrations`; null when graphile-worker's schema is not installed. */
export async function queueSchemaRevision(db: Queryable): Promise<number | null> {
  const { rows } = await db.query<{ installed: boolean }>(
    `SELECT to_regclass('graphile_worker.migrations') IS NOT NULL
        AND to_regclass('graphile_worker._private_jobs') IS NOT NULL AS installed`,
  );
  if (!rows[0].installed) return null;
  const { rows: revision } = await db.query<{ id: number | null }>(
    `SELECT max(id) AS id FROM graphile_worker.migrations`,
  );
  return revision[0].id;
}

/** Why the database's queue schema cannot be used: not installed, or another revision; null when it can. */
export async function queueSchemaProblem(
  db: Queryable,
  expected: QueueSchemaContract = WRITTEN_FOR,
): Promise<string | null> {
  return describeRevision(await queueSchemaRevision(db), expected);
}

function describeRevision(revision: number | null, expected: QueueSchemaContract): string | null {
  if (revision === null) return 'the job queue schema is not installed yet';
  if (revision === expected.schemaRevision) return null;
  return (
    `the job queue schema (graphile_worker) is at revision ${revision}, but the controller was written for ` +
    `revision ${expected.schemaRevision} (graphile-worker ${versionRange(expected)})` +
    (revision > expected.schemaRevision ? ': a newer graphile-worker has migrated this database. ' : '. ') +
    `${HOW_TO_MOVE}.`
  );
}

/** Throws QueueSchemaMismatchError unless the database's queue schema is installed at the revision written for. */
export async function checkQueueSchema(db: Queryable, expected: QueueSchemaContract = WRITTEN_FOR): Promise<void> {
  const revision = await queueSchemaRevision(db);
  const problem = describeRevision(revision, expected);
  if (!problem) return;
  throw new QueueSchemaMismatchError(
    problem,
    revision === null ? 'no graphile_worker schema' : `revision ${revision}`,
    `revision ${expected.schemaRevision}`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Adding jobs

export type JobKeyMode = 'replace' | 'preserve_run_at' | 'unsafe_dedupe';

export interface AddJobOptions {
  /** Jobs of one named queue run one at a time, across every process. */
  queueName?: string;
  /** At most one pending job per key; see jobKeyMode. */
  jobKey?: string;
  /** `replace` (default): a new job with the same key replaces a pending one. */
  jobKeyMode?: JobKeyMode;
  runAt?: Date;
  /** Attempts before the job fails for good (graphile-worker's default is 25). */
  maxAttempts?: number;
  priority?: number;
}

export interface AddedJob {
  id: string;
  queueName: string | null;
  key: string | null;
}

/** Adds a job with graphile-worker's `add_job` (inside the caller's transaction when `db` is a client in one). */
export async function addJob(
  db: Queryable,
  task: string,
  payload: unknown,
  opts: AddJobOptions = {},
): Promise<AddedJob> {
  const { rows } = await db.query<{ id: string; key: string | null }>(
    `SELECT id::text, key FROM graphile_worker.add_job(identifier => $1, payload => $2::json, queue_name => $3,
       run_at => $4, max_attempts => $5, job_key => $6, priority => $7, job_key_mode => $8)`,
    [
      task,
      JSON.stringify(payload ?? {}),
      opts.queueName ?? null,
      opts.runAt ?? null,
      opts.maxAttempts ?? null,
      opts.jobKey ?? null,
      opts.priority ?? null,
      opts.jobKeyMode ?? 'replace',
    ],
  );
  return { id: rows[0].id, key: rows[0].key, queueName: opts.queueName ?? null };
}

/**
 * The payload of the job waiting under `key` (not running: a running job is never replaced), locked until the end of
 * the caller's transaction so that no other transaction replaces it meanwhile; undefined when there is none.
 */
export async function lockWaitingJobPayload(client: Queryable, key: string): Promise<unknown> {
  const { rows } = await client.query<{ payload: unknown }>(
    `SELECT payload FROM graphile_worker._private_jobs WHERE key = $1 AND is_available FOR UPDATE`,
    [key],
  );
  return rows[0]?.payload;
}

/** The payload of the job waiting under `key` (not running), read without locking; undefined when there is none. */
export async function waitingJobPayload(db: Queryable, key: string): Promise<unknown> {
  const { rows } = await db.query<{ payload: unknown }>(
    `SELECT payload FROM graphile_worker._private_jobs WHERE key = $1 AND is_available`,
    [key],
  );
  return rows[0]?.payload;
}

/** Makes sure graphile-worker knows a task identifier (insertJobSql looks its id up). Idempotent. */
export async function ensureTask(db: Queryable, identifier: string): Promise<void> {
  await db.query(`INSERT INTO graphile_worker._private_tasks (identifier) VALUES ($1) ON CONFLICT DO NOTHING`, [
    identifier,
  ]);
}

/**
 * The SQL of an INSERT of one job straight into the jobs table, for a data-modifying CTE of the caller's own
 * statement (controller/store/ingest-deliveries.ts: deliveries and their job in one statement, without add_job's
 * NOTIFY). Each part is an SQL expression of that statement: `task` the task identifier (its row must exist:
 * ensureTask; otherwise the insert fails with 23502), `payload` an aggregate over the rows of `from`, `maxAttempts` an
 * integer. The job is inserted only when `from` has rows; the CTE returns its `id`. No queue, no key, no NOTIFY: the
 * caller wakes the workers (`NOTIFY "jobs:insert"`).
 */
export function insertJobSql(parts: { task: string; payload: string; maxAttempts: string; from: string }): string {
  return `INSERT INTO graphile_worker._private_jobs (task_id, payload, max_attempts)
    SELECT (SELECT id FROM graphile_worker._private_tasks WHERE identifier = ${parts.task}),
           ${parts.payload}, ${parts.maxAttempts}
      FROM ${parts.from}
    HAVING count(*) > 0
    RETURNING id`;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading jobs

/** A job in the queue (waiting, running, or waiting for its next attempt). */
export interface QueueJob {
  id: string;
  task: string;
  queueName: string | null;
  key: string | null;
  payload: unknown;
  priority: number;
  runAt: Date;
  attempts: number;
  maxAttempts: number;
  lastError: string | null;
  /** The worker pool running it (graphile-worker's pool id), null when not running. */
  lockedBy: string | null;
  lockedAt: Date | null;
}

/** The jobs in the queue, oldest first; of one task, or the one job with an id. */
export async function listJobs(db: Queryable, filter: { task?: string; id?: string } = {}): Promise<QueueJob[]> {
  const { rows } = await db.query<QueueJob>(
    `SELECT j.id::text AS id, t.identifier AS task, q.queue_name AS "queueName", j.key, j.payload, j.priority,
            j.run_at AS "runAt", j.attempts, j.max_attempts AS "maxAttempts", j.last_error AS "lastError",
            j.locked_by AS "lockedBy", j.locked_at AS "lockedAt"
       FROM graphile_worker._private_jobs j
       JOIN graphile_worker._private_tasks t ON t.id = j.task_id
       LEFT JOIN graphile_worker._private_job_queues q ON q.id = j.job_queue_id
      WHERE ($1::text IS NULL OR t.identifier = $1) AND ($2::bigint IS NULL OR j.id = $2::bigint)
      ORDER BY j.id`,
    [filter.task ?? null, filter.id ?? null],
  );
  return rows;
}

/** How many jobs are in the queue (of one task). */
export async function countJobs(db: Queryable, filter: { task?: string } = {}): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    filter.task === undefined
      ? `SELECT count(*)::int AS n FROM graphile_worker._private_jobs`
      : `SELECT count(*)::int AS n FROM graphile_worker._private_jobs
          WHERE task_id = (SELECT id FROM graphile_worker._private_tasks WHERE identifier = $1)`,
    filter.task === undefined ? [] : [filter.task],
  );
  return rows[0].n;
}

/** Per task: jobs waiting (not running, attempts left) and running; a job with an array payload counts its entries. */
export async function queueStats(db: Queryable): Promise<{ task: string; waiting: number; running: number }[]> {
  const { rows } = await db.query<{ task: string; waiting: string; running: string }>(
    `SELECT t.identifier AS task,
            coalesce(sum(w.n) FILTER (WHERE j.locked_at IS NULL AND j.attempts < j.max_attempts), 0) AS waiting,
            coalesce(sum(w.n) FILTER (WHERE j.locked_at IS NOT NULL), 0) AS running
       FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t ON t.id = j.task_id,
            LATERAL (SELECT CASE WHEN json_typeof(j.payload) = 'array' THEN json_array_length(j.payload) ELSE 1 END AS n) w
      GROUP BY t.identifier
      ORDER BY t.identifier`,
  );
  return rows.map((r) => ({ task: r.task, waiting: Number(r.waiting), running: Number(r.running) }));
}

/**
 * Whether a job of one of `tasks` is queued or running for a commit of a repository (`owner/name`): its payload's
 * `sha` or `headSha`, and its `repo`. False when graphile-worker's schema is not installed.
 */
export async function jobExistsForCommit(
  db: Queryable,
  c: { tasks: readonly string[]; sha: string; repository: string },
): Promise<boolean> {
  const { rows: schema } = await db.query<{ present: boolean }>(
    `SELECT to_regclass('graphile_worker._private_jobs') IS NOT NULL AS present`,
  );
  if (!schema[0].present) return false;
  const { rows } = await db.query(
    `SELECT 1 FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t ON t.id = j.task_id
      WHERE t.identifier = ANY($1) AND (j.payload->>'sha' = $2 OR j.payload->>'headSha' = $2)
        AND (j.payload->'repo'->>'owner') || '/' || (j.payload->'repo'->>'name') = $3 LIMIT 1`,
    [c.tasks, c.sha, c.repository],
  );
  return rows.length > 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Locks of worker pools (crash recovery: controller/queue/heartbeat.ts, queue-worker.ts)

/** The worker pools holding a job or a named queue locked for longer than lockedForMs. */
export async function workerPoolsLockedFor(db: Queryable, lockedForMs: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT locked_by AS id FROM graphile_worker._private_jobs
      WHERE locked_by IS NOT NULL AND locked_at < now() - make_interval(secs => $1::float8 / 1000)
     UNION
     SELECT locked_by FROM graphile_worker._private_job_queues
      WHERE locked_by IS NOT NULL AND locked_at < now() - make_interval(secs => $1::float8 / 1000)
     ORDER BY id`,
    [lockedForMs],
  );
  return rows.map((r) => r.id);
}

/** Whether a worker pool still holds a job locked. */
export async function holdsLockedJob(db: Queryable, workerPoolId: string): Promise<boolean> {
  const { rowCount } = await db.query(`SELECT 1 FROM graphile_worker._private_jobs WHERE locked_by = $1 LIMIT 1`, [
    workerPoolId,
  ]);
  return !!rowCount;
}

/** The jobs a worker pool holds locked. */
export async function countJobsLockedBy(db: Queryable, workerPoolId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM graphile_worker._private_jobs WHERE locked_by = $1`,
    [workerPoolId],
  );
  return rows[0].n;
}

/** Releases the jobs and named queues the worker pools hold (graphile-worker's `force_unlock_workers`). */
export async function forceUnlockWorkers(db: Queryable, workerPoolIds: readonly string[]): Promise<void> {
  if (workerPoolIds.length)
    await db.query(`SELECT graphile_worker.force_unlock_workers($1::text[])`, [[...workerPoolIds]]);
}

// ---------------------------------------------------------------------------------------------------------------
// For tests and fault drills

/**
 * Marks a job as locked by a worker pool since lockedForMs ago, as a process that died mid-job leaves it; with
 * `queueToo`, its named queue as well. `attempts` sets the attempt count (a running job has used one).
 */
export async function markJobLocked(
  db: Queryable,
  jobId: string,
  lock: { workerPoolId: string; lockedForMs: number; attempts?: number; queueToo?: boolean },
): Promise<void> {
  await db.query(
    `WITH j AS (
       UPDATE graphile_worker._private_jobs
          SET locked_by = $2, locked_at = now() - make_interval(secs => $3::float8 / 1000),
              attempts = coalesce($4::int, attempts)
        WHERE id = $1::bigint
       RETURNING job_queue_id
     )
     UPDATE graphile_worker._private_job_queues q
        SET locked_by = $2, locked_at = now() - make_interval(secs => $3::float8 / 1000)
       FROM j WHERE $5::boolean AND q.id = j.job_queue_id`,
    [jobId, lock.workerPoolId, lock.lockedForMs, lock.attempts ?? null, lock.queueToo ?? false],
  );
}

/** Empties the queue: every job, waiting or running. */
export async function deleteAllJobs(db: Queryable): Promise<void> {
  await db.query(`DELETE FROM graphile_worker._private_jobs`);
}
