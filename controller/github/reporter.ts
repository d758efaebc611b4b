/**
 * The GitHub Reporter: every report becomes a durable, coalesced write (write-queue.ts) sent by the write worker;
 * reads (permission) go straight to GitHub. Nothing here throws into the reconcile: failures are logged and retried.
 * What it remembers of GitHub (checks, the sticky comment, drift issues, deployments, unsent writes) is kept in
 * PostgreSQL through controller/store/ (github-checks.ts, github-comments.ts, drift-issues.ts, github-deployments.ts,
 * github-writes.ts).
 */
import type pg from 'pg';
import { type CheckRef, type CheckUpdate, type DriftReport, type Reporter } from '../ports.js';
import { createGitHubClients, type GitHubAuth, type GitHubClients, type GitHubMetrics } from './github-client.js';
import { renderDriftIssue } from './render-drift-issue.js';
import { sendCheckRun, sendCommitStatus, type CheckPayload } from './send-check.js';
import { sendStickyComment, type CommentPayload } from './send-comment.js';
import { sendDeployment, type DeploymentPayload } from './send-deployment.js';
import { pullRequestReads } from './read-pull-request.js';
import { sendDriftIssue, type DriftIssuePayload } from './send-drift-issue.js';
import type { MinimalLogger, NewWrite, QueuedWrite, WriteSender } from './write-queue.js';
import { createWriteWorker, type WriteWorker } from './write-worker.js';
import { describeRepository, repositoryKey, type GitHubRepository, type Repository } from '../../kernel/repository.js';
import { readCheckStatus, recordCheck } from '../store/github-checks.js';

export interface GitHubReporterOptions {
  pool: pg.Pool;
  auth: GitHubAuth;
  /** GitHub Enterprise API root, e.g. `https://github.example.com/api/v3`. */
  baseUrl?: string;
  logger?: MinimalLogger;
  metrics?: GitHubMetrics;
  /** octokit's in-process retry of 5xx responses. */
  retry?: { retries?: number; baseMs?: number };
  /** octokit's per-process write throttling (default on; tests turn it off for speed). */
  throttle?: boolean;
  /** Backoff of the durable queue after a failed write (default 1 s, doubling, at most 10 min). */
  backoffBaseMs?: number;
  maxBackoffMs?: number;
  /** Sweep interval for writes added by other replicas and retries (default 2 s). */
  pollIntervalMs?: number;
  /** Start the periodic sweep (default true). */
  start?: boolean;
}

type Permission = Awaited<ReturnType<Reporter['permission']>>;

/** The Reporter plus the write path's controls, for the composition root and tests. */
export interface GitHubReporter extends Reporter {
  readonly mode: 'app' | 'token';
  /** Sends what is due now and waits until nothing is left (or timeoutMs); returns the writes still unsent. */
  flush(opts?: { timeoutMs?: number }): Promise<number>;
  /** The write worker: its periodic sweep (drainAll) sends writes other replicas left behind. */
  readonly writes: WriteWorker;
  /** Stops the sweep and waits for writes in flight. */
  close(): Promise<void>;
}

const noop = () => {};
const silent: MinimalLogger = { info: noop, warn: noop, error: noop, debug: noop };
/** Pauses between attempts to store a GitHub write while the database is away (about 15 s in all). */
const STORE_RETRY_MS = [200, 800, 2000, 4000, 8000];
const PERMISSIONS = new Set<Permission>(['admin', 'maintain', 'write', 'triage', 'read', 'none']);

type Target = Pick<GitHubRepository, 'kind' | 'owner' | 'name' | 'installationId'>;
/** What a queued write needs of its repository. Only GitHub repositories reach this reporter (docs/architecture.md). */
const target = (repo: Repository): Target => {
  if (repo.kind !== 'github') throw new Error(`${describeRepository(repo)} is not a GitHub repository`);
  return {
    kind: 'github',
    owner: repo.owner,
    name: repo.name,
    ...(repo.installationId ? { installationId: repo.installationId } : {}),
  };
};

