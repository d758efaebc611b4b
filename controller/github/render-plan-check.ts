/** The `politburo plan ENV` check run of a pull request: the plan as summary, an annotation per validation error. */
import type { CheckAnnotation, CheckUpdate, PlanForRender } from '../ports.js';
import { Budget, cell, code, codeCell, CHECK_TEXT_LIMIT, plural, truncate } from './markdown.js';
import { renderPlanCounts, renderRollouts } from './render-plan-comment.js';
import { renderChangesCell } from './render-plan-changes.js';
import { formatValidationError } from '../../schema/load-description.js';

/** Name of the plan check of an environment. */
export function planCheckName(environment: string): string {
  return `politburo plan ${environment}`;
}

/** Renders the plan check: success (no changes), neutral (changes or drift), failure (invalid). Pure. */
export function renderPlanCheck(p: PlanForRender, opts: { detailsUrl?: string } = {}): CheckUpdate {
  const base = { status: 'completed' as const, ...(opts.detailsUrl ? { detailsUrl: opts.detailsUrl } : {}) };
  if (!p.plan || p.errors.length > 0) {
    const out = new Budget(CHECK_TEXT_LIMIT - 200);
    out.must(`The description of ${code(p.environment)} is invalid: fix these and push again.`);
    out.must('');
    out.must('```');
    for (const e of p.errors) out.maybe(formatValidationError(e).replace(/```/g, '`\u200b``'));
    out.must('```');
    if (out.omitted) out.must(`… and ${out.omitted} more (every one is annotated on its line).`);
    return {
      ...base,
      conclusion: 'failure',
      title: plural(p.errors.length, 'validation error'),
      summary: truncate(out.text(), CHECK_TEXT_LIMIT),
      annotations: p.errors.map(errorAnnotation),
    };
  }
  const plan = p.plan;
  const changes = plan.summary.create + plan.summary.update + plan.summary.terminate;
  const drifted = p.live ? p.live.nodes.filter((n) => n.state === 'drifted' || n.state === 'failed').length : 0;
  const title =
    (changes === 0 ? 'No changes' : renderPlanCounts(plan, false)) + (drifted ? `, ${drifted} drifted` : '');
  const out = new Budget(CHECK_TEXT_LIMIT - 300);
  out.must(`**${code(p.environment)}**: ${renderPlanCounts(plan)}.`);
  if (changes > 0) {
    out.must('');
    out.must('| Node | Host | Action | What changes |');
    out.must('| --- | --- | --- | --- |');
    for (const n of plan.nodes) {
      if (n.action === 'unchanged') continue;
      out.maybe(
        `| ${codeCell(n.path)} | ${cell(n.host ?? 'to be provisioned')} | ${n.action} | ${renderChangesCell(n.changes)} |`,
      );
    }
    renderRollouts(out, plan);
  }
  if (p.live) {
    out.must('');
    out.must(
      drifted ? `**Live dry-run:** ${plural(drifted, 'node')} drifted or unreachable.` : '**Live dry-run:** no drift.',
    );
    for (const n of p.live.nodes) {
      if (n.state !== 'drifted' && n.state !== 'failed') continue;
      const unmet = n.tasks.filter((t) => t.outcome === 'unmet' || t.outcome === 'failed').map((t) => t.name);
      out.maybe(`- ${code(n.path)} (${n.state}): ${cell(unmet.join(', ') || n.reason || '')}`);
    }
  }
  if (out.omitted)
    out.must(
      `\n… ${plural(out.omitted, 'more line')} not shown (GitHub's size limit). Run ${code(`politburo plan ${p.environment}`)} to see all of it.`,
    );
  return {
    ...base,
    conclusion: changes === 0 && drifted === 0 ? 'success' : 'neutral',
    title,
    summary: truncate(out.text(), CHECK_TEXT_LIMIT),
  };
}

function errorAnnotation(e: { file: string; line: number; column: number; message: string }): CheckAnnotation {
  return {
    path: e.file,
    startLine: e.line,
    endLine: e.line,
    startColumn: e.column,
    level: 'failure',
    message: e.message,
    title: 'Invalid description',
  };
}
