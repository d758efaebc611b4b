/** Renders a finished run: the `--json` document (docs/cli.md) and the summary table printed on stdout. */
import type { RunResult } from '../../kernel/types.js';
import { formatElapsed } from './progress-model.js';

/** The `--json` document of apply, drift and live plans. */
export function runToJson(r: RunResult): object {
  return {
    environment: r.environment,
    commit: r.commit,
    kind: r.kind,
    runId: r.runId,
    status: r.status,
    nodes: r.nodes.map((n) => ({
      path: n.path,
      host: n.host,
      action: n.action ?? 'unchanged',
      state: n.state,
      reason: n.reason ?? null,
      tasks: n.tasks.map((t) => ({
        name: t.name,
        outcome: t.outcome,
        message: t.message ?? null,
        durationMs: t.durationMs ?? null,
      })),
      startedAt: n.startedAt ?? null,
      finishedAt: n.finishedAt ?? null,
    })),
    summary: r.summary,
    durationMs: r.durationMs,
    ...(r.rollouts?.length ? { rollouts: r.rollouts } : {}),
  };
}

/** A table of nodes (path, host, action, state, tasks, reason) and a summary line. */
export function renderRunTable(r: RunResult): string {
  if (r.nodes.length === 0) return `${r.environment}: nothing to do (every node is up to date)\n`;
  const rows = [['PATH', 'HOST', 'ACTION', 'STATE', 'TASKS', 'TIME', 'REASON']];
  for (const n of r.nodes) {
    const counts: Record<string, number> = {};
    for (const t of n.tasks) counts[t.outcome] = (counts[t.outcome] ?? 0) + 1;
    const tasks =
      Object.entries(counts)
        .map(([o, c]) => `${c} ${o}`)
        .join(', ') || '-';
    const took = n.startedAt && n.finishedAt ? formatElapsed(Date.parse(n.finishedAt) - Date.parse(n.startedAt)) : '-';
    rows.push([
      n.path,
      n.host ?? '-',
      n.action ?? '-',
      n.state,
      tasks,
      took,
      (n.reason ?? '').split('\n')[0].slice(0, 160),
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const table = rows
    .map((row) =>
      row
        .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
  const parts = Object.entries(r.summary)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${v} ${k}`);
  const commit = r.commit ? `@${r.commit.slice(0, 7)}` : '';
  // Where each stopped rollout stopped (docs/language.md, "Rolling batches").
  const stops = (r.rollouts ?? []).map((s) => `${s.reason}; ${s.blocked.length} not started\n`).join('');
  return `${table}\n${r.kind} ${r.environment}${commit} ${r.status}: ${parts.join(', ') || 'no nodes'} in ${formatElapsed(r.durationMs)}${r.runId ? ` (run ${r.runId})` : ''}\n${stops}`;
}