/** Creates the reporter (App: check runs; token: commit statuses) and starts its write worker. */
export function createGitHubReporter(opts: GitHubReporterOptions): GitHubReporter {
  const logger = opts.logger ?? silent;
  const clients = createGitHubClients({
    auth: opts.auth,
    baseUrl: opts.baseUrl,
    logger,
    metrics: opts.metrics,
    retry: opts.retry,
    throttle: opts.throttle,
  });
  const sender = createSender(clients, logger);
  const worker = createWriteWorker({
    pool: opts.pool,
    sender,
    logger,
    pollIntervalMs: opts.pollIntervalMs,
    backoffBaseMs: opts.backoffBaseMs,
    maxBackoffMs: opts.maxBackoffMs,
  });
  if (opts.start !== false) worker.start();

  // Reporting never fails the caller: a write that cannot even be stored is logged (the next report carries on).
  // Storing a write is retried over a few seconds: a dropped database connection (failover, pgbouncer restart) is
  // replaced by the pool on the next attempt, and the write is keyed, so storing it twice sends it once.
  const safely = async (what: string, context: object, fn: () => Promise<void>) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await fn();
        return;
      } catch (err) {
        const delay = STORE_RETRY_MS[attempt];
        if (delay === undefined) {
          logger.error(
            { ...context, err: (err as Error).message },
            `could not queue the GitHub ${what}; it will not be sent`,
          );
          return;
        }
        logger.warn(
          { ...context, err: (err as Error).message },
          `could not queue the GitHub ${what} yet; trying again`,
        );
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  };
  const enqueue = (w: NewWrite) => worker.enqueue(w);

  return {
    mode: clients.mode,
    writes: worker,
    async check(ref: CheckRef, update: CheckUpdate) {
      const repository = repositoryKey(ref.repo);
      await safely('check', { repo: repository, sha: ref.sha, check: ref.name }, async () => {
        const github = target(ref.repo);
        await recordCheck(opts.pool, ref, update, github.installationId);
        const payload: CheckPayload = { repo: github, sha: ref.sha, name: ref.name, update };
        await enqueue({
          queue: clients.queueFor(github),
          key: `check:${repository}:${ref.sha}:${ref.name}`,
          kind: 'check',
          payload,
        });
      });
    },
    async checkCompleted(ref: CheckRef) {
      return (await readCheckStatus(opts.pool, ref)) === 'completed';
    },
    async stickyComment(repo, pullNumber, body) {
      await safely('comment', { repo: repositoryKey(repo), pull: pullNumber }, async () => {
        const payload: CommentPayload = { repo: target(repo), pullNumber, body };
        await enqueue({
          queue: clients.queueFor(target(repo)),
          key: `comment:${repositoryKey(repo)}:${pullNumber}`,
          kind: 'comment',
          payload,
        });
      });
    },
    async reaction(repo, commentId, content) {
      await safely('reaction', { repo: repositoryKey(repo), comment: commentId }, async () => {
        const payload = { repo: target(repo), commentId, content };
        await enqueue({
          queue: clients.queueFor(target(repo)),
          key: `reaction:${repositoryKey(repo)}:${commentId}:${content}`,
          kind: 'reaction',
          payload,
        });
      });
    },
    async driftIssue(repo, environment, drift: DriftReport | null) {
      await safely('drift issue', { repo: repositoryKey(repo), env: environment }, async () => {
        const payload: DriftIssuePayload = {
          repo: target(repo),
          environment,
          open: drift ? renderDriftIssue(drift) : null,
          // Nothing drifted but not everything could be checked: an open issue says so and stays open; none is opened.
          ...(drift && !drift.result.nodes.some((n) => n.state === 'drifted') ? { updateOnly: true } : {}),
          closeComment: `No drift in \`${environment}\` any more: the last drift check found every node as described. Closing.`,
        };
        await enqueue({
          queue: clients.queueFor(target(repo)),
          key: `drift:${repositoryKey(repo)}:${environment}`,
          kind: 'drift-issue',
          payload,
        });
      });
    },
    async permission(repo, username) {
      try {
        const github = target(repo);
        const octokit = await clients.forRepo(github);
        const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({
          owner: github.owner,
          repo: github.name,
          username,
        });
        const role = (data as { role_name?: string }).role_name as Permission | undefined;
        return role && PERMISSIONS.has(role)
          ? role
          : PERMISSIONS.has(data.permission as Permission)
            ? (data.permission as Permission)
            : 'none';
      } catch (err) {
        // Unknown means no: `--live` runs code on hosts, so an unanswered question never grants it.
        if ((err as { status?: number }).status !== 404)
          logger.warn(
            { repo: repositoryKey(repo), username, err: (err as Error).message },
            'permission lookup failed; treating as none',
          );
        return 'none';
      }
    },
    async reply(repo, thread, inReplyTo, body) {
      await safely('reply', { repo: repositoryKey(repo), comment: inReplyTo }, async () => {
        const payload = { repo: target(repo), thread, body };
        await enqueue({
          queue: clients.queueFor(target(repo)),
          key: `reply:${repositoryKey(repo)}:${inReplyTo}`,
          kind: 'reply',
          payload,
        });
      });
    },
    async mergeCommit(repo, pullNumber) {
      const github = target(repo);
      try {
        const octokit = await clients.forRepo(github);
        const { data } = await octokit.rest.pulls.get({
          owner: github.owner,
          repo: github.name,
          pull_number: pullNumber,
        });
        return data.merged && data.merge_commit_sha ? data.merge_commit_sha : null;
      } catch (err) {
        logger.warn(
          { repo: repositoryKey(repo), pull: pullNumber, err: (err as Error).message },
          'could not read the pull request; treating it as not merged',
        );
        return null;
      }
    },
    async deployment(ref, update) {
      const repository = repositoryKey(ref.repo);
      await safely('deployment', { repo: repository, sha: ref.sha, env: ref.environment }, async () => {
        const github = target(ref.repo);
        const payload: DeploymentPayload = {
          repo: github,
          repository,
          environment: ref.environment,
          sha: ref.sha,
          update,
        };
        await enqueue({
          queue: clients.queueFor(github),
          key: `deployment:${repository}:${ref.environment}:${ref.sha}`,
          kind: 'deployment',
          payload,
        });
      });
    },
    // Reads of an open pull request for `/politburo apply ENV` before merge (read-pull-request.ts).
    ...pullRequestReads((r) => clients.forRepo(r), logger),
    flush: (o) => worker.flush(o),
    close: () => worker.stop(),
  };
}

