/**
 * Which command a GitHub event is (webhooks/commands.ts), decided from the event alone: no database, no GitHub, no
 * clock. The controller runs the command (controller/jobs/handlers/); what needs the database (the pull request a
 * comment is on, the commenter's permission) is looked up there.
 *
 * push to a branch → apply its head; pull_request opened/synchronize/reopened → plan it; `/politburo plan` comment on
 * a pull request → plan as asked; `/politburo apply ENV` on a pull request or a commit (commit_comment) → release ENV
 * there (an open pull request's head is applied before merge, when allowed: decided by the handler); `/politburo help` (or a `/politburo` line that is no command) → the list of commands; merge_group
 * checks_requested → plan the group's head (checks only, docs/controller.md "Merge queues"); check_run rerequested
 * on a Politburo check → that check again; installation and installation_repositories → repositories registered or
 * unregistered. Everything else is ignored, with the reason.
 */
import { isCommitSha } from '../kernel/commit.js';
import type { GitHubRepository } from '../kernel/repository.js';
import {
  ignore,
  type ApplyBranchHead,
  type Command,
  type CommentThread,
  type PlanComment,
  type ReleaseComment,
} from './commands.js';
import { parseComment, type CommentCommand } from './comment-command.js';
import type { GitHubEvent, PayloadOf } from './parse-event.js';

/** The command of an event (see module comment). */
export function routeEvent(event: GitHubEvent): Command {
  switch (event.name) {
    case 'push':
      return routePush(event.payload);
    case 'pull_request':
      return routePullRequest(event.payload);
    case 'merge_group':
      return routeMergeGroup(event.payload);
    case 'issue_comment':
      return routeComment(event.payload);
    case 'commit_comment':
      return routeCommitComment(event.payload);
    case 'check_run':
      return routeCheckRun(event.payload);
    case 'installation':
      return routeInstallation(event.payload);
    case 'installation_repositories':
      return routeInstallationRepositories(event.payload);
    default:
      return ignore(`event ${event.name}`);
  }
}

const MERGE_QUEUE_BRANCHES = 'gh-readonly-queue/';

/** Environments follow a branch, the default one unless they name another (docs/language.md `branch`). */
function routePush(p: PayloadOf<'push'>): Command {
  if (!p.ref.startsWith('refs/heads/')) return ignore('not a branch push');
  if (p.deleted || !isCommitSha(p.after)) return ignore('branch deleted');
  const branch = p.ref.slice('refs/heads/'.length);
  // The merge queue's temporary branches: their merge_group delivery is what plans them (docs/controller.md).
  if (branch.startsWith(MERGE_QUEUE_BRANCHES)) return ignore('push to a merge queue branch');
  const command: ApplyBranchHead = {
    kind: 'apply-branch-head',
    repo: repositoryOf(p),
    branch,
    sha: p.after,
    pushedBy: p.pusher?.name ?? p.sender?.login ?? 'someone',
  };
  if (isCommitSha(p.before)) command.before = p.before;
  return command;
}

const PLANNED_ACTIONS: ReadonlySet<string> = new Set(['opened', 'synchronize', 'reopened']);

function routePullRequest(p: PayloadOf<'pull_request'>): Command {
  if (!PLANNED_ACTIONS.has(p.action)) return ignore(`pull_request ${p.action}`);
  const pr = p.pull_request;
  return {
    kind: 'plan-pull-request',
    repo: repositoryOf(p),
    action: p.action,
    pullNumber: pr.number,
    headSha: pr.head.sha,
    baseSha: pr.base.sha,
    headRepository: pr.head.repo?.full_name ?? null,
  };
}

/** The merge queue asks for checks of a group's head; a destroyed group (merged, or dequeued) needs nothing. */
function routeMergeGroup(p: PayloadOf<'merge_group'>): Command {
  const action: string = p.action;
  if (action === 'destroyed') return ignore('merge_group destroyed: the group left the queue, nothing to check');
  if (action !== 'checks_requested') return ignore(`merge_group ${action}`);
  const g = p.merge_group;
  if (!g.base_ref.startsWith('refs/heads/')) return ignore('merge_group on a base that is not a branch');
  return {
    kind: 'plan-merge-group',
    repo: repositoryOf(p),
    headSha: g.head_sha,
    headRef: g.head_ref,
    baseSha: g.base_sha,
    baseBranch: g.base_ref.slice('refs/heads/'.length),
  };
}

function routeComment(p: PayloadOf<'issue_comment'>): Command {
  if (p.action !== 'created') return ignore(`issue_comment ${p.action}`);
  if (!p.issue.pull_request) return ignore('comment on an issue, not a pull request');
  const args = parseComment(p.comment.body);
  if (!args) return ignore('not a politburo command');
  const thread: CommentThread = { kind: 'pull-request', pullNumber: p.issue.number };
  if (args.command !== 'plan') return routeOtherCommand(p, thread, args);
  const command: PlanComment = {
    kind: 'plan-comment',
    repo: repositoryOf(p),
    pullNumber: p.issue.number,
    commentId: p.comment.id,
    live: args.live,
  };
  if (p.comment.user?.login) command.commenter = p.comment.user.login;
  if (args.environment !== undefined) command.environment = args.environment;
  return command;
}

