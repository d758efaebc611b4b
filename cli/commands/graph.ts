/**
 * `politburo graph ENV [--format dot|mermaid|svg] [--json]`: the environment's dependency graph on stdout, coloured by
 * recorded state when a database is configured (or `--state` asks for one, embedded included); never fails for lack
 * of one. `--json` prints the graph's nodes, edges and groups as one JSON document instead of a drawing.
 */
import { Option, type Command } from 'commander';
import {
  addDescriptionOptions,
  addJsonOption,
  addStoreOption,
  printJson,
  readCliEnv,
  repositoryId,
  selectEnvironment,
  type DescriptionOptions,
  type JsonOption,
  type StoreOptions,
} from '../common.js';
import { openStore } from '../../store/open-store.js';
import type { LifecycleState, ResolvedEnvironment } from '../../kernel/types.js';
import { buildEnvironmentGraph, type EnvironmentGraph } from '../../render/graph/environment-graph.js';
import { renderGraph, type GraphFormat } from '../../render/graph/render-graph.js';
import { loadOrReport } from './plan.js';

/** Above this many nodes the SVG layout takes seconds: say so rather than look hung. */
const SLOW_SVG_NODES = 500;

export interface GraphCommandOptions extends DescriptionOptions, StoreOptions, JsonOption {
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

/** The graph as data: what `--json` prints. */
function graphJson(graph: EnvironmentGraph): object {
  return {
    environment: graph.environment,
    coloured: graph.coloured,
    nodes: graph.nodes.map((n) => ({ path: n.path, host: n.host, group: n.cluster, state: n.state ?? null })),
    edges: graph.edges.map((e) => ({ from: e.from, to: e.to, state: e.state })),
    groups: graph.clusters.map((c) => ({ path: c.path, parent: c.parent })),
    reducedEdges: graph.reducedEdges,
  };
}

export function registerGraph(program: Command): void {
  const cmd = program.command('graph').argument('<environment>', 'the environment to draw');
  addJsonOption(addStoreOption(addDescriptionOptions(cmd)))
    .addOption(new Option('--format <format>', 'output format').choices(['dot', 'mermaid', 'svg']).default('dot'))
    .option('--state', 'colour nodes by recorded state (starts the embedded PostgreSQL when no database URL is set)')
    .option('--no-state', 'never read recorded states')
    .option('--no-reduce', 'draw every dependency edge (by default redundant transitive ones are left out)')
    .description(
      'print the dependency graph of an environment (dot, mermaid or svg; nodes and edges as JSON with --json) on stdout',
    )
    .action(async (environment: string, opts: GraphCommandOptions) => {
      const description = await loadOrReport(opts);
      const env = selectEnvironment(description, environment);
      const states = await recordedStates(description.root, env, opts);
      const graph = buildEnvironmentGraph(env, { states, reduce: opts.reduce });
      if (opts.json) {
        printJson(graphJson(graph));
        return;
      }
      if (opts.format === 'svg' && graph.nodes.length > SLOW_SVG_NODES) {
        process.stderr.write(
          `politburo: laying out ${graph.nodes.length} nodes takes a while; --format dot is faster for graphs this size\n`,
        );
      }
      process.stdout.write(renderGraph(graph, opts.format));
    });
}
