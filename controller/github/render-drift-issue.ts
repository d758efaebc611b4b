/** The `politburo:drift` issue of an environment: which nodes drifted and which of their tasks are no longer met. */
import type { DriftReport } from '../ports.js';
import { Budget, cell, code, codeCell, COMMENT_LIMIT, plural, shortSha, truncate } from './markdown.js';

/** Label of drift issues. */
export const DRIFT_LABEL = 'politburo:drift';

/** Title of the drift issue of an environment (also how a lost issue is found again). */
export function driftIssueTitle(environment: string): string {
  return `Drift in ${environment}`;
}

/** Hidden marker naming the environment, so the issue is recognised whatever its title became. */
export function driftIssueMarker(environment: string): string {
  return `<!-- politburo:drift ${environment.replace(/--/g, '- -')} -->`;
}

/**
 * Renders the drift issue title and body: drifted (or failed) nodes, then the nodes that could not be checked. Pure.
 */
export function renderDriftIssue(report: DriftReport): { title: string; body: string } {
  const drifted = report.result.nodes.filter((n) => n.state === 'drifted' || n.state === 'failed');
  const unchecked = report.result.unchecked ?? [];
  const out = new Budget(COMMENT_LIMIT - 1_000);
  out.must(driftIssueMarker(report.environment));
  const notChecked = unchecked.length ? `, and could not check ${plural(unchecked.length, 'node')}` : '';
  out.must(
    `A drift check of ${code(report.environment)} at ${code(shortSha(report.sha))} found ${plural(drifted.length, 'node')} no longer as described${notChecked}.`,
  );
  if (report.healed) out.must('They were healed: the unmet tasks were met again (see the run for what changed).');
  if (drifted.length) {
    out.must('');
    out.must('| Node | Host | State | Tasks not met |');
    out.must('| --- | --- | --- | --- |');
    for (const n of drifted) {
      const unmet = n.tasks.filter((t) => t.outcome === 'unmet' || t.outcome === 'failed').map((t) => codeCell(t.name));
      out.maybe(
        `| ${codeCell(n.path)} | ${cell(n.host ?? '')} | ${n.state} | ${unmet.length ? unmet.join(', ') : cell(n.reason ?? '')} |`,
      );
    }
  }
  if (unchecked.length) {
    out.must('');
    out.must('Not checked, so this issue stays open until they are:');
    out.must('');
    out.must('| Node | Host | Why |');
    out.must('| --- | --- | --- |');
    for (const u of unchecked) out.maybe(`| ${codeCell(u.path)} | ${cell(u.host ?? '')} | ${cell(u.reason)} |`);
  }
  if (out.omitted) out.must(`\n… ${plural(out.omitted, 'more node')} not shown (GitHub's size limit).`);
  out.must('');
  out.must(
    `${report.runUrl ? `[Drift run](${report.runUrl}). ` : ''}This issue is updated while the drift lasts and closed when it is gone. ` +
      `Run ${code(`politburo drift ${report.environment} --heal`)} or push a fix to heal it.`,
  );
  return { title: driftIssueTitle(report.environment), body: truncate(out.text(), COMMENT_LIMIT) };
}
