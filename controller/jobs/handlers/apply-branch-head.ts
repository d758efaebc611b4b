/** A branch's head moved: the environments following the branch are planned, and the changed ones applied. */
import type { ApplyBranchHead } from '../../../webhooks/commands.js';
import { queueApplies } from '../queue-applies.js';
import type { CommandHandler } from './context.js';

export const applyBranchHead: CommandHandler<ApplyBranchHead> = async (deps, c, ctx) => {
  const trigger = `push ${c.sha.slice(0, 7)} to ${c.branch} by ${c.pushedBy}`;
  const result = await queueApplies(deps, c.repo, c.branch, c.sha, trigger, ctx.log, c.before);
  const held = (result.held ?? []).map(
    (h) => `${h.environment} ${h.state === 'waiting' ? 'waits for release' : 'is suspended'}`,
  );
  const parts = [...(result.environments.length ? [`queued: ${result.environments.join(', ')}`] : []), ...held];
  return parts.length ? parts.join('; ') : result.outcome;
};
