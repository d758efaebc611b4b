/**
 * The controller's own records in PostgreSQL: the ControllerStore port (controller/jobs/job-ports.ts) over the table
 * modules of this folder. The only implementation the composition root (controller/wiring.ts) wires.
 */
import type pg from 'pg';
import { RepositorySchema, repositoryKey } from '../../kernel/repository.js';
import type { ControllerStore } from '../jobs/job-ports.js';
import { clearDriftAlert, recordDriftAlert } from './drift-alerts.js';
import {
  appliedEnvironmentSource,
  claimDriftTick,
  deleteDriftSchedule,
  listDriftSchedules,
  listenForDriftSchedules,
  notifyDriftSchedules,
  upsertDriftSchedules,
} from './drift-schedules.js';
import { claimPollHead, releasePollHead } from './poll-heads.js';
import { knownPullRequest, plannedHead, recordPlannedHead, rememberPullRequest } from './pull-requests.js';
import { findRelease, markReleased, recordPendingRelease, supersedePendingReleases } from './releases.js';
import { findAppliedPolicy, recordAppliedPolicy } from './applied-policies.js';

/** The ControllerStore over a pool. */
export function createPgControllerStore(pool: pg.Pool): ControllerStore {
  return {
    async recordDriftSchedules(schedules) {
      await upsertDriftSchedules(
        pool,
        schedules.map((s) => ({
          repository: repositoryKey(s.repo),
          environment: s.environment,
          schedule: s.schedule,
          heal: s.heal,
          repo: s.repo,
        })),
      );
      await notifyDriftSchedules(pool);
    },
    async forgetDriftSchedule(repo, environment) {
      await deleteDriftSchedule(pool, repositoryKey(repo), environment);
      await notifyDriftSchedules(pool);
    },
    async driftSchedules() {
      return (await listDriftSchedules(pool)).map(({ repository, environment, schedule }) => ({
        repository,
        environment,
        schedule,
      }));
    },
    async claimDriftTick(repository, environment, tick) {
      const claimed = await claimDriftTick(pool, repository, environment, tick);
      return claimed ? { repo: RepositorySchema.parse(claimed.repo), heal: claimed.heal } : null;
    },
    onDriftSchedulesChanged(changed, opts = {}) {
      let stopped = false;
      const listener = listenForDriftSchedules(pool, {
        changed,
        stopped: () => stopped,
        retryMs: opts.retryMs ?? 1_000,
        onLost: opts.onLost ?? (() => undefined),
      });
      return {
        stop() {
          stopped = true;
          listener.stop();
        },
      };
    },
    async appliedEnvironmentSource(repository, environment) {
      const found = await appliedEnvironmentSource(pool, repository, environment);
      return found ? { repo: RepositorySchema.parse(found.repo), sha: found.sha } : null;
    },
    async driftAlertChanged(repo, environment, fingerprint) {
      return fingerprint === null
        ? clearDriftAlert(pool, repositoryKey(repo), environment)
        : recordDriftAlert(pool, repositoryKey(repo), environment, fingerprint);
    },
    claimPollHead: (repository, branch, sha) => claimPollHead(pool, repository, branch, sha),
    releasePollHead: (repository, branch, sha, previous) => releasePollHead(pool, repository, branch, sha, previous),
    rememberPullRequest: (repo, pullNumber, pr) => rememberPullRequest(pool, repositoryKey(repo), pullNumber, pr),
    knownPullRequest: (repo, pullNumber) => knownPullRequest(pool, repositoryKey(repo), pullNumber),
    recordPlannedHead: (plan) =>
      recordPlannedHead(pool, {
        repository: repositoryKey(plan.repo),
        pullNumber: plan.pullNumber,
        baseSha: plan.baseSha,
        headSha: plan.headSha,
        environments: plan.environments,
        ...(plan.planHashes ? { planHashes: plan.planHashes } : {}),
      }),
    plannedHead: (repo, pullNumber, environment) => plannedHead(pool, repositoryKey(repo), pullNumber, environment),
    recordPendingRelease: (r) =>
      recordPendingRelease(pool, {
        repository: repositoryKey(r.repo),
        environment: r.environment,
        commit: r.sha,
        repo: r.repo,
        planSummary: r.planSummary,
      }),
    async release(repo, environment, sha) {
      const row = await findRelease(pool, repositoryKey(repo), environment, sha);
      if (!row) return null;
      return {
        repo: RepositorySchema.parse(row.repo),
        environment,
        sha,
        planSummary: row.planSummary,
        createdAt: row.createdAt,
        releasedBy: row.releasedBy,
        releasedAt: row.releasedAt,
        supersededBy: row.supersededBy,
      };
    },
    supersedePendingReleases: (repo, environment, sha) =>
      supersedePendingReleases(pool, repositoryKey(repo), environment, sha),
    markReleased: (repo, environment, sha, releasedBy) =>
      markReleased(pool, repositoryKey(repo), environment, sha, releasedBy),
    recordAppliedPolicy: (repo, environment, sha, policy) =>
      recordAppliedPolicy(pool, repositoryKey(repo), environment, sha, policy),
    appliedPolicy: (repo, environment) => findAppliedPolicy(pool, repositoryKey(repo), environment),
  };
}
