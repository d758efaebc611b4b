/** The one sticky pull request comment: every planned environment of a PR, under GitHub's comment size limit. */
import type { PlanForRender } from '../ports.js';
import type { NodeResult, Plan, ValidationError } from '../../kernel/types.js';
import { Budget, cell, code, codeBlock, codeCell, COMMENT_LIMIT, plural, shortSha, truncate } from './markdown.js';
import { formatValidationError } from '../../schema/load-description.js';
import { describeRolloutBatches, planRollouts } from '../../reconciler/rollout.js';
import { renderChangesCell } from './render-plan-changes.js';
import { affectedPlanGraph, renderPlanMermaid } from '../../render/graph/plan-mermaid.js';

/** Hidden marker that identifies Politburo's comment among a PR's comments (found again when its id is lost). */
export const PLAN_COMMENT_MARKER = '<!-- politburo:plan -->';

interface PlanCommentOptions {
  headSha: string;
  runUrl?: string;
  /** Where the whole plan can be read when the comment had to be truncated. */
  fullPlanUrl?: string;
}

/** Room kept for headings, truncation notes and the footer, which are always written. */
const RESERVED = 4_000;

/** "3 to create, 1 to update, 10 unchanged, 0 to terminate". */
export function renderPlanCounts(plan: Plan, withUnchanged = true): string {
  const s = plan.summary;
  const parts = [`${s.create} to create`, `${s.update} to update`];
  if (withUnchanged) parts.push(`${s.unchanged} unchanged`);
  parts.push(`${s.terminate} to terminate`);
  return parts.join(', ');
}

/** Renders the sticky plan comment (markdown, starting with PLAN_COMMENT_MARKER). Pure. */
export function renderPlanComment(plans: PlanForRender[], opts: PlanCommentOptions): string {
  const out = new Budget(COMMENT_LIMIT - RESERVED);
  out.must(PLAN_COMMENT_MARKER);
  out.must(`### Politburo plan for ${code(shortSha(opts.headSha))}`);
  if (plans.length === 0) {
    out.must('');
    out.must('No environment is affected by this pull request.');
  }
  let truncated = false;
  for (const p of plans) {
    const before = out.omitted;
    out.must('');
    renderEnvironment(out, p);
    const omitted = out.omitted - before;
    if (omitted > 0) {
      truncated = true;
      out.must('');
      out.must(
        `_… ${plural(omitted, 'more line')} of ${code(p.environment)} not shown: the comment would exceed GitHub's ${COMMENT_LIMIT.toLocaleString('en-US')}-character limit. ${renderFullPlanPointer(opts, p.environment)}_`,
      );
    }
  }
  const links = [
    opts.runUrl ? `[Run](${opts.runUrl})` : '',
    truncated && opts.fullPlanUrl ? `[Full plan](${opts.fullPlanUrl})` : '',
  ].filter(Boolean);
  out.must('');
  out.must(
    `<sub>Planned at ${code(opts.headSha)}${links.length ? ` · ${links.join(' · ')}` : ''}. Comment \`/politburo plan\` to plan again.</sub>`,
  );
  return truncate(out.text(), COMMENT_LIMIT);
}

function renderFullPlanPointer(opts: PlanCommentOptions, env: string): string {
  return opts.fullPlanUrl
    ? `See the [full plan](${opts.fullPlanUrl}).`
    : `Run ${code(`politburo plan ${env}`)} to see all of it.`;
}

function renderEnvironment(out: Budget, p: PlanForRender): void {
  if (!p.plan || p.errors.length > 0) {
    out.must(`#### ${code(p.environment)}: invalid (${plural(p.errors.length, 'error')})`);
  } else if (p.plan.summary.create + p.plan.summary.update + p.plan.summary.terminate === 0) {
    out.must(`#### ${code(p.environment)}: no changes (${p.plan.summary.unchanged} unchanged)`);
  } else {
    out.must(`#### ${code(p.environment)}: ${renderPlanCounts(p.plan)}`);
  }
  if (p.errors.length > 0) renderErrors(out, p.errors);
  if (p.plan && p.errors.length === 0) renderDependencyGraph(out, p.plan);
  if (p.plan) renderChanges(out, p.plan);
  if (p.plan) renderRollouts(out, p.plan);
  if (p.live) renderLive(out, p.live.nodes);
}

