/**
 * What a webhook delivery asks the controller to do (docs/architecture.md). webhooks/route-event.ts turns each parsed
 * delivery into exactly one command, without I/O; the controller runs it with the handler of its kind
 * (controller/jobs/handlers/). A new trigger (apply by comment, merge queues, deployment approvals) is a new member
 * of the union, its route, and its handler: the compiler then points at every place that must know it.
 */
import type { GitHubRepository } from '../kernel/repository.js';

/** A branch's head moved (a push): apply the environments that follow the branch (docs/language.md `branch`). */
export interface ApplyBranchHead {
  kind: 'apply-branch-head';
  repo: GitHubRepository;
  branch: string;
  /** The new head. */
  sha: string;
  /** The previous head, when the branch existed before (environments it removed are terminated). */
  before?: string;
  /** Who pushed, for the trigger shown on checks and runs. */
  pushedBy: string;
}

/** A pull request was opened, or its head moved: remember it and plan it statically. */
export interface PlanPullRequest {
  kind: 'plan-pull-request';
  repo: GitHubRepository;
  /** The pull_request action: opened, synchronize or reopened. */
  action: string;
  pullNumber: number;
  headSha: string;
  baseSha: string;
  /** `owner/name` of the repository the head is in; another one than `repo` is a fork. Null when GitHub lost it. */
  headRepository: string | null;
}

/**
 * A `/politburo plan [ENV] [--live]` comment on a pull request (docs/configuration.md). The comment carries neither
 * the pull request's commits nor its head repository: the handler takes them from the pull request last seen.
 */
export interface PlanComment {
  kind: 'plan-comment';
  repo: GitHubRepository;
  pullNumber: number;
  commentId: number;
  /** The commenter's login (absent when GitHub sends no user): whose permission a live plan needs. */
  commenter?: string;
  environment?: string;
  live: boolean;
}

/** "Re-run" on a `politburo plan ENV` check: plan the pull request's environment again. */
export interface RerunPlanCheck {
  kind: 'rerun-plan-check';
  repo: GitHubRepository;
  pullNumber: number;
  environment: string;
}

/** "Re-run" on a `politburo/ENV` check: apply the environment at the check's commit again. */
export interface RerunApplyCheck {
  kind: 'rerun-apply-check';
  repo: GitHubRepository;
  environment: string;
  sha: string;
}

/** The GitHub App was installed on repositories (`owner/name`). */
export interface RegisterRepositories {
  kind: 'register-repositories';
  installationId?: number;
  repositories: string[];
}

/** The GitHub App was removed from repositories (`owner/name`). */
export interface UnregisterRepositories {
  kind: 'unregister-repositories';
  installationId?: number;
  repositories: string[];
}

/** Nothing to do; the reason is the delivery's recorded outcome (`ignored: <reason>`). */
export interface Ignore {
  kind: 'ignore';
  reason: string;
}

export type Command =
  | ApplyBranchHead
  | PlanPullRequest
  | PlanComment
  | RerunPlanCheck
  | RerunApplyCheck
  | RegisterRepositories
  | UnregisterRepositories
  | Ignore;

export const ignore = (reason: string): Ignore => ({ kind: 'ignore', reason });
