/** Sends the drift issue of an environment: opened (labelled), updated in place while drift lasts, closed when gone. */
import type { Octokit } from 'octokit';
import { DRIFT_LABEL, driftIssueMarker, driftIssueTitle } from './render-drift-issue.js';
import { repositoryKey, type GitHubRepository } from '../../kernel/repository.js';
import type { Queryable } from '../../store/in-transaction.js';
import { readDriftIssue, saveDriftIssue, type EnvironmentKey } from '../store/drift-issues.js';

export interface DriftIssuePayload {
  repo: Pick<GitHubRepository, 'owner' | 'name' | 'installationId'>;
  environment: string;
  /** The rendered issue while drift lasts; null closes it. */
  open: { title: string; body: string } | null;
  closeComment?: string;
  /** Update the issue only if one is open (a check that found no drift but could not look at every node). */
  updateOnly?: boolean;
  [key: string]: unknown;
}

type Base = { owner: string; repo: string };

/** Creates the `politburo:drift` label unless the repository has it. */
async function sendDriftLabel(octokit: Octokit, base: Base): Promise<void> {
  try {
    await octokit.rest.issues.getLabel({ ...base, name: DRIFT_LABEL });
  } catch (err) {
    if ((err as { status?: number }).status !== 404) throw err;
    try {
      await octokit.rest.issues.createLabel({
        ...base,
        name: DRIFT_LABEL,
        color: 'd93f0b',
        description: 'Politburo found hosts no longer as described',
      });
    } catch (e) {
      // Created meanwhile by someone else: fine.
      if ((e as { status?: number }).status !== 422) throw e;
    }
  }
}

/** An open drift issue of the environment on GitHub, when the database lost track of it. */
async function findOpenIssue(octokit: Octokit, base: Base, environment: string): Promise<number | null> {
  const issues = await octokit.paginate(octokit.rest.issues.listForRepo, {
    ...base,
    labels: DRIFT_LABEL,
    state: 'open',
    per_page: 100,
  });
  const marker = driftIssueMarker(environment);
  const found = issues.find(
    (i) => !i.pull_request && (i.body?.includes(marker) || i.title === driftIssueTitle(environment)),
  );
  return found ? found.number : null;
}

/** Opens, updates or closes the drift issue and remembers it in drift_issues. */
export async function sendDriftIssue(db: Queryable, octokit: Octokit, p: DriftIssuePayload): Promise<void> {
  const env: EnvironmentKey = { repository: repositoryKey(p.repo), environment: p.environment };
  const base = { owner: p.repo.owner, repo: p.repo.name };
  const remembered = await readDriftIssue(db, env);
  let number = remembered?.open ? remembered.issueNumber : null;
  number ??= await findOpenIssue(octokit, base, p.environment);
  if (p.open) {
    if (number !== null) {
      // A read is cheap, a write is not: an unchanged drift costs no write.
      const { data } = await octokit.rest.issues.get({ ...base, issue_number: number });
      if (data.title !== p.open.title || data.body !== p.open.body || data.state !== 'open') {
        await octokit.rest.issues.update({
          ...base,
          issue_number: number,
          title: p.open.title,
          body: p.open.body,
          state: 'open',
        });
      }
    } else if (p.updateOnly) {
      return;
    } else {
      await sendDriftLabel(octokit, base);
      number = (
        await octokit.rest.issues.create({ ...base, title: p.open.title, body: p.open.body, labels: [DRIFT_LABEL] })
      ).data.number;
    }
  } else {
    if (number === null) return;
    await octokit.rest.issues.createComment({
      ...base,
      issue_number: number,
      body: p.closeComment ?? 'No drift any more: closing.',
    });
    await octokit.rest.issues.update({ ...base, issue_number: number, state: 'closed', state_reason: 'completed' });
  }
  await saveDriftIssue(db, env, { issueNumber: number, open: p.open !== null });
}
