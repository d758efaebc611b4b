/**
 * What the controller asks GitHub about an open pull request before applying its head (docs/controller.md, "Applying a
 * pull request before merge"). Read fresh from GitHub each time, never from a webhook payload.
 */
import type { Repository } from '../kernel/repository.js';

/** `GET /repos/{owner}/{repo}/pulls/{pull_number}`, the fields an apply from a pull request depends on. */
export interface PullRequestState {
  number: number;
  /** `open` or `closed`. */
  state: string;
  merged: boolean;
  mergeCommitSha: string | null;
  headSha: string;
  /** `owner/name` of the head's repository; another one than the base's is a fork. Null: GitHub lost it. */
  headRepository: string | null;
  baseSha: string;
  /** The base branch (without `refs/heads/`). */
  baseRef: string;
  /**
   * GitHub's `mergeable_state`: `clean`, `unstable` (non-required checks failing), `has_hooks`, `blocked` (branch
   * protection: required reviews or checks missing), `behind`, `dirty` (conflicts), `draft`, or `unknown`; null while
   * GitHub is still computing it.
   */
  mergeableState: string | null;
  draft: boolean;
}

/** One review of a pull request (`GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews`). */
export interface PullRequestReview {
  reviewer: string;
  /** `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED` or `PENDING`. */
  state: string;
  /** The head the review was given at. */
  commitId: string | null;
}

/**
 * The reads a reporter that talks to GitHub offers besides the Reporter port (controller/github/read-pull-request.ts):
 * the log reporter has none, and an apply from a pull request is then refused.
 */
export interface PullRequestReads {
  pullRequest(repo: Repository, pullNumber: number): Promise<PullRequestState | null>;
  reviews(repo: Repository, pullNumber: number): Promise<PullRequestReview[] | null>;
}

/** A reporter's pull request reads, when it has them. */
export function pullRequestReadsOf(reporter: object): Partial<PullRequestReads> {
  const r = reporter as Partial<PullRequestReads>;
  return {
    ...(typeof r.pullRequest === 'function' ? { pullRequest: r.pullRequest.bind(reporter) } : {}),
    ...(typeof r.reviews === 'function' ? { reviews: r.reviews.bind(reporter) } : {}),
  };
}
