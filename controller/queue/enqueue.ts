/**
 * Adding jobs to the durable queue (graphile-worker) with plain SQL, so a job can be enqueued inside the caller's own
 * transaction: a stored delivery and its job commit together or not at all. The SQL is
 * controller/store/graphile-queue.ts.
 */
import type pg from 'pg';
import { JOB_APPLY, type ApplyEnvironmentJob } from '../ports.js';
import { inTransaction, type Queryable } from '../../store/in-transaction.js';
import { addJob, lockWaitingJobPayload, type AddJobOptions, type AddedJob } from '../store/graphile-queue.js';
import { repositoryKey } from '../../kernel/repository.js';

/** Adds a job (inside the caller's transaction when `db` is a client in one); returns its id. */
export async function enqueue(
  db: Queryable,
  task: string,
  payload: unknown,
  opts: AddJobOptions = {},
): Promise<AddedJob> {
  return addJob(db, task, payload, opts);
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
  job: ApplyEnvironmentJob,
  opts: Pick<AddJobOptions, 'runAt' | 'maxAttempts' | 'priority'> = {},
): Promise<AddedJob & { supersedes: string[] }> {
  const repo = repositoryKey(job.repo);
  const key = applyJobKey(repo, job.environment);
  return inTransaction(db, async (client) => {
    // Two replicas queueing the same environment at once must not both miss each other's pending job.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [key]);
    const waiting = (await lockWaitingJobPayload(client, key)) as Partial<ApplyEnvironmentJob> | undefined;
    const supersedes = mergeSuperseded(job, waiting);
    const payload: ApplyEnvironmentJob = { ...job, ...(supersedes.length ? { supersedes } : {}) };
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

function mergeSuperseded(job: ApplyEnvironmentJob, replaced: Partial<ApplyEnvironmentJob> | undefined): string[] {
  const shas = [...(job.supersedes ?? [])];
  if (replaced) {
    for (const sha of [...(replaced.supersedes ?? []), ...(typeof replaced.sha === 'string' ? [replaced.sha] : [])])
      shas.push(sha);
  }
  // The commit being applied is never "superseded" by itself (a redelivered push queues the same sha again).
  return [...new Set(shas)].filter((sha) => sha !== job.sha);
}
