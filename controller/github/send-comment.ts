/** Sends the sticky PR comment: edits the remembered comment, else the one carrying the marker, else creates it. */
import { createHash } from 'node:crypto';
import type { Octokit } from 'octokit';
import { PLAN_COMMENT_MARKER } from './render-plan-comment.js';
import { repositoryKey, type GitHubRepository } from '../../kernel/repository.js';
import type { Queryable } from '../../store/in-transaction.js';
import {
  forgetStickyComment,
  readStickyComment,
  saveStickyComment,
  type PullRequestKey,
} from '../store/github-comments.js';

export interface CommentPayload {
  repo: Pick<GitHubRepository, 'owner' | 'name' | 'installationId'>;
  pullNumber: number;
  body: string;
  [key: string]: unknown;
}

/** The body with the marker first, so the comment can always be found again. */
function withMarker(body: string): string {
  return body.includes(PLAN_COMMENT_MARKER) ? body : `${PLAN_COMMENT_MARKER}\n${body}`;
}

/** Creates or edits the one Politburo comment of a pull request. */
export async function sendStickyComment(db: Queryable, octokit: Octokit, p: CommentPayload): Promise<void> {
  const pr: PullRequestKey = { repository: repositoryKey(p.repo), pullNumber: p.pullNumber };
  const base = { owner: p.repo.owner, repo: p.repo.name };
  const body = withMarker(p.body);
  const hash = createHash('sha256').update(body).digest('hex');
  const remembered = await readStickyComment(db, pr);
  if (remembered) {
    // The comment already says exactly this: no write.
    if (remembered.bodySha256 === hash) return;
    try {
      await octokit.rest.issues.updateComment({ ...base, comment_id: remembered.commentId, body });
      await saveStickyComment(db, pr, { commentId: remembered.commentId, bodySha256: hash });
      return;
    } catch (err) {
      // Someone deleted the comment: forget it and post a new one.
      if ((err as { status?: number }).status !== 404) throw err;
      await forgetStickyComment(db, pr);
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
  await saveStickyComment(db, pr, { commentId: id, bodySha256: hash });
}
