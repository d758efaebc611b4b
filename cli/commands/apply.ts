/**
 * `politburo apply TARGET [--all] [--concurrency N] [--json]`: exit 0 all ready, 1 anything failed or blocked, 64
 * usage.
 */
import type { Command } from 'commander';
import { applyEnvironment } from '../../reconciler/apply-environment.js';
import { renderRunTable, runToJson } from '../../render/progress/render-run.js';
import { checkTargetPath, parseTarget, type Target } from '../../reconciler/target.js';
import { PolitburoError } from '../../kernel/types.js';
import {
  addDescriptionOptions,
  addHostOptions,
  addJsonOption,
  addStoreOption,
  CliExit,
  EXIT_ERROR,
  EXIT_OK,
  EXIT_USAGE,
  printJson,
  type CommonOptions,
} from '../common.js';
import { openRunContext, type RunContext } from '../run-context.js';

interface ApplyOptions extends CommonOptions {
  all?: boolean;
  concurrency?: string;
}

export function registerApply(program: Command): void {
  const cmd = program
    .command('apply')
    .argument(
      '<target>',
      "ENV[:PATH][#STATE], e.g. 'production:database/master#ready'; STATE provisioned, ready or terminated",
    );
  addJsonOption(addHostOptions(addStoreOption(addDescriptionOptions(cmd))))
    .option('--all', 'work on every node in scope, not only those the plan changes')
    .option('--concurrency <n>', "hosts worked on at once (default: the environment's defaults.concurrency)")
    .description('apply an environment: provision, configure and terminate nodes in dependency order')
    .action(async (targetText: string, opts: ApplyOptions) => {
      process.exitCode = await runApply(targetText, opts);
    });
}

const USAGE = 'usage: politburo apply TARGET [--all] [--concurrency N] [--json]';

/** Runs the command; resolves to the exit code. */
async function runApply(targetText: string, opts: ApplyOptions): Promise<number> {
  let target: Target;
  let concurrency: number | undefined;
  try {
    target = parseTarget(targetText);
    concurrency = parseConcurrency(opts.concurrency);
  } catch (err) {
    process.stderr.write(`politburo apply: ${(err as Error).message}\n${USAGE}\n`);
    throw new CliExit(EXIT_USAGE, (err as Error).message, 'usage', {}, true);
  }
  const ctx = await openRunContext(opts, target.environment, 'apply');
  try {
    // A target naming nothing is a usage error: found before the engine records a run (or an environment).
    const usage = await targetProblem(ctx, target);
    if (usage) {
      process.stderr.write(`politburo apply: ${usage}\n${USAGE}\n`);
      throw new CliExit(EXIT_USAGE, usage, 'usage', {}, true);
    }
    const result = await applyEnvironment({ ...ctx.input, target, all: opts.all, concurrency });
    ctx.stopProgress();
    if (opts.json) printJson(runToJson(result));
    else process.stdout.write(renderRunTable(result));
    return result.status === 'succeeded' ? EXIT_OK : EXIT_ERROR;
  } catch (err) {
    ctx.stopProgress();
    if (err instanceof PolitburoError && err.reason === 'InvalidSpec') {
      process.stderr.write(`politburo apply: ${err.message}\n`);
      throw new CliExit(EXIT_USAGE, err.message, 'usage', {}, true);
    }
    throw err;
  } finally {
    await ctx.close();
  }
}

/**
 * Why the target's path names no node of its environment (described, or recorded and so still terminable), or null.
 * The recorded nodes are read only when the description has no such node.
 */
async function targetProblem(ctx: RunContext, target: Target): Promise<string | null> {
  const described = ctx.description.environments.get(target.environment)?.nodes.map((n) => n.path) ?? [];
  try {
    checkTargetPath(target, described);
    return null;
  } catch {
    const recorded = await ctx.input.store.recordedNodes(ctx.input.repository, target.environment);
    try {
      checkTargetPath(target, [...described, ...recorded.map((n) => n.path)]);
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  }
}

function parseConcurrency(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--concurrency must be a positive integer, got '${text}'`);
  return n;
}
