/**
 * Adding jobs to the durable queue (graphile-worker) with plain SQL, so a job can be enqueued inside the caller's own
 * transaction: a stored delivery and its job commit together or not at all.
 */
import type pg from 'pg';
import { JOB_APPLY, repoKey, type ApplyJob } from '../ports.js';
import { inTransaction } from '../../store/in-transaction.js';

/** A pool or a client inside a transaction: anything that can run a query. */
export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

export type JobKeyMode = 'replace' | 'preserve_run_at' | 'unsafe_dedupe';

export interface EnqueueOptions {
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

export interface EnqueuedJob {
  id: string;
  queueName: string | null;
  key: string | null;
}

const ADD_JOB_SQL = `SELECT id::text, key FROM graphile_worker.add_job(identifier => $1, payload => $2::json, queue_name => $3, run_at => $4,
    max_attempts => $5, job_key => $6, priority => $7, job_key_mode => $8)`;

/** Adds a job (inside the caller's transaction when `db` is a client in one); returns its id. */
export async function enqueue(
  db: Queryable,
  task: string,
  payload: unknown,
  opts: EnqueueOptions = {},
): Promise<EnqueuedJob> {
  const { rows } = await db.query<{ id: string; key: string | null }>(ADD_JOB_SQL, [
    task,
    JSON.stringify(payload ?? {}),
    opts.queueName ?? null,
    opts.runAt ?? null,
    opts.maxAttempts ?? null,
    opts.jobKey ?? null,
    opts.priority ?? null,
    opts.jobKeyMode ?? 'replace',
  ]);
  return { id: rows[0].id, key: rows[0].key, queueName: opts.queueName ?? null };
}

/** The queue that serialises one environment of one repository across every process. */
export function environmentQueue(repo: string, environment: string): string {
  return `env:${repo}:${environment}`;
}

/** The job key under which a newer apply of an environment replaces a queued older one. */
export function applyJobKey(repo: string, environment: string): string {
  return `apply:${repo}:${environment}`;
}

export { inTransaction };

/**
 * Queues an apply of one environment at one commit. A queued (not yet running) apply of the same environment is
 * replaced; its commit, and the commits it had itself replaced, are carried in the new payload's `supersedes` so the
 * apply job can finish their checks as superseded. A running apply is never replaced: the new one waits behind it.
 */
export async function enqueueApply(
  db: pg.Pool | pg.PoolClient,
  job: ApplyJob,
  opts: Pick<EnqueueOptions, 'runAt' | 'maxAttempts' | 'priority'> = {},
): Promise<EnqueuedJob & { supersedes: string[] }> {
  const repo = repoKey(job.repo);
  const key = applyJobKey(repo, job.environment);
  return inTransaction(db, async (client) => {
    // Two replicas queueing the same environment at once must not both miss each other's pending job.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [key]);
    const { rows } = await client.query<{ payload: Partial<ApplyJob> }>(
      `SELECT payload FROM graphile_worker._private_jobs WHERE key = $1 AND is_available FOR UPDATE`,
      [key],
    );
    const supersedes = mergeSuperseded(job, rows[0]?.payload);
    const payload: ApplyJob = { ...job, ...(supersedes.length ? { supersedes } : {}) };
    if (!supersedes.length) delete payload.supersedes;
    const added = await enqueue(client, JOB_APPLY, payload, {
      ...opts,
      queueName: environmentQueue(repo, job.environment),
      jobKey: key,
      jobKeyMode: 'replace',
    });
    return { ...added, supersedes };
  });
}

function mergeSuperseded(job: ApplyJob, replaced: Partial<ApplyJob> | undefined): string[] {
  const shas = [...(job.supersedes ?? [])];
  if (replaced) {
    for (const sha of [...(replaced.supersedes ?? []), ...(typeof replaced.sha === 'string' ? [replaced.sha] : [])])
      shas.push(sha);
  }
  // The commit being applied is never "superseded" by itself (a redelivered push queues the same sha again).
  return [...new Set(shas)].filter((sha) => sha !== job.sha);
}
