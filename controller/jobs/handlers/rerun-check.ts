/** "Re-run" on a Politburo check: a plan check plans its pull request again, an apply check applies again. */
import type { RerunApplyCheck, RerunPlanCheck } from '../../../webhooks/commands.js';
import type { CommandHandler } from './context.js';
import { rerunRefusal } from './release.js';

/** Re-plans at the pull request's head as last seen (a check of an older head plans the current one). */
export const rerunPlanCheck: CommandHandler<RerunPlanCheck> = async (deps, c, ctx) => {
  const pr = await deps.controllerStore.knownPullRequest(c.repo, c.pullNumber);
  if (!pr) return 'ignored: plan check of an unknown pull request';
  await deps.queue.enqueuePlan({
    repo: c.repo,
    pullNumber: c.pullNumber,
    headSha: pr.headSha,
    baseSha: pr.baseSha,
    environment: c.environment,
    live: false,
    trigger: `check rerequested (${ctx.deliveryId})`,
  });
  return `plan queued for #${c.pullNumber}`;
};

export const rerunApplyCheck: CommandHandler<RerunApplyCheck> = async (deps, c, ctx) => {
  // The apply policy holds for re-runs (docs/language.md, "Apply policy").
  const refusal = await rerunRefusal(deps, c.repo, c.environment, c.sha, ctx.log);
  if (refusal) return `refused: ${refusal}`;
  await deps.queue.enqueueApply({
    repo: c.repo,
    environment: c.environment,
    sha: c.sha,
    trigger: `check rerequested (${ctx.deliveryId})`,
  });
  return `apply of ${c.environment} queued`;
};
