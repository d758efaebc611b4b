/**
 * The controller's flows as graphile-worker tasks: the composition root (controller/main.ts) passes the task list
 * returned here to the queue worker. Each task is one reconcile (see the handler modules).
 */
import type { TaskList } from 'graphile-worker';
import { JOB_APPLY, JOB_DELIVERY, JOB_DRIFT, JOB_PLAN_PR, JOB_POLL } from '../ports.js';
import { runApplyEnvironment } from './apply-environment.js';
import { runGitHubDelivery } from './github-delivery.js';
import { runDriftEnvironment } from './drift-environment.js';
import type { JobDeps } from './job-deps.js';
import { runPlanPullRequest } from './plan-pull-request.js';
import { pollOnce } from './poll.js';

export type { JobDeps } from './job-deps.js';
export type { ControllerStore, JobQueue } from './job-ports.js';
export { pollOnce } from './poll.js';
export { startDriftScheduler, recordDriftSchedules } from './drift-schedule.js';
export { createLogReporter } from './log-reporter.js';
export { cloneToken, githubAuth } from './clone-token.js';

/**
 * The task list of every flow: github-delivery, apply-environment, plan-pull-request, drift-environment,
 * poll-repositories.
 */
export function createTaskList(deps: JobDeps): TaskList {
  return {
    [JOB_DELIVERY]: (payload) => runGitHubDelivery(deps, payload),
    [JOB_APPLY]: (payload, helpers) => runApplyEnvironment(deps, payload, helpers),
    [JOB_PLAN_PR]: (payload) => runPlanPullRequest(deps, payload),
    [JOB_DRIFT]: (payload) => runDriftEnvironment(deps, payload),
    [JOB_POLL]: async () => {
      await pollOnce(deps);
    },
  };
}
