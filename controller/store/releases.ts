/**
 * The `releases` table (migrations/090_releases.sql): commits of manual environments waiting for `/politburo apply
 * ENV`, and who released each one and when (docs/language.md, "Apply policy"; docs/controller.md, "Releases").
 */
import type { Queryable } from '../../store/in-transaction.js';

export interface ReleaseRow {
  repository: string;
  environment: string;
  commit: string;
  repo: unknown;
  planSummary: string;
  createdAt: string;
  releasedBy: string | null;
  releasedAt: string | null;
  supersededBy: string | null;
}

interface Row {
  repository: string;
  environment: string;
  commit: string;
  repo: unknown;
  plan_summary: string;
  created_at: Date;
  released_by: string | null;
  released_at: Date | null;
  superseded_by: string | null;
}

const toRelease = (r: Row): ReleaseRow => ({
  repository: r.repository,
  environment: r.environment,
  commit: r.commit,
  repo: r.repo,
  planSummary: r.plan_summary,
  createdAt: r.created_at.toISOString(),
  releasedBy: r.released_by,
  releasedAt: r.released_at ? r.released_at.toISOString() : null,
  supersededBy: r.superseded_by,
});

/** Records a commit as waiting for release (a redelivered push refreshes its plan summary, never its release). */
export async function recordPendingRelease(
  db: Queryable,
  r: { repository: string; environment: string; commit: string; repo: unknown; planSummary: string },
): Promise<void> {
  await db.query(
    `INSERT INTO releases (repository, environment, commit, repo, plan_summary) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (repository, environment, commit) DO UPDATE SET plan_summary = EXCLUDED.plan_summary, repo = EXCLUDED.repo`,
    [r.repository, r.environment, r.commit, JSON.stringify(r.repo), r.planSummary],
  );
}

/** The release of a commit of an environment, or null when none was recorded. */
export async function findRelease(
  db: Queryable,
  repository: string,
  environment: string,
  commit: string,
): Promise<ReleaseRow | null> {
  const { rows } = await db.query<Row>(
    'SELECT * FROM releases WHERE repository = $1 AND environment = $2 AND commit = $3',
    [repository, environment, commit],
  );
  return rows[0] ? toRelease(rows[0]) : null;
}

/** Marks a pending release as released; false when it was released already (or is not recorded). */
export async function markReleased(
  db: Queryable,
  repository: string,
  environment: string,
  commit: string,
  releasedBy: string,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE releases SET released_by = $4, released_at = now()
      WHERE repository = $1 AND environment = $2 AND commit = $3 AND released_at IS NULL AND superseded_by IS NULL`,
    [repository, environment, commit, releasedBy],
  );
  return (rowCount ?? 0) > 0;
}

/** Marks the environment's other pending releases superseded by `commit`; returns their commits. */
export async function supersedePendingReleases(
  db: Queryable,
  repository: string,
  environment: string,
  commit: string,
): Promise<string[]> {
  const { rows } = await db.query<{ commit: string }>(
    `UPDATE releases SET superseded_by = $3
      WHERE repository = $1 AND environment = $2 AND commit <> $3 AND released_at IS NULL AND superseded_by IS NULL
      RETURNING commit`,
    [repository, environment, commit],
  );
  return rows.map((r) => r.commit);
}

/** Releases of a repository (every environment, or one), newest first. */
export async function listReleases(
  db: Queryable,
  repository: string,
  environment?: string,
  limit = 50,
): Promise<ReleaseRow[]> {
  const { rows } = await db.query<Row>(
    `SELECT * FROM releases WHERE repository = $1 AND ($2::text IS NULL OR environment = $2)
      ORDER BY created_at DESC LIMIT $3`,
    [repository, environment ?? null, limit],
  );
  return rows.map(toRelease);
}
