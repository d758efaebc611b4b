/**
 * `drift_issues` (migration 008): the one `politburo:drift` issue of each environment and whether it is open. Written
 * by
 * the GitHub reporter (controller/github/) after each drift issue write.
 */
import type { Queryable } from '../../store/in-transaction.js';

/** Which environment: its repository (`repositoryKey`) and name. */
export interface EnvironmentKey {
  repository: string;
  environment: string;
}

interface DriftIssueRecord {
  issueNumber: number;
  open: boolean;
}

/** The environment's remembered drift issue, if any. */
export async function readDriftIssue(db: Queryable, env: EnvironmentKey): Promise<DriftIssueRecord | null> {
  const { rows } = await db.query<{ issue_number: number; open: boolean }>(
    'SELECT issue_number, open FROM drift_issues WHERE repository = $1 AND environment = $2',
    [env.repository, env.environment],
  );
  return rows[0] ? { issueNumber: rows[0].issue_number, open: rows[0].open } : null;
}

/** Remembers the environment's drift issue and whether it is open (replacing what was remembered). */
export async function saveDriftIssue(db: Queryable, env: EnvironmentKey, issue: DriftIssueRecord): Promise<void> {
  await db.query(
    `INSERT INTO drift_issues (repository, environment, issue_number, open) VALUES ($1, $2, $3, $4)
     ON CONFLICT (repository, environment) DO UPDATE SET issue_number = EXCLUDED.issue_number, open = EXCLUDED.open, updated_at = now()`,
    [env.repository, env.environment, issue.issueNumber, issue.open],
  );
}
