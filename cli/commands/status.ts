/** `politburo status [ENV] [--json]`: the recorded state of every node (what the last runs left), no host contacted. */
import type { Command } from 'commander';
import { addCommonOptions, readCliEnv, repositoryId, type CommonOptions } from '../common.js';
import { openStore } from '../../store/open-store.js';
import { statusReport, type EnvironmentStatus } from '../../reconciler/status-report.js';
import { stderrLog } from './migrate.js';

const short = (commit: string | null): string => (commit ? commit.slice(0, 7) : '-');

/** Lays rows out in columns; the last column is not padded. */
export function alignTable(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function summaryLine(s: EnvironmentStatus): string {
  const total = s.nodes.length;
  const parts = Object.entries(s.summary)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${n} ${state}`);
  return `${total} node${total === 1 ? '' : 's'}${parts.length ? `: ${parts.join(', ')}` : ''}`;
}

/** Human rendering of one environment's status. */
export function renderStatus(s: EnvironmentStatus): string {
  const head = `${s.environment}  (last applied ${short(s.lastAppliedCommit)}${s.updatedAt ? `, updated ${s.updatedAt}` : ''})`;
  if (s.nodes.length === 0) return `${s.environment}: nothing recorded yet (no apply has run)\n`;
  const rows = [['PATH', 'HOST', 'STATE', 'COMMIT', 'RUN', 'REASON']];
  for (const n of s.nodes) {
    // Reasons can hold a failing task's output: first line only, the full text is in the run's log.
    const reason = (n.reason ?? '').split('\n')[0].slice(0, 120);
    rows.push([n.path, n.host ?? '-', n.state, short(n.lastAppliedCommit), n.lastRunId ?? '-', reason]);
  }
  return `${head}\n${alignTable(rows)}\n${summaryLine(s)}\n`;
}

function toJson(s: EnvironmentStatus): object {
  return {
    environment: s.environment,
    lastAppliedCommit: s.lastAppliedCommit,
    updatedAt: s.updatedAt,
    nodes: s.nodes.map((n) => ({
      path: n.path,
      host: n.host,
      state: n.state,
      reason: n.reason,
      lastAppliedCommit: n.lastAppliedCommit,
      lastRunId: n.lastRunId,
      updatedAt: n.updatedAt,
    })),
    summary: s.summary,
  };
}

/** Adds `politburo status [ENV] [--json]`. */
export function registerStatus(program: Command): void {
  addCommonOptions(program.command('status'))
    .argument('[environment]', 'one environment (default: every environment recorded for the repository)')
    .option('--json', 'print one JSON document and nothing else on stdout')
    .description('show the recorded state of every node')
    .action(async (environment: string | undefined, opts: CommonOptions) => {
      const repository = repositoryId(opts.dir);
      const opened = await openStore({ databaseUrl: opts.databaseUrl ?? readCliEnv().databaseUrl, log: stderrLog });
      try {
        const report = await statusReport(opened.store, repository, environment);
        if (opts.json) {
          const doc =
            environment !== undefined
              ? { repository, ...toJson(report[0]) }
              : { repository, environments: report.map(toJson) };
          process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
        } else if (report.length === 0) {
          process.stdout.write(`Nothing recorded yet for ${repository}: no apply has run.\n`);
        } else {
          process.stdout.write(report.map(renderStatus).join('\n'));
          if (environment !== undefined && report[0].updatedAt === null) {
            const known = (await opened.store.environments(repository)).map((e) => e.environment);
            if (known.length) process.stdout.write(`Environments with recorded state: ${known.join(', ')}\n`);
          }
        }
      } finally {
        await opened.close();
      }
    });
}
