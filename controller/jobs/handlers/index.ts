/**
 * One handler per command (webhooks/commands.ts). A new command kind does not compile until it has its case here.
 */
import type { Command } from '../../../webhooks/commands.js';
import type { JobDeps } from '../job-deps.js';
import { applyBranchHead } from './apply-branch-head.js';
import type { DeliveryContext } from './context.js';
import { registerRepositories, unregisterRepositories } from './installation.js';
import { planComment } from './plan-comment.js';
import { planMergeGroup } from './plan-merge-group.js';
import { planPullRequest } from './plan-pull-request.js';
import { rerunApplyCheck, rerunPlanCheck } from './rerun-check.js';
import { helpComment, releaseComment } from './release.js';

export type { DeliveryContext } from './context.js';

/** Runs a command with its handler; returns the delivery's outcome. */
export async function handleCommand(deps: JobDeps, command: Command, ctx: DeliveryContext): Promise<string> {
  switch (command.kind) {
    case 'apply-branch-head':
      return applyBranchHead(deps, command, ctx);
    case 'plan-pull-request':
      return planPullRequest(deps, command, ctx);
    case 'plan-merge-group':
      return planMergeGroup(deps, command, ctx);
    case 'plan-comment':
      return planComment(deps, command, ctx);
    case 'release-comment':
      return releaseComment(deps, command, ctx);
    case 'help-comment':
      return helpComment(deps, command, ctx);
    case 'rerun-plan-check':
      return rerunPlanCheck(deps, command, ctx);
    case 'rerun-apply-check':
      return rerunApplyCheck(deps, command, ctx);
    case 'register-repositories':
      return registerRepositories(deps, command, ctx);
    case 'unregister-repositories':
      return unregisterRepositories(deps, command, ctx);
    case 'ignore':
      return `ignored: ${command.reason}`;
  }
}
