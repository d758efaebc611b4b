/**
 * Pull request tables: `pull_requests` (heads and bases as last delivered: comments carry no head) and `pr_plans`
 * (which head each environment's plan check was made at, so older heads' checks end as superseded; and the hash of the
 * plan the comment shows, so `/politburo apply ENV` on the pull request applies only that plan).
 */
import type { Queryable } from '../../store/in-transaction.js';
import type { PlannedHead } from '../jobs/job-ports.js';

export interface KnownPullRequest {
  headSha: string;
  baseSha: string;
  /** `owner/name` of the head's repository (a fork's differs), null when unknown. */
  headRepository: string | null;
}

/** Remembers a pull request's head and base. */
export async function rememberPullRequest(
  db: Queryable,
  repository: string,
  pullNumber: number,
  pr: KnownPullRequest,
): Promise<void> {
  await db.query(
    `INSERT INTO pull_requests (repository, pull_number, head_sha, base_sha, head_repository) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (repository, pull_number) DO UPDATE SET head_sha = EXCLUDED.head_sha, base_sha = EXCLUDED.base_sha,
       head_repository = EXCLUDED.head_repository, updated_at = now()`,
    [repository, pullNumber, pr.headSha, pr.baseSha, pr.headRepository],
  );
}

/** The pull request as last delivered, or null when never seen. */
export async function knownPullRequest(
  db: Queryable,
  repository: string,
  pullNumber: number,
): Promise<KnownPullRequest | null> {
  const { rows } = await db.query<{ head_sha: string; base_sha: string; head_repository: string | null }>(
    'SELECT head_sha, base_sha, head_repository FROM pull_requests WHERE repository = $1 AND pull_number = $2',
    [repository, pullNumber],
  );
  return rows[0]
    ? { headSha: rows[0].head_sha, baseSha: rows[0].base_sha, headRepository: rows[0].head_repository }
    : null;
}

/**
 * Records the plans of `headSha` and marks every other head's plans of the pull request superseded; returns those
 * just superseded (environment and head), whose checks are to be finished.
 */
export async function recordPlannedHead(
  db: Queryable,
  plan: {
    repository: string;
    pullNumber: number;
    baseSha: string;
    headSha: string;
    environments: string[];
    planHashes?: Record<string, string>;
  },
): Promise<{ environment: string; headSha: string }[]> {
  for (const env of plan.environments) {
    await db.query(
      `INSERT INTO pr_plans (repository, pull_number, environment, base_sha, head_sha, plan_hash) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (repository, pull_number, environment, head_sha)
       DO UPDATE SET base_sha = EXCLUDED.base_sha, plan_hash = EXCLUDED.plan_hash, superseded = false, created_at = now()`,
      [plan.repository, plan.pullNumber, env, plan.baseSha, plan.headSha, plan.planHashes?.[env] ?? null],
    );
  }
  const { rows } = await db.query<{ environment: string; head_sha: string }>(
    `UPDATE pr_plans SET superseded = true WHERE repository = $1 AND pull_number = $2 AND head_sha <> $3 AND NOT superseded
     RETURNING environment, head_sha`,
    [plan.repository, plan.pullNumber, plan.headSha],
  );
  return rows.map((r) => ({ environment: r.environment, headSha: r.head_sha }));
}

/** The latest plan of the environment that no newer head superseded, or null when it was never planned. */
export async function plannedHead(
  db: Queryable,
  repository: string,
  pullNumber: number,
  environment: string,
): Promise<PlannedHead | null> {
  const { rows } = await db.query<{ base_sha: string; head_sha: string; plan_hash: string | null }>(
    `SELECT base_sha, head_sha, plan_hash FROM pr_plans
      WHERE repository = $1 AND pull_number = $2 AND environment = $3 AND NOT superseded
      ORDER BY created_at DESC LIMIT 1`,
    [repository, pullNumber, environment],
  );
  return rows[0] ? { baseSha: rows[0].base_sha, headSha: rows[0].head_sha, planHash: rows[0].plan_hash } : null;
}
