/**
 * Reports the GitHub Deployment of an apply next to its check (docs/controller.md, "Deployments on GitHub"): what it
 * says is controller/github/apply-deployment.ts; reporters without deployments (the log) are skipped. Like every
 * report, a failure is logged and never fails the job.
 */
import { applyDeployment, type DeploymentLinks } from '../github/apply-deployment.js';
import type { Logger } from '../logger.js';
import type { CheckUpdate, DeploymentUpdate, Reporter } from '../ports.js';
import { repositoryKey, type Repository } from '../../kernel/repository.js';
import { safely, type JobDeps } from './job-deps.js';

/** Sends a deployment update of the environment's apply at `sha` (null: nothing to send). */
export async function reportDeployment(
  reporter: Reporter,
  log: Logger,
  ref: { repo: Repository; environment: string; sha: string },
  update: DeploymentUpdate | null,
): Promise<void> {
  if (!update || !reporter.deployment) return;
  await safely(log, `${update.state} deployment of ${ref.environment}`, () => reporter.deployment!(ref, update));
}

/** The deployment update that follows an apply check update, with the dashboard links. */
export async function reportApplyDeployment(
  deps: Pick<JobDeps, 'config'>,
  reporter: Reporter,
  log: Logger,
  ref: { repo: Repository; environment: string; sha: string },
  check: CheckUpdate,
  extra: { trigger?: string; runId?: string } = {},
): Promise<void> {
  await reportDeployment(reporter, log, ref, applyDeployment(check, deploymentLinks(deps, ref, extra)));
}

/** What the deployment links to: the dashboard (POLITBURO_PUBLIC_URL) pages of the environment and the run. */
export function deploymentLinks(
  deps: Pick<JobDeps, 'config'>,
  ref: { repo: Repository; environment: string },
  extra: { trigger?: string; runId?: string } = {},
): DeploymentLinks {
  return {
    publicUrl: deps.config.publicUrl,
    repository: repositoryKey(ref.repo),
    environment: ref.environment,
    ...extra,
  };
}
