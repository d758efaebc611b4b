/**
 * The JobQueue port (controller/jobs/job-ports.ts) over graphile-worker (controller/queue/enqueue.ts): which named
 * queue and job key each job kind uses, so jobs of one environment never overlap and a newer job replaces a waiting
 * one.
 */
import type pg from 'pg';
import { repositoryKey, type Repository } from '../../kernel/repository.js';
import type { JobQueue } from '../jobs/job-ports.js';
import { JOB_DRIFT, JOB_PLAN_PR, type ApplyEnvironmentJob, type PlanPullRequestJob } from '../ports.js';
import { applyJobKey, enqueue, enqueueApply, environmentQueue } from '../queue/enqueue.js';
import { waitingJobPayload } from './graphile-queue.js';

/** The job key that keeps one drift job per environment. */
function driftJobKey(repo: Repository, environment: string): string {
  return `drift:${repositoryKey(repo)}:${environment}`;
}

/** One pull request's plans, or one merge group's (its ref), share a key. */
export function planJobKey(job: PlanPullRequestJob): string {
  const target = job.mergeGroup ? `@${job.mergeGroup.headRef}` : `#${job.pullNumber}`;
  return `plan:${repositoryKey(job.repo)}${target}`;
}

/** The JobQueue over a pool. */
export function createPgJobQueue(pool: pg.Pool): JobQueue {
  return {
    async enqueueApply(job) {
      const added = await enqueueApply(pool, job);
      return { id: added.id, supersedes: added.supersedes };
    },
    async waitingApply(repo, environment) {
      const payload = await waitingJobPayload(pool, applyJobKey(repositoryKey(repo), environment));
      return (payload as ApplyEnvironmentJob | undefined) ?? null;
    },
    async enqueuePlan(job) {
      // Plans of one pull request (or merge group) run one at a time; a newer request replaces a queued older one.
      const key = planJobKey(job);
      const added = await enqueue(pool, JOB_PLAN_PR, job, {
        queueName: key,
        jobKey: `${key}${job.live ? ':live' : ''}`,
        jobKeyMode: 'replace',
        maxAttempts: 5,
      });
      return { id: added.id };
    },
    async enqueueDrift(job) {
      // On the environment's queue, so drift never overlaps an apply; one waiting per environment.
      const added = await enqueue(pool, JOB_DRIFT, job, {
        queueName: environmentQueue(repositoryKey(job.repo), job.environment),
        jobKey: driftJobKey(job.repo, job.environment),
        jobKeyMode: 'preserve_run_at',
        maxAttempts: 3,
      });
      return { id: added.id };
    },
  };
}
