/**
 * Sends a check write: with an App, a check run created once (its id remembered in github_checks) and then updated,
 * annotations paged 50 per request; with a token, a commit status.
 */
import { createHash } from 'node:crypto';
import type { Octokit } from 'octokit';
import { type CheckAnnotation, type CheckConclusion, type CheckUpdate } from '../ports.js';
import { ANNOTATIONS_PER_REQUEST, STATUS_DESCRIPTION_LIMIT } from './markdown.js';
import type { GitHubRepository } from '../../kernel/repository.js';
import type { Queryable } from '../../store/in-transaction.js';
import { addAnnotationHashes, readCheckRun, saveCheckRunId, type CheckKey } from '../store/github-checks.js';

export interface CheckPayload {
  repo: Pick<GitHubRepository, 'owner' | 'name' | 'installationId'>;
  sha: string;
  name: string;
  update: CheckUpdate;
  [key: string]: unknown;
}

function apiAnnotation(a: CheckAnnotation) {
  const sameLine = a.startLine === a.endLine && a.startColumn !== undefined;
  return {
    path: a.path,
    start_line: a.startLine,
    end_line: a.endLine,
    ...(sameLine ? { start_column: a.startColumn, end_column: a.startColumn } : {}),
    annotation_level: a.level,
    message: a.message,
    ...(a.title ? { title: a.title } : {}),
  };
}

type ApiAnnotation = ReturnType<typeof apiAnnotation>;

const annotationHash = (a: ApiAnnotation) =>
  createHash('sha1').update(JSON.stringify(a)).digest('base64url').slice(0, 16);

/** The annotations the check run does not have yet, each once, in pages of 50. */
function newAnnotationPages(
  annotations: CheckAnnotation[],
  sent: Set<string>,
): { page: ApiAnnotation[]; hashes: string[] }[] {
  const fresh = new Map<string, ApiAnnotation>();
  for (const a of annotations.map(apiAnnotation)) {
    const h = annotationHash(a);
    if (!sent.has(h) && !fresh.has(h)) fresh.set(h, a);
  }
  const entries = [...fresh];
  const pages: { page: ApiAnnotation[]; hashes: string[] }[] = [];
  for (let i = 0; i < entries.length; i += ANNOTATIONS_PER_REQUEST) {
    const slice = entries.slice(i, i + ANNOTATIONS_PER_REQUEST);
    pages.push({ page: slice.map(([, a]) => a), hashes: slice.map(([h]) => h) });
  }
  return pages;
}

/** Sends a check run create/update (App); annotations the run already has (a retry, a re-plan) are not sent again. */
export async function sendCheckRun(db: Queryable, octokit: Octokit, p: CheckPayload): Promise<void> {
  const key: CheckKey = { repo: p.repo, sha: p.sha, name: p.name };
  const recorded = await readCheckRun(db, key);
  let id = recorded.checkRunId;
  const u = p.update;
  const pages = newAnnotationPages(u.annotations ?? [], new Set(recorded.annotationHashes));
  const output = (annotations?: ApiAnnotation[]) => ({
    title: u.title,
    summary: u.summary,
    ...(u.text ? { text: u.text } : {}),
    ...(annotations?.length ? { annotations } : {}),
  });
  const fields = {
    status: u.status,
    // GitHub shows how long a check has been running from started_at.
    ...(u.status === 'in_progress' ? { started_at: new Date().toISOString() } : {}),
    ...(u.status === 'completed'
      ? { conclusion: u.conclusion ?? 'neutral', completed_at: new Date().toISOString() }
      : {}),
    ...(u.detailsUrl ? { details_url: u.detailsUrl } : {}),
    output: output(pages[0]?.page),
  };
  const base = { owner: p.repo.owner, repo: p.repo.name };
  if (id === null) {
    const { data } = await octokit.rest.checks.create({ ...base, name: p.name, head_sha: p.sha, ...fields });
    id = data.id;
    await saveCheckRunId(db, key, id);
  } else {
    await octokit.rest.checks.update({ ...base, check_run_id: id, ...fields });
  }
  await addAnnotationHashes(db, key, pages[0]?.hashes ?? []);
  for (const { page, hashes } of pages.slice(1)) {
    // Each update appends its annotations to the check run: that is how GitHub takes more than 50.
    await octokit.rest.checks.update({ ...base, check_run_id: id, output: output(page) });
    await addAnnotationHashes(db, key, hashes);
  }
}

/** Commit status state for a check update (token mode has no check runs). */
function statusState(u: CheckUpdate): 'pending' | 'success' | 'failure' | 'error' {
  if (u.status !== 'completed') return 'pending';
  const c: CheckConclusion = u.conclusion ?? 'neutral';
  if (c === 'success' || c === 'neutral') return 'success';
  if (c === 'failure' || c === 'action_required') return 'failure';
  return 'error';
}

/** Sends a commit status `context = check name` (token mode). */
export async function sendCommitStatus(octokit: Octokit, p: CheckPayload): Promise<void> {
  const description =
    p.update.title.length > STATUS_DESCRIPTION_LIMIT
      ? `${p.update.title.slice(0, STATUS_DESCRIPTION_LIMIT - 1)}…`
      : p.update.title;
  await octokit.rest.repos.createCommitStatus({
    owner: p.repo.owner,
    repo: p.repo.name,
    sha: p.sha,
    state: statusState(p.update),
    context: p.name,
    description,
    ...(p.update.detailsUrl ? { target_url: p.update.detailsUrl } : {}),
  });
}
