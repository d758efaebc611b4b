/**
 * `/politburo plan [ENV] [--live]`: a plan of the pull request as last seen. A live plan runs only when the trust
 * checks pass (controller/jobs/plan-command.ts, docs/configuration.md); otherwise a static plan says why not. The
 * comment gets a reaction: eyes (queued), -1 (live refused), confused (pull request not seen yet).
 */
import type { PlanComment } from '../../../webhooks/commands.js';
import type { PlanPullRequestJob } from '../../ports.js';
import { reporterFor, safely } from '../job-deps.js';
import { trustLive } from '../plan-command.js';
import type { CommandHandler } from './context.js';

export const planComment: CommandHandler<PlanComment> = async (deps, c, ctx) => {
  const reporter = reporterFor(deps, c.repo);
  const react = (content: 'eyes' | 'confused' | '-1') =>
    safely(ctx.log, 'reaction', () => reporter.reaction(c.repo, c.commentId, content));
  const pr = await deps.controllerStore.knownPullRequest(c.repo, c.pullNumber);
  if (!pr) {
    await react('confused');
    return `refused: pull request #${c.pullNumber} not seen yet`;
  }
  const job: PlanPullRequestJob = {
    repo: c.repo,
    pullNumber: c.pullNumber,
    headSha: pr.headSha,
    baseSha: pr.baseSha,
    environment: c.environment,
    live: false,
    commentId: c.commentId,
    trigger: `/politburo plan by ${c.commenter ?? 'someone'} (${ctx.deliveryId})`,
  };
  if (c.live) {
    const refusal = await trustLive(reporter, c.repo, c.commenter, pr.headRepository);
    if (refusal) {
      await react('-1');
      await deps.queue.enqueuePlan({
        ...job,
        notice: `\`/politburo plan --live\` refused: ${refusal} A static plan follows; no host was contacted.`,
      });
      return `refused --live: ${refusal}`;
    }
  }
  await react('eyes');
  await deps.queue.enqueuePlan({ ...job, live: c.live });
  return `${c.live ? 'live ' : ''}plan queued for #${c.pullNumber}`;
};
