/**
 * The hash of a plan as a pull request's comment shows it: each node's path, host, action and changes. An apply from a
 * pull request (controller/jobs/handlers/apply-pull-request.ts) applies only when the plan it would apply hashes the
 * same as the plan recorded for the comment (docs/controller.md, "Applying a pull request before merge").
 */
import { createHash } from 'node:crypto';
import type { Plan } from '../../kernel/types.js';

/** `sha256:<hex>` of what the plan changes (unchanged nodes and the commit are left out). Pure. */
export function planHash(plan: Plan): string {
  const changes = plan.nodes
    .filter((n) => n.action !== 'unchanged')
    .map((n) => [n.path, n.host, n.action, n.changes])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  return `sha256:${createHash('sha256').update(JSON.stringify(changes)).digest('hex')}`;
}
