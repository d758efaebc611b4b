/**
 * `politburo graph ENV [--format dot|mermaid|svg]`: the environment's dependency graph on stdout, coloured by recorded
 * state when a database is configured (or `--state` asks for one, embedded included); never fails for lack of one.
 */
import { Option, type Command } from 'commander';
import { addCommonOptions, readCliEnv, repositoryId, type CommonOptions } from '../common.js';
import { openStore } from '../../store/open-store.js';
import type { LifecycleState, ResolvedEnvironment } from '../../kernel/types.js';
import { buildEnvironmentGraph } from '../../render/graph/environment-graph.js';
import { renderGraph, type GraphFormat } from '../../render/graph/render-graph.js';
import { EXIT_ERROR } from '../common.js';
import { loadOrReport } from './plan.js';
import { selectEnvironment } from '../run-context.js';

/** Above this many nodes the SVG layout takes seconds: say so rather than look hung. */
const SLOW_SVG_NODES = 500;

export interface GraphCommandOptions extends CommonOptions {
  format: GraphFormat;
  /** true: colour by state (starting the embedded database if needed); false: never; undefined: when a URL is set. */
  state?: boolean;
  reduce: boolean;
}

/** Recorded states by path, or undefined when no store is configured or reachable (a warning goes to stderr). */
async function recordedStates(
  root: string,
  env: ResolvedEnvironment,
  opts: GraphCommandOptions,
): Promise<Map<string, LifecycleState> | undefined> {
  if (opts.state === false) return undefined;
  const databaseUrl = opts.databaseUrl ?? readCliEnv().databaseUrl;
  // Starting the embedded PostgreSQL only to colour a drawing is too slow a surprise: only when asked for.
  if (!databaseUrl && opts.state !== true) return undefined;
  try {
    const opened = await openStore({
      databaseUrl,
      log: (m) => process.stderr.isTTY && process.stderr.write(`politburo: ${m}\n`),
    });
    try {
      const nodes = await opened.store.recordedNodes(repositoryId(root), env.name);
      return new Map(nodes.map((n) => [n.path, n.state]));
    } finally {
      await opened.close();
    }
  } catch (err) {
    process.stderr.write(
      `politburo: warning: drawing without states: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    return undefined;
  }
}

export function registerGraph(program: Command): void {
  addCommonOptions(program.command('graph'))
    .argument('<environment>', 'the environment to draw')
    .addOption(new Option('--format <format>', 'output format').choices(['dot', 'mermaid', 'svg']).default('dot'))
    .option('--state', 'colour nodes by recorded state (starts the embedded PostgreSQL when no database URL is set)')
    .option('--no-state', 'never read recorded states')
    .option('--no-reduce', 'draw every dependency edge (by default redundant transitive ones are left out)')
    .description('print the dependency graph of an environment (dot, mermaid or svg) on stdout')
    .action(async (environment: string, opts: GraphCommandOptions) => {
      const description = await loadOrReport(opts);
      if (!description) {
        process.exitCode = EXIT_ERROR;
        return;
      }
      const env = selectEnvironment(description, environment);
      const states = await recordedStates(description.root, env, opts);
      const graph = buildEnvironmentGraph(env, { states, reduce: opts.reduce });
      if (opts.format === 'svg' && graph.nodes.length > SLOW_SVG_NODES) {
        process.stderr.write(
          `politburo: laying out ${graph.nodes.length} nodes takes a while; --format dot is faster for graphs this size\n`,
        );
      }
      process.stdout.write(renderGraph(graph, opts.format));
    });
}