function renderErrors(out: Budget, errors: ValidationError[]): void {
  out.must('');
  out.must('```');
  for (const e of errors) out.maybe(formatValidationError(e).replace(/```/g, '`\u200b``'));
  out.must('```');
}

function renderChanges(out: Budget, plan: Plan): void {
  const changed = plan.nodes.filter((n) => n.action !== 'unchanged');
  if (changed.length === 0) return;
  out.must('');
  out.must('| Node | Host | Action | What changes |');
  out.must('| --- | --- | --- | --- |');
  for (const n of changed) {
    out.maybe(
      `| ${codeCell(n.path)} | ${cell(n.host ?? 'to be provisioned')} | ${n.action} | ${renderChangesCell(n.changes)} |`,
    );
  }
}

/** The rolling batches an apply would release (docs/language.md, "Rolling batches"), one line per group. */
export function renderRollouts(out: Budget, plan: Plan): void {
  const groups = planRollouts(plan);
  if (groups.length === 0) return;
  out.must('');
  out.must('**Rolling batches:**');
  for (const g of groups) out.maybe(`- ${cell(describeRolloutBatches(g))}`);
}

function renderLive(out: Budget, nodes: NodeResult[]): void {
  const notable = nodes.filter((n) => n.state !== 'ready' && n.state !== 'defined');
  out.must('');
  if (notable.length === 0) {
    out.must(`**Live dry-run:** no drift on ${plural(nodes.length, 'node')}.`);
    return;
  }
  out.must(`**Live dry-run:** ${plural(notable.length, 'node')} not as described.`);
  out.must('');
  out.must('| Node | Host | State | Unmet tasks |');
  out.must('| --- | --- | --- | --- |');
  for (const n of notable) {
    const unmet = n.tasks.filter((t) => t.outcome === 'unmet' || t.outcome === 'failed').map((t) => t.name);
    const detail = unmet.length ? unmet.join(', ') : (n.reason ?? '');
    out.maybe(`| ${codeCell(n.path)} | ${cell(n.host ?? '')} | ${n.state} | ${cell(detail)} |`);
  }
}

/** The dependency graph in the comment: open up to this many boxes, inside a collapsed <details> above. */
export const GRAPH_OPEN_BOXES = 12;
/** Beyond this many boxes nodes are drawn grouped by path prefix; Mermaid draws at most 500 edges. */
const GRAPH_LIMITS = { maxBoxes: 80, maxEdges: 400 };
/** At most this many characters of flowchart per environment, and never more than half of what is left. */
const GRAPH_MAX_CHARS = 30_000;

/**
 * The affected part of the environment's dependency graph as a Mermaid flowchart (render/graph/plan-mermaid.ts), above
 * the table of changes: only when the changed nodes have dependencies or dependents to show; node by node, else
 * grouped by path, within half of what is left of the comment's budget (the table keeps the rest); else one line
 * saying it was not drawn, itself left out (and counted) once the budget is spent.
 */
function renderDependencyGraph(out: Budget, plan: Plan): void {
  const pg = affectedPlanGraph(plan);
  if (pg.changed === 0 || pg.graph.edges.length === 0) return;
  const affected = `${plural(pg.graph.nodes.length, 'node')} affected`;
  // Room for the fence, the legend and the <details> wrapping around the flowchart.
  const wrapping = 1_000;
  const room = Math.min(GRAPH_MAX_CHARS, Math.floor((COMMENT_LIMIT - RESERVED - out.length) / 2) - wrapping);
  const drawn = room > 0 ? renderPlanMermaid(pg, { ...GRAPH_LIMITS, maxChars: room }) : null;
  if (!drawn) {
    const note = `_Dependency graph of the ${affected} not drawn: it would not fit in the comment. ${code(`politburo graph ${plan.environment} --format mermaid`)} draws the whole environment._`;
    // Counted with the environment's lines not shown when even this line no longer fits.
    if (out.length + note.length + 2 > COMMENT_LIMIT - RESERVED) out.omitted++;
    else {
      out.must('');
      out.must(note);
    }
    return;
  }
  out.must('');
  const legend = [
    `The ${plural(pg.changed, 'changed node')}, what they wait for and what waits for them.`,
    drawn.groupedAt === null
      ? ''
      : ` Too many to draw one by one: a box stands for the nodes under a path of ${plural(drawn.groupedAt, 'segment')} and counts them per action.`,
    ' An arrow A → B: B waits for A to be ready (dotted: to be provisioned).',
    [...pg.actions.values()].includes('terminate')
      ? ' Nodes to terminate are no longer described: drawn without their dependencies.'
      : '',
  ].join('');
  const block = codeBlock(drawn.text, 'mermaid');
  if (drawn.boxes <= GRAPH_OPEN_BOXES) {
    out.must(`**Dependency graph** of the ${affected}. ${legend}`);
    out.must('');
    out.must(block);
    return;
  }
  out.must('<details>');
  out.must(
    `<summary>Dependency graph of the ${affected} (${pg.changed} changed${drawn.groupedAt === null ? '' : `, drawn as ${plural(drawn.boxes, 'box', 'es')}`})</summary>`,
  );
  out.must('');
  out.must(legend);
  out.must('');
  out.must(block);
  out.must('');
  out.must('</details>');
}
