/**
 * `/politburo apply ENV` on a merged pull request or on a commit: releases a manual environment at that commit
 * (docs/controller.md, "Apply policies and releases"); on an open pull request: applies its head before merge when
 * every requirement holds (apply-pull-request.ts); and `/politburo help`. Every refusal is answered in the thread
 * with its reason (and a -1 reaction on a pull request comment); a release is recorded (who, when) and its apply
 * queued.
 *
 * Only the head of the environment's branch is released: the controller only ever applies the head
 * (docs/controller.md, "Superseding"), and every push after a waiting commit waits too, so the head's release carries
 * the earlier ones' changes. The apply job of a release does not move on to a newer head (it is superseded instead).
 */
import type { HelpComment, ReleaseComment } from '../../../webhooks/commands.js';
import { HELP_TEXT } from '../../../webhooks/comment-command.js';
import { applyCheckName, renderApplyCheck } from '../../github/render-apply-check.js';
import { reporterFor, safely } from '../job-deps.js';
import { withCommit } from '../load-commit.js';
import { governingPolicy } from '../queue-applies.js';
import { applyPullRequest } from './apply-pull-request.js';
import { pullRequestReadsOf } from '../../pull-request-state.js';
import type { CommandHandler } from './context.js';

/** How a released apply's trigger starts: the apply job then applies that very commit, never a newer head. */
export const RELEASE_TRIGGER = '/politburo apply';

const WRITERS = new Set(['admin', 'maintain', 'write']);

export const releaseComment: CommandHandler<ReleaseComment> = async (deps, c, ctx) => {
  const reporter = reporterFor(deps, c.repo);
  const thread = c.thread.kind === 'pull-request' ? { pullNumber: c.thread.pullNumber } : { sha: c.thread.sha };
  const command = `\`/politburo apply ${c.environment}\``;
  const answer = (body: string) => safely(ctx.log, 'reply', () => reporter.reply(c.repo, thread, c.commentId, body));
  const react = (content: 'rocket' | '-1') =>
    c.thread.kind === 'pull-request'
      ? safely(ctx.log, 'reaction', () => reporter.reaction(c.repo, c.commentId, content))
      : Promise.resolve();
  const refuse = async (reason: string) => {
    await react('-1');
    await answer(`${command} refused: ${reason}`);
    return `refused: ${reason}`;
  };

  if (!c.commenter) return refuse('GitHub did not say who commented.');
  const permission = await reporter.permission(c.repo, c.commenter);
  if (!WRITERS.has(permission))
    return refuse(`@${c.commenter} has ${permission} permission on the repository; releasing needs write.`);

  const reads = pullRequestReadsOf(reporter);
  let sha: string;
  if (c.thread.kind === 'commit') sha = c.thread.sha;
  else if (reads.pullRequest) {
    // An open pull request is applied at its head when every requirement holds (apply-pull-request.ts).
    const pr = await reads.pullRequest(c.repo, c.thread.pullNumber);
    if (!pr) return refuse(`GitHub did not answer with pull request #${c.thread.pullNumber}.`);
    if (!pr.merged || !pr.mergeCommitSha) {
      const say = { refuse, answer, react };
      return applyPullRequest(deps, reporter, { ...c, commenter: c.commenter }, c.thread.pullNumber, pr, say, ctx);
    }
    sha = pr.mergeCommitSha;
  } else {
    const merged = await reporter.mergeCommit(c.repo, c.thread.pullNumber);
    if (!merged)
      return refuse(
        `pull request #${c.thread.pullNumber} is not merged: a release applies a merged commit (GitHub cannot be asked about the pull request's head here).`,
      );
    sha = merged;
  }
  const short = sha.slice(0, 7);
  const release = await deps.controllerStore.release(c.repo, c.environment, sha);
  if (!release)
    return refuse(
      `nothing of \`${c.environment}\` waits for release at ${short} (only an environment with \`apply: manual\` whose plan changed at that commit does).`,
    );
  if (release.supersededBy)
    return refuse(
      `${short} is superseded by ${release.supersededBy.slice(0, 7)}, which waits for release of \`${c.environment}\` with its changes. Release that commit (${command} on it).`,
    );
  if (release.releasedAt) {
    await answer(
      `\`${c.environment}\` at ${short} was released already, by @${release.releasedBy} at ${release.releasedAt}.`,
    );
    return `already released by ${release.releasedBy}`;
  }
  // Only the branch head is released (module comment).
  const branch = await withCommit(deps.git, c.repo, sha, async (loaded) =>
    loaded.kind === 'ok' ? (loaded.description.environments.get(c.environment)?.branch ?? c.repo.defaultBranch) : null,
  );
  if (branch === null) return refuse(`\`${c.environment}\` is not validly described at ${short}.`);
  const head = await deps.git.branchHead(c.repo, branch);
  if (head !== sha)
    return refuse(
      head
        ? `${short} is not the head of ${branch} any more: ${head.slice(0, 7)} is newer and carries its changes. Release that commit (${command} on it).`
        : `branch ${branch} does not exist any more.`,
    );
  if (!(await deps.controllerStore.markReleased(c.repo, c.environment, sha, c.commenter))) {
    await answer(`\`${c.environment}\` at ${short} was released already (by another comment).`);
    return 'already released';
  }
  await safely(ctx.log, 'queued check', () =>
    reporter.check(
      { repo: c.repo, sha, name: applyCheckName(c.environment) },
      renderApplyCheck(null, { environment: c.environment }),
    ),
  );
  const trigger = `${RELEASE_TRIGGER} ${c.environment} by ${c.commenter} (${ctx.deliveryId})`;
  const queued = await deps.queue.enqueueApply({ repo: c.repo, environment: c.environment, sha, trigger });
  ctx.log.info({ env: c.environment, job: queued.id }, `${c.environment}@${short} released by ${c.commenter}`);
  await react('rocket');
  await answer(
    `Released \`${c.environment}\` at ${short} (${release.planSummary}), by @${c.commenter}: the apply is queued; its check \`${applyCheckName(c.environment)}\` on ${short} follows it.`,
  );
  return `released ${c.environment}@${short} by ${c.commenter}`;
};