/** `/politburo apply ENV` and `/politburo help` on a commit (a plan needs a pull request). */
function routeCommitComment(p: PayloadOf<'commit_comment'>): Command {
  if (p.action !== 'created') return ignore(`commit_comment ${p.action}`);
  const args = parseComment(p.comment.body);
  if (!args) return ignore('not a politburo command');
  if (!isCommitSha(p.comment.commit_id)) return ignore('commit comment without a commit');
  const thread: CommentThread = { kind: 'commit', sha: p.comment.commit_id };
  if (args.command === 'plan')
    return {
      kind: 'help-comment',
      repo: repositoryOf(p),
      thread,
      commentId: p.comment.id,
      unknown: '/politburo plan (on a commit: plans are of pull requests)',
    };
  return routeOtherCommand(p, thread, args);
}

function routeOtherCommand(
  p: Parameters<typeof repositoryOf>[0] & { comment: { id: number; user?: { login: string } | null } },
  thread: CommentThread,
  args: Exclude<CommentCommand, { command: 'plan' }>,
): Command {
  const repo = repositoryOf(p);
  if (args.command === 'help') return { kind: 'help-comment', repo, thread, commentId: p.comment.id };
  if (args.command === 'unknown')
    return { kind: 'help-comment', repo, thread, commentId: p.comment.id, unknown: args.line };
  const command: ReleaseComment = {
    kind: 'release-comment',
    repo,
    thread,
    commentId: p.comment.id,
    environment: args.environment,
  };
  if (p.comment.user?.login) command.commenter = p.comment.user.login;
  return command;
}

// The check names of controller/github/render-plan-check.ts and render-apply-check.ts.
const PLAN_CHECK = 'politburo plan ';
const APPLY_CHECK = 'politburo/';

function routeCheckRun(p: PayloadOf<'check_run'>): Command {
  if (p.action !== 'rerequested') return ignore(`check_run ${p.action}`);
  const { name, head_sha: sha } = p.check_run;
  if (!isCommitSha(sha)) return ignore('check_run without a commit');
  if (name.startsWith(PLAN_CHECK) && name.length > PLAN_CHECK.length) {
    const pr = p.check_run.pull_requests?.[0];
    if (!pr) return ignore('plan check of no pull request');
    return {
      kind: 'rerun-plan-check',
      repo: repositoryOf(p),
      pullNumber: pr.number,
      environment: name.slice(PLAN_CHECK.length),
    };
  }
  if (name.startsWith(APPLY_CHECK) && name.length > APPLY_CHECK.length)
    return { kind: 'rerun-apply-check', repo: repositoryOf(p), environment: name.slice(APPLY_CHECK.length), sha };
  return ignore('not a politburo check');
}

function routeInstallation(p: PayloadOf<'installation'>): Command {
  const names = (p.repositories ?? []).map((r) => r.full_name);
  if (p.action === 'created') return withInstallation('register-repositories', p, names);
  if (p.action === 'deleted') return withInstallation('unregister-repositories', p, names);
  return ignore(`installation ${p.action}`);
}

function routeInstallationRepositories(p: PayloadOf<'installation_repositories'>): Command {
  const action: string = p.action;
  if (action === 'added')
    return withInstallation(
      'register-repositories',
      p,
      (p.repositories_added ?? []).map((r) => r.full_name),
    );
  if (action === 'removed')
    return withInstallation(
      'unregister-repositories',
      p,
      (p.repositories_removed ?? []).map((r) => r.full_name),
    );
  return ignore(`installation_repositories ${action}`);
}

function withInstallation(
  kind: 'register-repositories' | 'unregister-repositories',
  p: { installation?: { id: number } },
  repositories: string[],
): Command {
  return p.installation ? { kind, installationId: p.installation.id, repositories } : { kind, repositories };
}

/** The repository an event is about, as the controller names it (kernel/repository.ts). */
function repositoryOf(p: {
  repository: { name: string; owner: { login: string }; clone_url?: string; default_branch?: string };
  installation?: { id: number };
}): GitHubRepository {
  const r = p.repository;
  const repo: GitHubRepository = {
    kind: 'github',
    owner: r.owner.login,
    name: r.name,
    cloneUrl: r.clone_url ?? `https://github.com/${r.owner.login}/${r.name}.git`,
    defaultBranch: r.default_branch ?? 'main',
  };
  if (p.installation) repo.installationId = p.installation.id;
  return repo;
}
