/**
 * Sends a deployment write (docs/controller.md, "Deployments on GitHub"): the first write of an apply creates its
 * GitHub Deployment (its id remembered in github_deployments, so every process sends the statuses to the same one),
 * later writes add statuses. A new deployment counts as `queued` until its first status, so an apply costs three
 * writes: the deployment, `in_progress`, and the outcome.
 *
 * GitHub refuses to create a deployment whose commit has pending or failed status checks unless `required_contexts`
 * says which to wait for: Politburo's own check on that commit is pending while it applies, so it sends an empty list
 * (and `auto_merge: false`: the commit applied is the commit deployed). A refusal (409, 422, a missing permission) is
 * logged and recorded: the apply carries on, and no statuses are sent for that deployment.
 */
import type { Octokit } from 'octokit';
import type { DeploymentUpdate } from '../ports.js';
import { STATUS_DESCRIPTION_LIMIT } from './markdown.js';
import { classifyFailure, type MinimalLogger } from './write-queue.js';
import type { GitHubRepository } from '../../kernel/repository.js';
import type { Queryable } from '../../store/in-transaction.js';
import {
  readDeployment,
  recordDeployment,
  recordDeploymentState,
  recordRefusedDeployment,
  type DeploymentKey,
} from '../store/github-deployments.js';

export interface DeploymentPayload {
  repo: Pick<GitHubRepository, 'owner' | 'name' | 'installationId'>;
  /** The repository's key (kernel/repository.ts repositoryKey): what github_deployments is keyed by. */
  repository: string;
  environment: string;
  sha: string;
  update: DeploymentUpdate;
  [key: string]: unknown;
}

/** Environments GitHub should count as production (its `production_environment`). */
export const isProductionEnvironment = (environment: string): boolean => /^prod(uction)?$/i.test(environment);

/** Whether a deployment listed by GitHub is one Politburo created (its payload says so). */
const ours = (d: { payload: unknown }) =>
  typeof d.payload === 'object' && d.payload !== null && 'politburo' in (d.payload as Record<string, unknown>);

/** Creates the deployment if needed and sends the status; see the module comment. */
export async function sendDeployment(
  db: Queryable,
  octokit: Octokit,
  p: DeploymentPayload,
  logger: MinimalLogger,
): Promise<void> {
  const key: DeploymentKey = { repository: p.repository, environment: p.environment, sha: p.sha };
  const where = { repo: p.repository, env: p.environment, sha: p.sha, state: p.update.state };
  const u = p.update;
  let record = await readDeployment(db, key);
  if (record?.refused) {
    logger.debug?.({ ...where, refused: record.refused }, 'GitHub refused this deployment earlier: status not sent');
    return;
  }
  if (!record) {
    // A commit superseded before its deployment was created: nothing was deployed, so nothing to mark inactive.
    if (u.state === 'inactive') return;
    const made = await createDeployment(octokit, p);
    if ('refused' in made) {
      await recordRefusedDeployment(db, key, made.refused);
      logger.warn(
        { ...where, reason: made.refused },
        `GitHub refused the deployment of ${p.environment} at ${p.sha.slice(0, 7)}; the apply goes on without one`,
      );
      return;
    }
    await recordDeployment(db, key, made.id);
    record = { deploymentId: made.id, refused: null, state: 'queued', logUrl: null };
  }
  // A state is not sent twice in a row (a redelivered push, a retried write; a new deployment is queued already).
  if (record.state === u.state) return;
  await octokit.rest.repos.createDeploymentStatus({
    owner: p.repo.owner,
    repo: p.repo.name,
    deployment_id: record.deploymentId!,
    state: u.state,
    description: cut(u.description),
    ...(u.logUrl ? { log_url: u.logUrl } : {}),
    ...(u.environmentUrl ? { environment_url: u.environmentUrl } : {}),
  });
  await recordDeploymentState(db, key, u.state, u.logUrl ?? null);
}

/**
 * The deployment's id: one Politburo created for this commit and environment already (a process died between
 * GitHub's answer and recording it), else a new one. A refusal is returned with its reason; anything worth retrying
 * (a rate limit, a 5xx, the network) is thrown to the write queue.
 */
async function createDeployment(octokit: Octokit, p: DeploymentPayload): Promise<{ id: number } | { refused: string }> {
  const repo = { owner: p.repo.owner, repo: p.repo.name };
  try {
    const { data: existing } = await octokit.rest.repos.listDeployments({
      ...repo,
      sha: p.sha,
      environment: p.environment,
      per_page: 100,
    });
    const found = existing.find(ours);
    if (found) return { id: found.id };
    const made = await octokit.rest.repos.createDeployment({
      ...repo,
      ref: p.sha,
      environment: p.environment,
      description: cut(p.update.description),
      // Politburo's own check on this commit is pending while it applies: GitHub must not wait for any check.
      required_contexts: [],
      auto_merge: false,
      transient_environment: false,
      production_environment: isProductionEnvironment(p.environment),
      payload: {
        politburo: {
          environment: p.environment,
          ...(p.update.trigger ? { trigger: p.update.trigger } : {}),
          ...(p.update.runId ? { run_id: p.update.runId } : {}),
        },
      },
    });
    // 202: GitHub merged the default branch into the ref instead (only with auto_merge, which is off).
    const id = (made.data as { id?: number }).id;
    if (made.status !== 201 || typeof id !== 'number')
      return { refused: `GitHub answered ${made.status}: ${(made.data as { message?: string }).message ?? ''}` };
    return { id };
  } catch (err) {
    if (classifyFailure(err).kind !== 'terminal') throw err;
    const e = err as { status?: number; message?: string };
    const hint =
      e.status === 403 || e.status === 404
        ? ' (the GitHub App needs the Deployments permission, read & write)'
        : e.status === 409
          ? ' (a conflict with the commit or its required checks)'
          : '';
    return { refused: `GitHub answered ${e.status ?? 'an error'}: ${e.message ?? String(err)}${hint}` };
  }
}

function cut(text: string): string {
  return text.length <= STATUS_DESCRIPTION_LIMIT ? text : `${text.slice(0, STATUS_DESCRIPTION_LIMIT - 1)}…`;
}