export const helpComment: CommandHandler<HelpComment> = async (deps, c, ctx) => {
  const reporter = reporterFor(deps, c.repo);
  const thread = c.thread.kind === 'pull-request' ? { pullNumber: c.thread.pullNumber } : { sha: c.thread.sha };
  const intro = c.unknown ? `Not a Politburo command: \`${c.unknown.replace(/`/g, "'")}\`.\n\n` : '';
  await safely(ctx.log, 'reply', () => reporter.reply(c.repo, thread, c.commentId, intro + HELP_TEXT));
  return c.unknown ? 'unknown command: help answered' : 'help answered';
};

/**
 * Why a "Re-run" of the apply check `politburo/ENV` at `sha` may not apply (null: it may): the apply policy holds for
 * re-runs too. A suspended environment is not applied; a manual one only at a released commit that is still the
 * branch head (the apply job would otherwise apply a newer, unreleased head).
 */
export async function rerunRefusal(
  deps: Parameters<CommandHandler<ReleaseComment>>[0],
  repo: ReleaseComment['repo'],
  environment: string,
  sha: string,
  log: Parameters<CommandHandler<ReleaseComment>>[2]['log'],
): Promise<string | null> {
  const env = await withCommit(deps.git, repo, sha, async (loaded) =>
    loaded.kind === 'ok' ? (loaded.description.environments.get(environment) ?? null) : null,
  );
  // Not (validly) described there: the apply job reports why, or terminates a removed environment's nodes.
  if (!env) return null;
  const policy = await governingPolicy(deps, repo, env, sha, log);
  if (policy.suspend) return `${environment} is suspended`;
  if (policy.apply === 'auto') return null;
  const release = await deps.controllerStore.release(repo, environment, sha);
  if (!release?.releasedAt)
    return `${environment} waits for release at ${sha.slice(0, 7)} (\`/politburo apply ${environment}\`)`;
  const head = await deps.git.branchHead(repo, env.branch ?? repo.defaultBranch);
  if (head !== sha)
    return `${sha.slice(0, 7)} is not the head of its branch any more; ${environment} is applied on release`;
  return null;
}
