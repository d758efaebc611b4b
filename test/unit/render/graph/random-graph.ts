// Seeded random environment graphs for the layout's tests and its benchmark (bench/graph/layout.ts).
import type { LifecycleState } from '../../../../kernel/types.js';
import type { EnvironmentGraph, GraphEdge } from '../../../../render/graph/environment-graph.js';
import { reduceTransitiveEdges } from '../../../../render/graph/reduce-edges.js';

/** A seeded pseudo-random generator (mulberry32): the same graphs every run. */
export function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random DAG of n nodes: some in groups (nested), each depending on up to 3 earlier nodes. */
export function randomGraph(n: number, seed: number): EnvironmentGraph {
  const rnd = random(seed);
  const clusters = [
    { path: 'g1', label: 'g1', parent: null },
    { path: 'g1/inner', label: 'inner', parent: 'g1' },
    { path: 'g2', label: 'g2', parent: null },
  ];
  const cls = [null, null, null, 'g1', 'g1/inner', 'g2'];
  const nodes = Array.from({ length: n }, (_, i) => {
    const cluster = cls[Math.floor(rnd() * cls.length)];
    const name = `node-${i}${'x'.repeat(Math.floor(rnd() * 8))}`;
    return {
      path: cluster ? `${cluster}/${name}` : name,
      label: name,
      host: rnd() < 0.2 ? null : `10.0.${Math.floor(i / 250)}.${i % 250}`,
      cluster,
      state: (['ready', 'failed', 'defined'] as LifecycleState[])[i % 3],
    };
  });
  const edges: GraphEdge[] = [];
  const seen = new Set<string>();
  for (let i = 1; i < n; i++) {
    const k = Math.floor(rnd() * 4);
    for (let j = 0; j < k; j++) {
      const from = Math.floor(rnd() * i);
      const key = `${from}-${i}`;
      if (seen.has(key)) continue;
      seen.add(key);
      edges.push({ from: nodes[from].path, to: nodes[i].path, state: rnd() < 0.15 ? 'provisioned' : 'ready' });
    }
  }
  return { environment: `random-${n}`, nodes, edges, clusters, reducedEdges: 0, coloured: true };
}

/**
 * A random environment shaped like real descriptions: groups of identical nodes (`count`) in a few nested groups,
 * each group waiting for whole earlier groups (`depends_on: [group]`), a few of them for provisioning only; transitive
 * `ready` edges reduced as `politburo graph` does.
 */
export function randomEnvironment(n: number, seed: number): EnvironmentGraph {
  const rnd = random(seed);
  const clusters = [
    { path: 'east', label: 'east', parent: null },
    { path: 'east/db', label: 'db', parent: 'east' },
    { path: 'west', label: 'west', parent: null },
    { path: 'shared', label: 'shared', parent: null },
  ];
  const places = [null, 'east', 'east/db', 'west', 'shared'];
  const groups: { members: string[]; cluster: string | null }[] = [];
  const nodes: EnvironmentGraph['nodes'] = [];
  const edges: GraphEdge[] = [];
  for (let g = 0; nodes.length < n; g++) {
    const size = Math.min(n - nodes.length, 1 + Math.floor(rnd() ** 2 * 14));
    const cluster = places[Math.floor(rnd() * places.length)];
    const members = Array.from({ length: size }, (_, i) => {
      const label = size === 1 ? `role${g}` : `role${g}-${i + 1}`;
      const path = cluster ? `${cluster}/${label}` : label;
      nodes.push({
        path,
        label,
        host: rnd() < 0.1 ? null : `10.1.${g}.${i}`,
        cluster,
        state: 'ready' as LifecycleState,
      });
      return path;
    });
    const deps = groups.length ? Math.floor(rnd() * Math.min(3, groups.length + 1)) : 0;
    const chosen = new Set<number>();
    for (let d = 0; d < deps; d++) chosen.add(Math.floor(rnd() * groups.length));
    for (const d of chosen) {
      const state = rnd() < 0.2 ? 'provisioned' : 'ready';
      for (const to of members) for (const from of groups[d].members) edges.push({ from, to, state });
    }
    groups.push({ members, cluster });
  }
  const kept = reduceTransitiveEdges(edges);
  return {
    environment: `env-${n}`,
    nodes,
    edges: kept,
    clusters,
    reducedEdges: edges.length - kept.length,
    coloured: true,
  };
}
