/** Which nodes and sub-clusters each cluster holds, for renderers that nest clusters (dot, mermaid). */
import type { EnvironmentGraph, GraphCluster, GraphNode } from './environment-graph.js';

export interface ClusterContents {
  clusters: GraphCluster[];
  nodes: GraphNode[];
}

/** Contents by cluster path; the key null is the root. Empty clusters (e.g. `count: 0` groups) are left out. */
export function clusterTree(graph: EnvironmentGraph): Map<string | null, ClusterContents> {
  const tree = new Map<string | null, ClusterContents>();
  const at = (key: string | null): ClusterContents => {
    let c = tree.get(key);
    if (!c) tree.set(key, (c = { clusters: [], nodes: [] }));
    return c;
  };
  at(null);
  for (const n of graph.nodes) at(n.cluster).nodes.push(n);
  const nonEmpty = new Set<string>();
  for (const n of graph.nodes) {
    for (let p = n.cluster; p !== null; p = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : null) nonEmpty.add(p);
  }
  for (const c of graph.clusters) if (nonEmpty.has(c.path)) at(c.parent).clusters.push(c);
  return tree;
}
