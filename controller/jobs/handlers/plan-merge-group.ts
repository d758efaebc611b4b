/**
 * GitHub's merge queue asks for the checks of a merge group: its head is planned by the plan job, as a pull request's
 * is, with checks only (no pull request, no comment). docs/controller.md "Merge queues".
 */
import type { PlanMergeGroup } from '../../../webhooks/commands.js';
import type { CommandHandler } from './context.js';

export const planMergeGroup: CommandHandler<PlanMergeGroup> = async (deps, c, ctx) => {
  await deps.queue.enqueuePlan({
    repo: c.repo,
    mergeGroup: { headRef: c.headRef, baseBranch: c.baseBranch },
    headSha: c.headSha,
    baseSha: c.baseSha,
    live: false,
    trigger: `merge_group checks_requested (${ctx.deliveryId})`,
  });
  return `plan queued for merge group ${c.headRef}`;
};
