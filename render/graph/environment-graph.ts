/**
 * The dependency graph of one environment, ready to draw: nodes (boxes), the groups they sit in (clusters) and the
 * dependencies between them (edges from what is waited for to what waits). Pure.
 */
import type { DependencyState, LifecycleState, ResolvedEnvironment } from '../../kernel/types.js';
import { reduceTransitiveEdges } from './reduce-edges.js';

export interface GraphNode {
  /** The node's path, its identity. */
  path: string;
  /** What the box says: the last path segment (the cluster names the rest). */
  label: string;
  host: string | null;
  /** Path of the innermost group it belongs to, null at the root. */
  cluster: string | null;
  /** Recorded lifecycle state, when known. */
  state?: LifecycleState;
}

export interface GraphEdge {
  /** The node waited for. */
  from: string;
  /** The node that waits. */
  to: string;
  /** The state waited for. */
  state: DependencyState;
}

export interface GraphCluster {
  path: string;
  label: string;
  /** The enclosing group, null at the root. */
  parent: string | null;
}

export interface EnvironmentGraph {
  environment: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
  clusters: GraphCluster[];
  /** Edges left out because another path of `ready` dependencies already implies them. */
  reducedEdges: number;
  /** Whether node states are known (the graph is coloured). */
  coloured: boolean;
}

export interface GraphOptions {
  /** Recorded states by node path; nodes absent from a given map are `defined`. */
  states?: Map<string, LifecycleState>;
  /** Leave out redundant transitive `ready` edges (default true). */
  reduce?: boolean;
}

const parentOf = (path: string): string | null => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : null);
const lastSegment = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

function hostOf(binding: ResolvedEnvironment['nodes'][number]['host'], recordedHost?: string | null): string | null {
  if (binding.kind === 'static') return binding.address;
  if (binding.kind === 'local') return 'local';
  return recordedHost ?? null;
}

/** Builds the drawable graph of an environment (edges deduplicated; transitive ones reduced unless asked not to). */
export function buildEnvironmentGraph(env: ResolvedEnvironment, opts: GraphOptions = {}): EnvironmentGraph {
  const groups = new Set(env.groups);
  const clusters: GraphCluster[] = env.groups.map((g) => ({ path: g, label: lastSegment(g), parent: parentOf(g) }));
  const nodes: GraphNode[] = env.nodes.map((n) => {
    const parent = parentOf(n.path);
    return {
      path: n.path,
      label: lastSegment(n.path),
      host: hostOf(n.host),
      cluster: parent !== null && groups.has(parent) ? parent : null,
      ...(opts.states ? { state: opts.states.get(n.path) ?? 'defined' } : {}),
    };
  });
  const known = new Set(env.nodes.map((n) => n.path));
  const byKey = new Map<string, GraphEdge>();
  for (const n of env.nodes) {
    for (const d of n.dependsOn) {
      if (!known.has(d.path) || d.path === n.path) continue;
      const key = `${d.path}\0${n.path}`;
      const had = byKey.get(key);
      // One edge per pair; waiting for `ready` is the stronger condition and wins.
      if (!had || (had.state === 'provisioned' && d.state === 'ready'))
        byKey.set(key, { from: d.path, to: n.path, state: d.state });
    }
  }
  let edges = [...byKey.values()];
  let reducedEdges = 0;
  if (opts.reduce !== false) {
    const kept = reduceTransitiveEdges(edges);
    reducedEdges = edges.length - kept.length;
    edges = kept;
  }
  return { environment: env.name, nodes, edges, clusters, reducedEdges, coloured: opts.states !== undefined };
}

/**
 * A graph from recorded nodes only (when the description is not at hand): boxes grouped by their path's parent,
 * coloured by state, with no dependency edges.
 */
export function recordedGraph(
  environment: string,
  recorded: { path: string; host: string | null; state: LifecycleState }[],
): EnvironmentGraph {
  const clusterPaths = new Set<string>();
  for (const n of recorded) {
    for (let p = parentOf(n.path); p !== null; p = parentOf(p)) clusterPaths.add(p);
  }
  const clusters = [...clusterPaths].sort().map((p) => ({ path: p, label: lastSegment(p), parent: parentOf(p) }));
  const nodes = recorded.map((n) => ({
    path: n.path,
    label: lastSegment(n.path),
    host: n.host,
    cluster: parentOf(n.path),
    state: n.state,
  }));
  return { environment, nodes, edges: [], clusters, reducedEdges: 0, coloured: true };
}
