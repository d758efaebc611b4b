/** `politburo status [ENV] [--json]`: the recorded state of every node (what the last runs left), no host contacted. */
import { alignTable } from '../render/align-table.js';
import type { Command } from 'commander';
import {
  addDescriptionOptions,
  addJsonOption,
  addStoreOption,
  printJson,
  readCliEnv,
  repositoryId,
  unknownEnvironment,
  type DescriptionOptions,
  type JsonOption,
  type StoreOptions,
} from '../common.js';
import { loadDescription } from '../../schema/load-description.js';
import type { StateStore } from '../../kernel/types.js';
import { openStore } from '../../store/open-store.js';
import { statusReport, type EnvironmentStatus } from '../../reconciler/status-report.js';
import { stderrLog } from './migrate.js';

const short = (commit: string | null): string => (commit ? commit.slice(0, 7) : '-');

/** "5 nodes: 4 ready, 1 failed". */
function countsLine(s: EnvironmentStatus): string {
  const total = s.nodes.length;
  const parts = Object.entries(s.summary)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${n} ${state}`);
  return `${total} node${total === 1 ? '' : 's'}${parts.length ? `: ${parts.join(', ')}` : ''}`;
}

/** Human rendering of one environment's status. */
function renderStatus(s: EnvironmentStatus): string {
  const head = `${s.environment}  (last applied ${short(s.lastAppliedCommit)}${s.updatedAt ? `, updated ${s.updatedAt}` : ''})`;
  if (s.nodes.length === 0) return `${s.environment}: nothing recorded yet (no apply has run)\n`;
  const rows = [['PATH', 'HOST', 'STATE', 'COMMIT', 'RUN', 'REASON']];
  for (const n of s.nodes) {
    // Reasons can hold a failing task's output: first line only, the full text is in the run's log.
    const reason = (n.reason ?? '').split('\n')[0].slice(0, 120);
    rows.push([n.path, n.host ?? '-', n.state, short(n.lastAppliedCommit), n.lastRunId ?? '-', reason]);
  }
  return `${head}\n${alignTable(rows)}\n${countsLine(s)}\n`;
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

type StatusOptions = DescriptionOptions & StoreOptions & JsonOption;

/**
 * Throws the unknown-environment error (exit 1, as in every command) when `environment` is neither recorded for the
 * repository nor defined by its description (read when it can be; an invalid or absent one defines nothing).
 */
async function checkEnvironment(
  environment: string,
  opts: StatusOptions,
  store: StateStore,
  repository: string,
): Promise<void> {
  const recorded = (await store.environments(repository)).map((e) => e.environment);
  if (recorded.includes(environment)) return;
  const loaded = await loadDescription({ dir: opts.dir, file: opts.file ?? readCliEnv().file }).catch(() => null);
  const described = loaded?.ok ? [...loaded.description.environments.keys()] : [];
  if (described.includes(environment)) return;
  throw unknownEnvironment(environment, [...new Set([...described, ...recorded])]);
}

/** Adds `politburo status [ENV] [--json]`. */
export function registerStatus(program: Command): void {
  const cmd = program
    .command('status')
    .argument('[environment]', 'one environment (default: every environment recorded for the repository)');
  addJsonOption(addStoreOption(addDescriptionOptions(cmd)))
    .description('show the recorded state of every node')
    .action(async (environment: string | undefined, opts: StatusOptions) => {
      const repository = repositoryId(opts.dir);
      const opened = await openStore({ databaseUrl: opts.databaseUrl ?? readCliEnv().databaseUrl, log: stderrLog });
      try {
        if (environment !== undefined) await checkEnvironment(environment, opts, opened.store, repository);
        const report = await statusReport(opened.store, repository, environment);
        if (opts.json) {
          printJson(
            environment !== undefined
              ? { repository, ...toJson(report[0]) }
              : { repository, environments: report.map(toJson) },
          );
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
