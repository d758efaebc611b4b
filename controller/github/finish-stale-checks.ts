/**
 * Checks left pending by a crash are finished after the restart: a check still queued / in progress whose job is
 * gone is completed as `cancelled` ("interrupted: ..."), a commit status as `error`, and an apply check's GitHub
 * Deployment ends `error` with it (docs/controller.md, "Deployments on GitHub"). They are not re-enqueued: the job that
 * owned them is gone, and the next push or `/politburo plan` runs it again on purpose.
 */
import type pg from 'pg';
import { jobExistsForCommit } from '../store/graphile-queue.js';
import { listPendingChecks, type PendingCheck } from '../store/github-checks.js';
import { JOB_APPLY, JOB_PLAN_PR, type Reporter } from '../ports.js';
import { type Repository } from '../../kernel/repository.js';
import { applyDeployment } from './apply-deployment.js';
import { APPLY_CHECK_PREFIX } from './render-apply-check.js';

interface FinishStaleChecksOptions {
  /** Only checks not updated for this long (default 60 s: a check reported just now may not have its job yet). */
  olderThanMs?: number;
  /**
   * Whether a check's job still exists (default: a pending or running graphile-worker apply/plan job for its commit).
   */
  isActive?: (check: PendingCheck) => boolean | Promise<boolean>;
}

/** The summary of an interrupted check. */
export const INTERRUPTED_SUMMARY =
  'interrupted: the controller stopped (restart or crash) before this finished, and its job is gone. ' +
  'Push again, or comment `/politburo plan` on the pull request, to run it again.';

/** Finishes the stale checks; returns how many were finished. */
export async function finishStaleChecks(
  pool: pg.Pool,
  reporter: Reporter,
  opts: FinishStaleChecksOptions = {},
): Promise<number> {
  const pending = await listPendingChecks(pool, opts.olderThanMs ?? 60_000);
  const isActive = opts.isActive ?? ((c: PendingCheck) => jobExists(pool, c));
  let finished = 0;
  for (const check of pending) {
    if (await isActive(check)) continue;
    const [owner, ...rest] = check.repository.split('/');
    const repo: Repository = {
      kind: 'github',
      owner,
      name: rest.join('/'),
      cloneUrl: '',
      defaultBranch: '',
      ...(check.installationId ? { installationId: check.installationId } : {}),
    };
    const update = {
      status: 'completed',
      conclusion: 'cancelled',
      title: 'Interrupted',
      summary: INTERRUPTED_SUMMARY,
      ...(check.detailsUrl ? { detailsUrl: check.detailsUrl } : {}),
    } as const;
    await reporter.check({ repo, sha: check.sha, name: check.name }, update);
    if (check.name.startsWith(APPLY_CHECK_PREFIX) && reporter.deployment) {
      const environment = check.name.slice(APPLY_CHECK_PREFIX.length);
      const deployment = applyDeployment(update, { repository: check.repository, environment });
      if (deployment)
        await reporter.deployment(
          { repo, environment, sha: check.sha },
          { ...deployment, ...(check.detailsUrl ? { logUrl: check.detailsUrl } : {}) },
        );
    }
    finished++;
  }
  return finished;
}

/** A graphile-worker apply or plan job for the check's repository and commit, when graphile-worker is installed. */
async function jobExists(pool: pg.Pool, c: PendingCheck): Promise<boolean> {
  return jobExistsForCommit(pool, { tasks: [JOB_APPLY, JOB_PLAN_PR], sha: c.sha, repository: c.repository });
}
