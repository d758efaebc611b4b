/** The human rendering of a plan: an aligned table with one line per node and a summary line. */
import type { Plan, PlanAction, PlannedNode } from '../../kernel/types.js';
import { alignTable } from './align-table.js';
import { plannedState } from './plan-json.js';
import { describeRolloutBatches, planRollouts } from '../../reconciler/rollout.js';

const ACTION_SYMBOL: Record<PlanAction, string> = { create: '+', update: '~', unchanged: '=', terminate: '-' };

const shortCommit = (commit: string | null): string => (commit ? `@${commit.slice(0, 7)}` : '');

/** `Plan for production@1a2b3c4: 3 to create, 1 to update, 24 unchanged, 0 to terminate`. */
export function planSummaryLine(plan: Plan): string {
  const s = plan.summary;
  return `Plan for ${plan.environment}${shortCommit(plan.commit)}: ${s.create} to create, ${s.update} to update, ${s.unchanged} unchanged, ${s.terminate} to terminate`;
}

/** The CHANGES cell(s) of a node: one line per change (the first beside the node, the rest below it). */
function changeLines(n: PlannedNode): string[] {
  if (n.action === 'create')
    return [n.node ? `new: ${n.node.tasks.length} task${n.node.tasks.length === 1 ? '' : 's'}` : 'new'];
  if (n.action === 'terminate') return n.changes.length ? n.changes : ['no longer described'];
  return n.changes.length ? n.changes : [''];
}

/**
 * The rolling batches an apply would release (docs/language.md, "Rolling batches"), one line per group, or nothing:
 * `  web: rollout in 3 batches of 2 (max_failures 0): web-1 web-2 | web-3 web-4 | web-5` under "Rolling batches:".
 */
function rolloutLines(plan: Plan): string {
  const groups = planRollouts(plan);
  if (groups.length === 0) return '';
  return `\nRolling batches:\n${groups.map((g) => `  ${describeRolloutBatches(g)}\n`).join('')}`;
}

/** Renders a plan as a table: action symbol, path, host, recorded state, changes; then the summary line. */
export function renderPlanText(plan: Plan): string {
  if (plan.nodes.length === 0) return `${plan.environment} has no nodes.\n${planSummaryLine(plan)}\n`;
  const rows: string[][] = [[' ', 'PATH', 'HOST', 'STATE', 'CHANGES']];
  for (const n of plan.nodes) {
    const [first, ...rest] = changeLines(n);
    rows.push([ACTION_SYMBOL[n.action], n.path, n.host ?? '(on demand)', plannedState(n), first]);
    for (const line of rest) rows.push(['', '', '', '', line]);
  }
  const legend = '(+ create, ~ update, = unchanged, - terminate)';
  return `${alignTable(rows)}\n${rolloutLines(plan)}\n${planSummaryLine(plan)}\n${plan.summary.create + plan.summary.update + plan.summary.terminate > 0 ? legend + '\n' : 'No changes: the environment matches its description.\n'}`;
}
