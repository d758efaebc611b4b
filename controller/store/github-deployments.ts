/**
 * `github_deployments` (migration 093): which GitHub deployment stands for the apply of an environment at a commit,
 * and the last status it was given. The write path that creates deployments and sends their statuses is
 * controller/github/send-deployment.ts (docs/controller.md, "Deployments on GitHub").
 */
import type { Queryable } from '../../store/in-transaction.js';

export interface DeploymentRecord {
  /** GitHub's deployment id; null when GitHub refused to create it (`refused` says why). */
  deploymentId: number | null;
  refused: string | null;
  /** The last state sent (`queued` for a deployment created without a status yet). */
  state: string | null;
  logUrl: string | null;
}

export interface DeploymentKey {
  repository: string;
  environment: string;
  sha: string;
}

/** The deployment of the environment's apply at the commit, if one was created (or refused). */
export async function readDeployment(db: Queryable, key: DeploymentKey): Promise<DeploymentRecord | null> {
  const { rows } = await db.query<{
    deployment_id: string | null;
    refused: string | null;
    state: string | null;
    log_url: string | null;
  }>(
    `SELECT deployment_id::text, refused, state, log_url FROM github_deployments
      WHERE repository = $1 AND environment = $2 AND commit = $3`,
    [key.repository, key.environment, key.sha],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    deploymentId: r.deployment_id === null ? null : Number(r.deployment_id),
    refused: r.refused,
    state: r.state,
    logUrl: r.log_url,
  };
}

/** Records the deployment GitHub created for the apply (its state: `queued` until a status is sent). */
export async function recordDeployment(db: Queryable, key: DeploymentKey, deploymentId: number): Promise<void> {
  await db.query(
    `INSERT INTO github_deployments (repository, environment, commit, deployment_id, state)
     VALUES ($1, $2, $3, $4, 'queued')
     ON CONFLICT (repository, environment, commit) DO UPDATE SET
       deployment_id = EXCLUDED.deployment_id, refused = NULL, state = 'queued', log_url = NULL, updated_at = now()`,
    [key.repository, key.environment, key.sha, deploymentId],
  );
}

/** GitHub refused to create the deployment (409, 422, a missing permission): no statuses are sent for it. */
export async function recordRefusedDeployment(db: Queryable, key: DeploymentKey, reason: string): Promise<void> {
  await db.query(
    `INSERT INTO github_deployments (repository, environment, commit, refused) VALUES ($1, $2, $3, $4)
     ON CONFLICT (repository, environment, commit) DO UPDATE SET
       deployment_id = NULL, refused = EXCLUDED.refused, state = NULL, log_url = NULL, updated_at = now()`,
    [key.repository, key.environment, key.sha, reason.slice(0, 1000)],
  );
}

/** The status just sent to the deployment. */
export async function recordDeploymentState(
  db: Queryable,
  key: DeploymentKey,
  state: string,
  logUrl: string | null,
): Promise<void> {
  await db.query(
    `UPDATE github_deployments SET state = $4, log_url = $5, updated_at = now()
      WHERE repository = $1 AND environment = $2 AND commit = $3`,
    [key.repository, key.environment, key.sha, state, logUrl],
  );
}
