/**
 * `politburo drift ENV [--heal] [--json]`: exit 0 no drift, 2 drift found, 1 error (or a node that could not be
 * checked).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { driftEnvironment, type DescriptionAt } from '../../reconciler/drift-environment.js';
import { renderRunTable, runToJson } from '../../render/progress/render-run.js';
import type { RunResult } from '../../kernel/types.js';
import { formatValidationError, loadDescription } from '../../schema/load-description.js';
import {
  addDescriptionOptions,
  addHostOptions,
  addJsonOption,
  addStoreOption,
  EXIT_CHANGES,
  EXIT_ERROR,
  EXIT_OK,
  printJson,
  readCliEnv,
  type CommonOptions,
} from '../common.js';
import { openRunContext } from '../run-context.js';

const exec = promisify(execFile);

interface DriftOptions extends CommonOptions {
  heal?: boolean;
}

export function registerDrift(program: Command): void {
  const cmd = program.command('drift').argument('<environment>', 'the environment to check');
  addJsonOption(addHostOptions(addStoreOption(addDescriptionOptions(cmd))))
    .option('--heal', 'meet the drifted nodes afterwards')
    .description('dry-run every applied node on its host, as applied, and report drift (exit 0 none, 2 drift, 1 error)')
    .action(async (environment: string, opts: DriftOptions) => {
      process.exitCode = await runDrift(environment, opts);
    });
}

/** Runs the command; resolves to the exit code. */
async function runDrift(environment: string, opts: DriftOptions): Promise<number> {
  const ctx = await openRunContext(opts, environment, 'drift');
  const commits = gitCommitReader(opts);
  try {
    const result = await driftEnvironment({
      ...ctx.input,
      heal: !!opts.heal,
      ...(ctx.input.commit ? { descriptionAt: commits.descriptionAt } : {}),
    });
    ctx.stopProgress();
    if (opts.json) printJson(driftJson(result));
    else process.stdout.write(renderDrift(result));
    return driftExitCode(result);
  } finally {
    await commits.close();
    await ctx.close();
  }
}

/** The run document, with the commit each node was checked at and the nodes that could not be checked. */
function driftJson(r: RunResult): object {
  const doc = runToJson(r) as { nodes: object[] };
  const nodes = doc.nodes.map((n, i) => ({ ...n, commit: r.nodes[i].commit ?? null }));
  return { ...doc, nodes, unchecked: r.unchecked ?? [] };
}

/** The run table, then every node that could not be checked and why (a drift check with any is not "no drift"). */
function renderDrift(r: RunResult): string {
  const unchecked = r.unchecked ?? [];
  if (!unchecked.length) return renderRunTable(r);
  const table = r.nodes.length
    ? renderRunTable(r)
    : `drift ${r.environment} ${r.status}: no node could be checked${r.runId ? ` (run ${r.runId})` : ''}\n`;
  const width = Math.max(...unchecked.map((u) => u.path.length));
  const lines = unchecked.map((u) => `  ${u.path.padEnd(width)}  ${u.host ?? '-'}  ${u.reason}`);
  return `${table}Not checked (${unchecked.length}):\n${lines.join('\n')}\n`;
}

/** 1 when a node could not be checked (or healed) or the run was interrupted; else 2 when drift was found; else 0. */
function driftExitCode(r: RunResult): number {
  if (r.status !== 'succeeded' || r.unchecked?.length) return EXIT_ERROR;
  const found = r.nodes.some((n) => n.state === 'drifted' || n.reason?.startsWith('healed'));
  return found ? EXIT_CHANGES : EXIT_OK;
}

/**
 * Descriptions at other commits of the checkout's git repository (nodes last applied from them are checked as they
 * were applied), each read into a temporary directory through a private index; the checkout itself is not touched.
 */
function gitCommitReader(opts: Pick<CommonOptions, 'dir' | 'file'>): {
  descriptionAt: DescriptionAt;
  close(): Promise<void>;
} {
  const dirs: string[] = [];
  const git = async (args: string[], env: Record<string, string> = {}) =>
    (
      await exec('git', ['-C', path.resolve(opts.dir), ...args], {
        env: { ...process.env, ...env },
        maxBuffer: 16 * 1024 * 1024,
      })
    ).stdout.trim();
  const descriptionAt: DescriptionAt = async (commit) => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'politburo-drift-'));
    dirs.push(tmp);
    const tree = path.join(tmp, 'tree');
    await mkdir(tree);
    const env = { GIT_INDEX_FILE: path.join(tmp, 'index') };
    try {
      const prefix = await git(['rev-parse', '--show-prefix']);
      await git(['read-tree', `${commit}^{commit}`], env);
      await git([`--work-tree=${tree}`, 'checkout-index', '--all', '--force'], env);
      const loaded = await loadDescription({ dir: path.join(tree, prefix), file: opts.file ?? readCliEnv().file });
      if (!loaded.ok)
        throw new Error(`it is invalid: ${loaded.errors.slice(0, 3).map(formatValidationError).join('; ')}`);
      return loaded.description;
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      throw new Error(
        /not a valid|bad object|unknown revision|fatal:/i.test(text)
          ? `commit ${commit.slice(0, 7)} is not in this repository`
          : text.split('\n')[0],
      );
    }
  };
  return {
    descriptionAt,
    close: async () => void (await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))),
  };
}
