/** A pull request opened or moved: remembered (comments carry no head), and planned statically. */
import type { PlanPullRequest } from '../../../webhooks/commands.js';
import type { CommandHandler } from './context.js';

export const planPullRequest: CommandHandler<PlanPullRequest> = async (deps, c, ctx) => {
  await deps.controllerStore.rememberPullRequest(c.repo, c.pullNumber, {
    headSha: c.headSha,
    baseSha: c.baseSha,
    headRepository: c.headRepository,
  });
  await deps.queue.enqueuePlan({
    repo: c.repo,
    pullNumber: c.pullNumber,
    headSha: c.headSha,
    baseSha: c.baseSha,
    live: false,
    trigger: `pull_request ${c.action} (${ctx.deliveryId})`,
  });
  return `plan queued for #${c.pullNumber}`;
};
