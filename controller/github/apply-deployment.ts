/**
 * What the GitHub Deployment of an apply says (docs/controller.md, "Deployments on GitHub"): it follows the apply
 * check `politburo/ENV` of the same commit, state for state, and links to the dashboard. Pure.
 */
import { environmentUrl } from '../dashboard/links.js';
import type { CheckUpdate, DeploymentState, DeploymentUpdate } from '../ports.js';

export interface DeploymentLinks {
  /** POLITBURO_PUBLIC_URL without a trailing slash; no links without it. */
  publicUrl?: string;
  /** The repository's key (kernel/repository.ts repositoryKey). */
  repository: string;
  environment: string;
  /** The run, once there is one: the deployment's log link. */
  runId?: string;
  trigger?: string;
}

/** The deployment state an apply check stands for; null for checks that are no apply's (neutral: held back). */
export function deploymentState(update: CheckUpdate): DeploymentState | null {
  if (update.status === 'queued') return 'queued';
  if (update.status === 'in_progress') return 'in_progress';
  switch (update.conclusion) {
    case 'success':
      return 'success';
    case 'failure':
      return 'failure';
    case 'skipped':
      // Superseded by a newer commit before it ran: this deployment never happened.
      return 'inactive';
    case 'cancelled':
    case 'action_required':
      return 'error';
    default:
      return null;
  }
}

/** The deployment update that goes with an apply check update (null: the deployment is left as it is). */
export function applyDeployment(update: CheckUpdate, links: DeploymentLinks): DeploymentUpdate | null {
  const state = deploymentState(update);
  if (!state) return null;
  const env = links.environment;
  const description =
    state === 'success'
      ? `Applied ${env}: ${update.title}`
      : state === 'failure'
        ? `Apply of ${env} failed: ${update.title}`
        : state === 'error'
          ? `Apply of ${env} did not finish: ${update.title}`
          : update.title;
  return { state, description, ...urls(links), ...meta(links) };
}

/** The deployment of a commit that waits for a release (`apply: manual`): `pending` until released. */
export function waitingDeployment(links: DeploymentLinks, planSummary: string): DeploymentUpdate {
  return {
    state: 'pending',
    description: `Waiting for release (${planSummary}): comment /politburo apply ${links.environment}`,
    ...urls(links),
    ...meta(links),
  };
}

/** The dashboard's environment page, and the run's page once there is a run (else the environment page again). */
export function urls(links: DeploymentLinks): Pick<DeploymentUpdate, 'logUrl' | 'environmentUrl'> {
  if (!links.publicUrl) return {};
  const envPage = `${links.publicUrl}${environmentUrl(links.repository, links.environment)}`;
  const runPage = links.runId ? `${links.publicUrl}/runs/${encodeURIComponent(links.runId)}` : envPage;
  return { logUrl: runPage, environmentUrl: envPage };
}

function meta(links: DeploymentLinks): Pick<DeploymentUpdate, 'trigger' | 'runId'> {
  return { ...(links.trigger ? { trigger: links.trigger } : {}), ...(links.runId ? { runId: links.runId } : {}) };
}
