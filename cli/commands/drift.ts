/** `politburo drift ENV [--heal] [--json]`: exit 0 no drift, 2 drift found, 1 error. */
import type { Command } from 'commander';
import { driftEnvironment } from '../../reconciler/drift-environment.js';
import { renderRunTable, runToJson } from '../../reconciler/progress/render-run.js';
import type { RunResult } from '../../reconciler/types.js';
import { addCommonOptions, EXIT_CHANGES, EXIT_ERROR, EXIT_OK, type CommonOptions } from '../common.js';
import { CliExit, openRunContext } from '../run-context.js';
import { printExit } from './apply.js';

interface DriftOptions extends CommonOptions {
  heal?: boolean;
}

export function registerDrift(program: Command): void {
  addCommonOptions(program.command('drift'))
    .argument('<environment>', 'the environment to check')
    .option('--heal', 'meet the drifted nodes afterwards')
    .option('--json', 'print one JSON document and nothing else on stdout')
    .description('dry-run every applied node on its host and report drift')
    .action(async (environment: string, opts: DriftOptions) => {
      process.exitCode = await runDrift(environment, opts);
    });
}

/** Runs the command; resolves to the exit code. */
export async function runDrift(environment: string, opts: DriftOptions): Promise<number> {
  let ctx;
  try {
    ctx = await openRunContext(opts, environment, 'drift');
  } catch (err) {
    if (err instanceof CliExit) return printExit(err, opts);
    throw err;
  }
  try {
    const result = await driftEnvironment({ ...ctx.input, heal: !!opts.heal });
    ctx.stopProgress();
    process.stdout.write(opts.json ? `${JSON.stringify(runToJson(result), null, 2)}\n` : renderRunTable(result));
    return driftExitCode(result);
  } finally {
    await ctx.close();
  }
}

/** 1 when a node could not be checked (or healed) or the run was interrupted; else 2 when drift was found; else 0. */
export function driftExitCode(r: RunResult): number {
  if (r.status !== 'succeeded') return EXIT_ERROR;
  const found = r.nodes.some((n) => n.state === 'drifted' || n.reason?.startsWith('healed'));
  return found ? EXIT_CHANGES : EXIT_OK;
}
