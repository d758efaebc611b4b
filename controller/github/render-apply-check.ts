/** The `politburo/ENV` check of a pushed commit: waiting, applying, then what happened to every node. */
import type { CheckConclusion, CheckUpdate } from '../ports.js';
import type { NodeResult, RunResult, ValidationError } from '../../kernel/types.js';
import { formatValidationError } from '../../schema/load-description.js';
import { Budget, cell, code, codeBlock, CHECK_TEXT_LIMIT, plural, shortSha, tail, truncate } from './markdown.js';

/** What every apply check's name starts with. */
export const APPLY_CHECK_PREFIX = 'politburo/';

/** Name of the apply check (or commit status context) of an environment. */
export function applyCheckName(environment: string): string {
  return `${APPLY_CHECK_PREFIX}${environment}`;
}

interface ApplyCheckOptions {
  environment: string;
  /** The run page on the dashboard: the check's details link. */
  runUrl?: string;
  /** Before a result exists: queued (default) or in_progress. */
  state?: 'queued' | 'in_progress';
  /** A newer commit replaced this apply before it ran. */
  supersededBy?: string;
}

/** Order in which outcomes are listed: problems first. */
const STATE_ORDER = ['failed', 'blocked', 'drifted', 'ready', 'terminated'];

/** Renders the apply check for a run (null: not started yet). Pure. */
export function renderApplyCheck(result: RunResult | null, opts: ApplyCheckOptions): CheckUpdate {
  const details = opts.runUrl ? { detailsUrl: opts.runUrl } : {};
  if (opts.supersededBy) {
    return {
      status: 'completed',
      conclusion: 'skipped',
      title: `Superseded by ${shortSha(opts.supersededBy)}`,
      summary: `Not applied: superseded by ${opts.supersededBy}, a newer commit for ${code(opts.environment)}, which is applied instead.`,
      ...details,
    };
  }
  if (!result || result.status === 'running') {
    const running = !!result || opts.state === 'in_progress';
    return {
      status: running ? 'in_progress' : 'queued',
      title: running ? `Applying ${opts.environment}` : `Waiting to apply ${opts.environment}`,
      summary: result
        ? renderSummary(result)
        : running
          ? `The apply of ${code(opts.environment)} is in progress.`
          : `The apply of ${code(opts.environment)} is queued.`,
      ...details,
    };
  }
  return {
    status: 'completed',
    conclusion: conclusionOf(result),
    title: renderCountsTitle(result),
    summary: renderSummary(result),
    ...details,
  };
}

function conclusionOf(result: RunResult): CheckConclusion {
  if (result.status === 'cancelled') return 'cancelled';
  const bad = result.nodes.some((n) => n.state === 'failed' || n.state === 'blocked');
  return result.status === 'failed' || bad ? 'failure' : 'success';
}

/** "12 ready, 1 failed, 2 blocked" from the run's nodes (or "nothing to do"). */
function renderCountsTitle(result: RunResult): string {
  const counts = countStates(result.nodes);
  if (counts.size === 0) return 'Nothing to apply';
  return [...counts].map(([state, n]) => `${n} ${state}`).join(', ');
}

function countStates(nodes: NodeResult[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const n of nodes) counts.set(n.state, (counts.get(n.state) ?? 0) + 1);
  const rank = (s: string) => (STATE_ORDER.includes(s) ? STATE_ORDER.indexOf(s) : STATE_ORDER.length);
  return new Map([...counts].sort((a, b) => rank(a[0]) - rank(b[0]) || a[0].localeCompare(b[0])));
}

function renderSummary(result: RunResult): string {
  const out = new Budget(CHECK_TEXT_LIMIT - 300);
  const secs = Math.round(result.durationMs / 1000);
  out.must(
    `${result.status === 'running' ? 'Applying' : 'Applied'} ${code(result.environment)} at ${code(shortSha(result.commit))}: ${plural(result.nodes.length, 'node')}${result.status === 'running' ? '' : ` in ${secs}s`}.`,
  );
  out.must('');
  out.must('| State | Nodes |');
  out.must('| --- | --- |');
  for (const [state, n] of countStates(result.nodes)) out.must(`| ${state} | ${n} |`);
  // Where a rolling batch stopped (docs/language.md, "Rolling batches").
  for (const stop of result.rollouts ?? []) {
    out.must('');
    out.must(
      `**Rollout stopped:** ${cell(stop.reason)} (failed: ${stop.failed.map(code).join(', ')}; ${plural(stop.blocked.length, 'node')} of ${code(stop.group)} not started).`,
    );
  }
  const failed = result.nodes.filter((n) => n.state === 'failed');
  if (failed.length) {
    out.must('');
    out.must(`**Failed** (${failed.length}):`);
    for (const n of failed) renderFailed(out, n);
  }
  const blocked = result.nodes.filter((n) => n.state === 'blocked');
  if (blocked.length) {
    out.must('');
    out.must(`**Blocked** (${blocked.length}):`);
    for (const n of blocked) out.maybe(`- ${code(n.path)}: ${cell(n.reason ?? 'a dependency did not become ready')}`);
  }
  if (out.omitted)
    out.must(`\n… ${plural(out.omitted, 'more line')} not shown (GitHub's size limit): see the run page.`);
  return truncate(out.text(), CHECK_TEXT_LIMIT);
}

function renderFailed(out: Budget, n: NodeResult): void {
  const task = n.tasks.find((t) => t.outcome === 'failed');
  const where = `${code(n.path)}${n.host ? ` on ${cell(n.host)}` : ''}`;
  out.maybe(`- ${where}: ${task ? `task ${code(task.name)} failed` : cell(n.reason ?? 'failed')}`);
  const message = tail(task?.message);
  if (message)
    out.maybe(
      codeBlock(message)
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    );
  else if (task && n.reason) out.maybe(`  ${cell(n.reason)}`);
}

/**
 * The check of an environment (or, when which environments follow the branch is unknown, the `politburo` check) at a
 * commit whose description is invalid: every error as an annotation on its line, the first 200 in the summary.
 */
export function renderInvalidDescriptionCheck(environment: string | null, errors: ValidationError[]): CheckUpdate {
  const what = environment ? `${environment} was not applied` : 'Nothing was applied';
  const listed = errors.slice(0, 200).map(formatValidationError).join('\n');
  return {
    status: 'completed',
    conclusion: 'failure',
    title: `Invalid description: ${plural(errors.length, 'error')}`,
    summary: truncate(
      `${what}: the description is invalid. Fix these and push again.\n\n${codeBlock(listed)}`,
      CHECK_TEXT_LIMIT,
    ),
    annotations: errors.map((e) => ({
      path: e.file,
      startLine: e.line,
      endLine: e.line,
      startColumn: e.column,
      level: 'failure' as const,
      message: e.message,
    })),
  };
}
