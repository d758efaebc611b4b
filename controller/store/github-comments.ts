/**
 * `pr_comments` (migrations 008 and 060): the one sticky Politburo comment of each pull request, and the hash of the
 * body last sent to it, so an unchanged plan costs no GitHub write. Written by the GitHub reporter
 * (controller/github/).
 */
import type { Queryable } from '../../store/in-transaction.js';

/** Which pull request: its repository (`repositoryKey`) and number. */
export interface PullRequestKey {
  repository: string;
  pullNumber: number;
}

interface StickyCommentRecord {
  commentId: number;
  /** sha256 (hex) of the body last sent; null for comments remembered before it was kept. */
  bodySha256: string | null;
}

/** The remembered comment of the pull request, if any. */
export async function readStickyComment(db: Queryable, pr: PullRequestKey): Promise<StickyCommentRecord | null> {
  const { rows } = await db.query<{ comment_id: string; body_sha256: string | null }>(
    'SELECT comment_id::text, body_sha256 FROM pr_comments WHERE repository = $1 AND pull_number = $2',
    [pr.repository, pr.pullNumber],
  );
  return rows[0] ? { commentId: Number(rows[0].comment_id), bodySha256: rows[0].body_sha256 } : null;
}

/** Remembers the pull request's comment and the hash of its body (replacing what was remembered). */
export async function saveStickyComment(
  db: Queryable,
  pr: PullRequestKey,
  comment: StickyCommentRecord,
): Promise<void> {
  await db.query(
    `INSERT INTO pr_comments (repository, pull_number, comment_id, body_sha256) VALUES ($1, $2, $3, $4)
     ON CONFLICT (repository, pull_number) DO UPDATE SET comment_id = EXCLUDED.comment_id, body_sha256 = EXCLUDED.body_sha256, updated_at = now()`,
    [pr.repository, pr.pullNumber, comment.commentId, comment.bodySha256],
  );
}

/** Forgets the pull request's comment (deleted on GitHub). */
export async function forgetStickyComment(db: Queryable, pr: PullRequestKey): Promise<void> {
  await db.query('DELETE FROM pr_comments WHERE repository = $1 AND pull_number = $2', [pr.repository, pr.pullNumber]);
}
