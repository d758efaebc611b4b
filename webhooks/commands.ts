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
 * GitHub's merge queue asks for the checks of a merge group (`merge_group` `checks_requested`): plan its head like a
 * pull request's, checks only (a merge group has no pull request number and no comment). docs/controller.md
 * "Merge queues".
 */
export interface PlanMergeGroup {
  kind: 'plan-merge-group';
  repo: GitHubRepository;
  /** The merge group's commit (what the queue would merge), and its temporary ref (`refs/heads/gh-readonly-queue/…`). */
  headSha: string;
  headRef: string;
  /** The base branch's head the group was built on, and the branch (without `refs/heads/`). */
  baseSha: string;
  baseBranch: string;
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

/** Where a comment command was written: a pull request's conversation, or a commit. */
export type CommentThread = { kind: 'pull-request'; pullNumber: number } | { kind: 'commit'; sha: string };

/**
 * `/politburo apply ENV` on a merged pull request (its merge commit) or on a commit: release a manual environment at
 * that commit (docs/controller.md, "Apply policies and releases"); on an open pull request: apply its head before merge
 * when the environment allows it (docs/controller.md, "Applying a pull request before merge"). Whether the pull
 * request is merged is not in the comment's payload: the handler asks GitHub, and checks the commenter's permission.
 */
export interface ReleaseComment {
  kind: 'release-comment';
  repo: GitHubRepository;
  thread: CommentThread;
  commentId: number;
  commenter?: string;
  environment: string;
}

/** `/politburo help`, or a `/politburo` line that is no command: answer with the list of commands. */
export interface HelpComment {
  kind: 'help-comment';
  repo: GitHubRepository;
  thread: CommentThread;
  commentId: number;
  /** The line that was not understood (absent for `/politburo help`). */
  unknown?: string;
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
  | PlanMergeGroup
  | PlanComment
  | ReleaseComment
  | HelpComment
  | RerunPlanCheck
  | RerunApplyCheck
  | RegisterRepositories
  | UnregisterRepositories
  | Ignore;

export const ignore = (reason: string): Ignore => ({ kind: 'ignore', reason });
