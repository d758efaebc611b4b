/** Sends the sticky PR comment: edits the remembered comment, else the one carrying the marker, else creates it. */
import { createHash } from 'node:crypto';
import type { Db } from './write-queue.js';
import type { Octokit } from 'octokit';
import { PLAN_COMMENT_MARKER } from './render-plan-comment.js';
import { repositoryKey, type GitHubRepository } from '../../kernel/repository.js';

export interface CommentPayload {
  repo: Pick<GitHubRepository, 'owner' | 'name' | 'installationId'>;
  pullNumber: number;
  body: string;
  [key: string]: unknown;
}

/** The body with the marker first, so the comment can always be found again. */
export function withMarker(body: string): string {
  return body.includes(PLAN_COMMENT_MARKER) ? body : `${PLAN_COMMENT_MARKER}\n${body}`;
}

/** Creates or edits the one Politburo comment of a pull request. */
export async function sendStickyComment(pool: Db, octokit: Octokit, p: CommentPayload): Promise<void> {
  const repository = repositoryKey(p.repo);
  const base = { owner: p.repo.owner, repo: p.repo.name };
  const body = withMarker(p.body);
  const hash = createHash('sha256').update(body).digest('hex');
  const { rows } = await pool.query<{ comment_id: string; body_sha256: string | null }>(
    'SELECT comment_id::text, body_sha256 FROM pr_comments WHERE repository = $1 AND pull_number = $2',
    [repository, p.pullNumber],
  );
  if (rows[0]) {
    // The comment already says exactly this: no write.
    if (rows[0].body_sha256 === hash) return;
    try {
      await octokit.rest.issues.updateComment({ ...base, comment_id: Number(rows[0].comment_id), body });
      await pool.query(
        'UPDATE pr_comments SET body_sha256 = $3, updated_at = now() WHERE repository = $1 AND pull_number = $2',
        [repository, p.pullNumber, hash],
      );
      return;
    } catch (err) {
      // Someone deleted the comment: forget it and post a new one.
      if ((err as { status?: number }).status !== 404) throw err;
      await pool.query('DELETE FROM pr_comments WHERE repository = $1 AND pull_number = $2', [
        repository,
        p.pullNumber,
      ]);
    }
  }
  // The row may be lost (restored database, another replica's crash): look for the marker before creating.
  const existing = await octokit.paginate(octokit.rest.issues.listComments, {
    ...base,
    issue_number: p.pullNumber,
    per_page: 100,
  });
  const found = existing.find((c) => c.body?.includes(PLAN_COMMENT_MARKER));
  let id: number;
  if (found) {
    if (found.body !== body) await octokit.rest.issues.updateComment({ ...base, comment_id: found.id, body });
    id = found.id;
  } else {
    id = (await octokit.rest.issues.createComment({ ...base, issue_number: p.pullNumber, body })).data.id;
  }
  await pool.query(
    `INSERT INTO pr_comments (repository, pull_number, comment_id, body_sha256) VALUES ($1, $2, $3, $4)
     ON CONFLICT (repository, pull_number) DO UPDATE SET comment_id = EXCLUDED.comment_id, body_sha256 = EXCLUDED.body_sha256, updated_at = now()`,
    [repository, p.pullNumber, id, hash],
  );
}
