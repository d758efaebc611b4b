/**
 * Contracts between the controller's parts: webhook ingestion (webhooks/ + controller/server), the queue and its
 * jobs (controller/jobs), git access (controller/git), and reporting to GitHub (controller/github).
 */
import type { Repository } from '../kernel/repository.js';
import type { Plan, RunResult, ValidationError } from '../kernel/types.js';

// ---------------------------------------------------------------------------------------------------------------
// Jobs (graphile-worker task identifiers and payloads)

export const JOB_DELIVERY = 'github-delivery';
export const JOB_APPLY = 'apply-environment';
export const JOB_PLAN_PR = 'plan-pull-request';
export const JOB_DRIFT = 'drift-environment';
export const JOB_POLL = 'poll-repositories';

/** A stored webhook delivery to process. */
export interface GitHubDeliveryJob {
  deliveryId: string;
}

/**
 * Apply one environment at one commit. Queue `env:<repo>:<env>` serialises; job key `apply:<repo>:<env>` (replace)
 * supersedes.
 */
export interface ApplyEnvironmentJob {
  repo: Repository;
  environment: string;
  sha: string;
  /** Commits whose queued apply this one replaced: their checks are finished as superseded. */
  supersedes?: string[];
  trigger: string;
  /**
   * Set when the commit removed the environment from the description: a commit where it was still described (its
   * provider settings, for the `destroy` of on-demand hosts). The apply terminates every recorded node.
   */
  describedAt?: string;
  /** Set by `/politburo apply ENV` on an open pull request: `sha` is its head, applied as is (not a branch head). */
  pullRequest?: { number: number };
}

export interface PlanPullRequestJob {
  repo: Repository;
  /** The pull request planned; absent for a merge group (`mergeGroup`): exactly one of the two is set. */
  pullNumber?: number;
  /**
   * A merge group of GitHub's merge queue (docs/controller.md "Merge queues"): checks only, no comment, no
   * superseding; every environment that follows `baseBranch` gets its check, so a required check never waits.
   */
  mergeGroup?: { headRef: string; baseBranch: string };
  headSha: string;
  baseSha: string;
  /** Only the named environment (from `/politburo plan ENV`). */
  environment?: string;
  /** Dry-run on hosts; only ever set after the trust checks of docs/configuration.md passed. */
  live: boolean;
  /** The comment that asked, to react to. */
  commentId?: number;
  /** A line shown at the top of the sticky comment (e.g. why a `--live` request was refused). */
  notice?: string;
  trigger: string;
}

export interface DriftEnvironmentJob {
  repo: Repository;
  environment: string;
  heal: boolean;
  trigger: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Reporting

export type CheckStatus = 'queued' | 'in_progress' | 'completed';
export type CheckConclusion = 'success' | 'failure' | 'cancelled' | 'skipped' | 'neutral' | 'action_required';

/** One check on one commit, e.g. `politburo/production` (apply) or `politburo plan production` (PR plan). */
export interface CheckRef {
  repo: Repository;
  sha: string;
  name: string;
}

export interface CheckAnnotation {
  path: string;
  startLine: number;
  endLine: number;
  startColumn?: number;
  level: 'notice' | 'warning' | 'failure';
  message: string;
  title?: string;
}

export interface CheckUpdate {
  status: CheckStatus;
  conclusion?: CheckConclusion;
  title: string;
  summary: string;
  text?: string;
  detailsUrl?: string;
  annotations?: CheckAnnotation[];
}

/** A drifted environment, for the drift issue. `null` drift means no drift: the issue is closed. */
export interface DriftReport {
  environment: string;
  sha: string | null;
  result: RunResult;
  healed: boolean;
  runUrl?: string;
}

/**
 * The GitHub Deployment of an environment's apply at a commit (docs/controller.md, "Deployments on GitHub"): created
 * by its first report, then given statuses; one per (repository, environment, commit).
 */
export interface DeploymentRef {
  repo: Repository;
  environment: string;
  sha: string;
}

/** A state of GitHub's deployment statuses; `queued` on a deployment not created yet creates it without a status. */
export type DeploymentState = 'queued' | 'pending' | 'in_progress' | 'success' | 'failure' | 'error' | 'inactive';

export interface DeploymentUpdate {
  state: DeploymentState;
  /** At most 140 characters on GitHub (longer is cut). */
  description: string;
  /** The run on the dashboard (or the environment's page while no run is known). */
  logUrl?: string;
  /** The environment's page on the dashboard. */
  environmentUrl?: string;
  /** What started the apply, and its run once known: the deployment's `payload`. */
  trigger?: string;
  runId?: string;
}

/**
 * Everything the controller says on GitHub. Writes are durable and coalesced: a check is created once and then
 * updated; the PR comment is found by its hidden marker and edited in place; a failure to report is logged and
 * retried, never thrown into the reconcile.
 */
export interface Reporter {
  check(ref: CheckRef, update: CheckUpdate): Promise<void>;
  /** Whether the check is already final (completed), as last reported. */
  checkCompleted(ref: CheckRef): Promise<boolean>;
  /** Creates or edits the one Politburo comment of a pull request. */
  stickyComment(repo: Repository, pullNumber: number, body: string): Promise<void>;
  reaction(repo: Repository, commentId: number, content: '+1' | 'eyes' | 'confused' | 'rocket' | '-1'): Promise<void>;
  /** Opens, updates (drift) or closes (null) the `politburo:drift` issue of an environment. */
  driftIssue(repo: Repository, environment: string, drift: DriftReport | null): Promise<void>;
  /** The commenter's permission on the repository, for `/politburo plan --live`. */
  permission(repo: Repository, username: string): Promise<'admin' | 'maintain' | 'write' | 'triage' | 'read' | 'none'>;
  /**
   * Answers a comment command in its thread (a pull request's conversation, or a commit's comments): a refusal with
   * its reason, a release, the help. One answer per command comment (`inReplyTo`).
   */
  reply(
    repo: Repository,
    thread: { pullNumber: number } | { sha: string },
    inReplyTo: number,
    body: string,
  ): Promise<void>;
  /** A pull request's merge commit: null while it is not merged (or when GitHub cannot say). */
  mergeCommit(repo: Repository, pullNumber: number): Promise<string | null>;
  /**
   * Creates or moves on the GitHub Deployment of an apply (durable and coalesced like checks). Optional: reporters
   * without GitHub (the log) have no deployments.
   */
  deployment?(ref: DeploymentRef, update: DeploymentUpdate): Promise<void>;
}

/** Inputs of the pure renderers (controller/github/render-*.ts). */
export interface PlanForRender {
  environment: string;
  plan: Plan | null;
  errors: ValidationError[];
  /** Live plans carry the dry-run result. */
  live?: RunResult;
}

// ---------------------------------------------------------------------------------------------------------------
// Git

/** Read access to a repository's commits through a cached mirror. */
export interface GitReader {
  /** Fetches when `sha` is not known locally. */
  ensureCommit(repo: Repository, sha: string): Promise<void>;
  /**
   * Checks the commit out into a fresh directory (files as they are at sha) and returns its path; `cleanup` removes it.
   */
  checkout(repo: Repository, sha: string): Promise<{ dir: string; cleanup: () => Promise<void> }>;
  /** The head commit of a branch (after fetching). */
  branchHead(repo: Repository, branch: string): Promise<string | null>;
  /** Paths changed between two commits. */
  changedFiles(repo: Repository, base: string, head: string): Promise<string[]>;
}
