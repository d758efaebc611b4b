/**
 * Reads of an open pull request for `/politburo apply ENV` before merge (docs/controller.md, "Applying a pull request
 * before merge"): the pull request (head, base, fork, `mergeable_state`) and its reviews. Straight to GitHub, like the
 * permission read; a failure answers null (the apply is then refused: an unanswered question never grants it).
 */
import type { Octokit } from 'octokit';
import { repositoryKey, type GitHubRepository, type Repository } from '../../kernel/repository.js';
import type { PullRequestReads } from '../pull-request-state.js';
import type { MinimalLogger } from './write-queue.js';

/** The reads, through the reporter's clients (`forRepo`: an installation's or the token's octokit). */
export function pullRequestReads(
  forRepo: (repo: GitHubRepository) => Promise<Octokit>,
  logger: MinimalLogger,
): PullRequestReads {
  const failed = (repo: Repository, pullNumber: number, what: string, err: unknown) =>
    logger.warn(
      { repo: repositoryKey(repo), pull: pullNumber, err: (err as Error).message },
      `could not read the pull request's ${what}`,
    );
  return {
    async pullRequest(repo, pullNumber) {
      if (repo.kind !== 'github') return null;
      try {
        const octokit = await forRepo(repo);
        const { data } = await octokit.rest.pulls.get({ owner: repo.owner, repo: repo.name, pull_number: pullNumber });
        return {
          number: data.number,
          state: data.state,
          merged: data.merged,
          mergeCommitSha: data.merge_commit_sha ?? null,
          headSha: data.head.sha,
          headRepository: data.head.repo?.full_name ?? null,
          baseSha: data.base.sha,
          baseRef: data.base.ref,
          mergeableState: data.mergeable_state ?? null,
          draft: data.draft ?? false,
        };
      } catch (err) {
        failed(repo, pullNumber, 'state', err);
        return null;
      }
    },
    async reviews(repo, pullNumber) {
      if (repo.kind !== 'github') return null;
      try {
        const octokit = await forRepo(repo);
        const reviews = await octokit.paginate(octokit.rest.pulls.listReviews, {
          owner: repo.owner,
          repo: repo.name,
          pull_number: pullNumber,
          per_page: 100,
        });
        return reviews.map((r) => ({ reviewer: r.user?.login ?? '', state: r.state, commitId: r.commit_id ?? null }));
      } catch (err) {
        failed(repo, pullNumber, 'reviews', err);
        return null;
      }
    },
  };
}
