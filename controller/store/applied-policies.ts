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
    `INSERT INTO applied_policies (repository, environment, commit, apply, suspend) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (repository, environment) DO UPDATE
       SET commit = EXCLUDED.commit, apply = EXCLUDED.apply, suspend = EXCLUDED.suspend, recorded_at = now()`,
    [repository, environment, commit, policy.apply, policy.suspend],
  );
}

export async function findAppliedPolicy(
  db: Queryable,
  repository: string,
  environment: string,
): Promise<{ sha: string; policy: ApplyPolicy } | null> {
  const { rows } = await db.query<{ commit: string; apply: 'auto' | 'manual'; suspend: boolean }>(
    'SELECT commit, apply, suspend FROM applied_policies WHERE repository = $1 AND environment = $2',
    [repository, environment],
  );
  return rows[0] ? { sha: rows[0].commit, policy: { apply: rows[0].apply, suspend: rows[0].suspend } } : null;
}