/** Turns a queued write into GitHub calls. */
function createSender(clients: GitHubClients, logger: MinimalLogger): WriteSender {
  return {
    async send(write: QueuedWrite, db) {
      const p = write.payload as { repo: Target };
      const octokit = await clients.forRepo(p.repo);
      switch (write.kind) {
        case 'check':
          if (clients.mode === 'app') await sendCheckRun(db, octokit, write.payload as CheckPayload);
          else await sendCommitStatus(octokit, write.payload as CheckPayload);
          return;
        case 'comment':
          return sendStickyComment(db, octokit, write.payload as CommentPayload);
        case 'drift-issue':
          return sendDriftIssue(db, octokit, write.payload as DriftIssuePayload);
        case 'deployment':
          return sendDeployment(db, octokit, write.payload as DeploymentPayload, logger);
        case 'reaction': {
          const r = write.payload as {
            repo: Target;
            commentId: number;
            content: '+1' | 'eyes' | 'confused' | 'rocket' | '-1';
          };
          await octokit.rest.reactions.createForIssueComment({
            owner: r.repo.owner,
            repo: r.repo.name,
            comment_id: r.commentId,
            content: r.content,
          });
          return;
        }
        case 'reply': {
          const r = write.payload as { repo: Target; thread: { pullNumber: number } | { sha: string }; body: string };
          const base = { owner: r.repo.owner, repo: r.repo.name, body: r.body };
          if ('pullNumber' in r.thread)
            await octokit.rest.issues.createComment({ ...base, issue_number: r.thread.pullNumber });
          else await octokit.rest.repos.createCommitComment({ ...base, commit_sha: r.thread.sha });
          return;
        }
      }
    },
    pauseUntil: (queue) => clients.pauseUntil(queue),
  };
}
