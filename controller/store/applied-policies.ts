/**
 * The `applied_policies` table (migrations/092_applied_policies.sql): each environment's apply policy as described at
 * the commit last applied, which governs the next push (docs/language.md, "Apply policy").
 */
import type { ApplyPolicy } from '../../kernel/types.js';
import type { Queryable } from '../../store/in-transaction.js';

export async function recordAppliedPolicy(
  db: Queryable,
  repository: string,
  environment: string,
  commit: string,
  policy: ApplyPolicy,
): Promise<void> {
  await db.query(
    `INSERT INTO applied_policies (repository, environment, commit, apply, suspend, apply_from_pull_request)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (repository, environment) DO UPDATE
       SET commit = EXCLUDED.commit, apply = EXCLUDED.apply, suspend = EXCLUDED.suspend,
           apply_from_pull_request = EXCLUDED.apply_from_pull_request, recorded_at = now()`,
    [repository, environment, commit, policy.apply, policy.suspend, policy.applyFromPullRequest ?? false],
  );
}

export async function findAppliedPolicy(
  db: Queryable,
  repository: string,
  environment: string,
): Promise<{ sha: string; policy: ApplyPolicy } | null> {
  const { rows } = await db.query<{
    commit: string;
    apply: 'auto' | 'manual';
    suspend: boolean;
    apply_from_pull_request: boolean | null;
  }>(
    'SELECT commit, apply, suspend, apply_from_pull_request FROM applied_policies WHERE repository = $1 AND environment = $2',
    [repository, environment],
  );
  const row = rows[0];
  if (!row) return null;
  // NULL: recorded before migration 096, when `apply_from_pull_request` was not kept: left out (the caller reads it).
  const policy: ApplyPolicy = { apply: row.apply, suspend: row.suspend };
  if (row.apply_from_pull_request !== null) policy.applyFromPullRequest = row.apply_from_pull_request;
  return { sha: row.commit, policy };
}
