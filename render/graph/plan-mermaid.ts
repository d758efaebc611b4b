/**
 * The part of an environment's dependency graph a plan touches, as a Mermaid flowchart for the pull request comment
 * (docs/controller.md, "A pull request: plans"): boxes coloured and labelled by plan action, grouped by path. Pure.
 *
 * Affected part: every node the plan creates, updates or terminates, plus its direct dependencies (what it waits
 * for) and direct dependents (what waits for it), with the dependency edges between those nodes. A node to terminate
 * is no longer described, so its dependencies are unknown and it is drawn without edges.
 */
import type { PlanAction, Plan } from '../../kernel/types.js';
import type { EnvironmentGraph, GraphCluster, GraphEdge, GraphNode } from './environment-graph.js';
import { reduceTransitiveEdges } from './reduce-edges.js';
import { mermaidBoxes, mermaidText } from './render-mermaid.js';

/** The affected part of a plan's graph, with each node's action. */
export interface PlanGraph {
  graph: EnvironmentGraph;
  actions: Map<string, PlanAction>;
  /** How many of the nodes the plan changes (create, update or terminate). */
  changed: number;
}

/** Fill and border per plan action (and `mixed` for a group box whose nodes differ). */
export const ACTION_COLOURS: Record<PlanAction | 'mixed', { fill: string; stroke: string; dash?: boolean }> = {
  create: { fill: '#dcfce7', stroke: '#15803d' },
  update: { fill: '#fef9c3', stroke: '#a16207' },
  terminate: { fill: '#fee2e2', stroke: '#b91c1c' },
  unchanged: { fill: '#f3f4f6', stroke: '#9ca3af', dash: true },
  mixed: { fill: '#ffffff', stroke: '#374151' },
};

const ACTION_ORDER: PlanAction[] = ['create', 'update', 'terminate', 'unchanged'];

const parentOf = (path: string): string | null => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : null);
const lastSegment = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

/** Builds the affected part of the plan's graph (see module comment). Edges are not reduced here. */
export function affectedPlanGraph(plan: Plan): PlanGraph {
  const byPath = new Map(plan.nodes.map((n) => [n.path, n]));
  const edgeByKey = new Map<string, GraphEdge>();
  for (const n of plan.nodes) {
    for (const d of n.node?.dependsOn ?? []) {
      if (!byPath.has(d.path) || d.path === n.path) continue;
      const key = `${d.path}\0${n.path}`;
      const had = edgeByKey.get(key);
      // One edge per pair; waiting for `ready` is the stronger condition and wins.
      if (!had || (had.state === 'provisioned' && d.state === 'ready'))
        edgeByKey.set(key, { from: d.path, to: n.path, state: d.state });
    }
  }
  const changedPaths = new Set(plan.nodes.filter((n) => n.action !== 'unchanged').map((n) => n.path));
  const affected = new Set(changedPaths);
  for (const e of edgeByKey.values()) {
    if (changedPaths.has(e.to)) affected.add(e.from);
    if (changedPaths.has(e.from)) affected.add(e.to);
  }
  const clusterPaths = new Set<string>();
  const nodes: GraphNode[] = [];
  const actions = new Map<string, PlanAction>();
  for (const n of plan.nodes) {
    if (!affected.has(n.path)) continue;
    for (let p = parentOf(n.path); p !== null; p = parentOf(p)) clusterPaths.add(p);
    nodes.push({ path: n.path, label: lastSegment(n.path), host: n.host, cluster: parentOf(n.path) });
    actions.set(n.path, n.action);
  }
  const clusters: GraphCluster[] = [...clusterPaths]
    .sort()
    .map((p) => ({ path: p, label: lastSegment(p), parent: parentOf(p) }));
  const edges = [...edgeByKey.values()].filter((e) => affected.has(e.from) && affected.has(e.to));
  return {
    graph: { environment: plan.environment, nodes, edges, clusters, reducedEdges: 0, coloured: false },
    actions,
    changed: changedPaths.size,
  };
}

export interface PlanMermaidLimits {
  /** At most this many boxes are drawn; beyond, nodes are grouped by path prefix. */
  maxBoxes: number;
  /** At most this many arrows (Mermaid refuses more than 500 by default). */
  maxEdges: number;
  /** The flowchart text may not be longer than this. */
  maxChars: number;
}

export interface PlanMermaid {
  /** The flowchart (no fence). */
  text: string;
  /** Boxes drawn. */
  boxes: number;
  /** Null when every node has its own box; else how many path segments name a group box. */
  groupedAt: number | null;
  /** Redundant transitive `ready` edges left out. */
  reducedEdges: number;
}

/**
 * Draws the plan graph node by node when it fits the limits, else grouped by ever shorter path prefixes (one box per
 * group, counting its nodes per action); null when even one box per top-level group does not fit.
 */
export function renderPlanMermaid(pg: PlanGraph, limits: PlanMermaidLimits): PlanMermaid | null {
  const { graph } = pg;
  if (graph.nodes.length <= limits.maxBoxes) {
    const edges = reduceTransitiveEdges(graph.edges);
    if (edges.length <= limits.maxEdges) {
      const text = renderNodes(pg, edges);
      if (text.length <= limits.maxChars)
        return { text, boxes: graph.nodes.length, groupedAt: null, reducedEdges: graph.edges.length - edges.length };
    }
  }
  const deepest = Math.max(0, ...graph.nodes.map((n) => n.path.split('/').length - 1));
  for (let depth = deepest; depth >= 1; depth--) {
    const keyOf = (path: string): string => {
      const segments = path.split('/');
      return segments.length > depth ? `g:${segments.slice(0, depth).join('/')}` : `n:${path}`;
    };
    const boxes = new Set(graph.nodes.map((n) => keyOf(n.path)));
    if (boxes.size > limits.maxBoxes) continue;
    const byKey = new Map<string, GraphEdge>();
    for (const e of graph.edges) {
      const from = keyOf(e.from);
      const to = keyOf(e.to);
      if (from === to) continue;
      const had = byKey.get(`${from}\0${to}`);
      if (!had || (had.state === 'provisioned' && e.state === 'ready'))
        byKey.set(`${from}\0${to}`, { from, to, state: e.state });
    }
    const all = [...byKey.values()];
    const edges = reduceTransitiveEdges(all);
    if (edges.length > limits.maxEdges) continue;
    const text = renderGroups(pg, keyOf, edges);
    if (text.length <= limits.maxChars)
      return { text, boxes: boxes.size, groupedAt: depth, reducedEdges: all.length - edges.length };
  }
  return null;
}

function nodeLabel(n: GraphNode, action: PlanAction): string {
  return `${mermaidText(n.label)}<br/>${mermaidText(n.host ?? 'to be provisioned')}<br/>${action}`;
}

function edgeLine(from: string, to: string, state: GraphEdge['state']): string {
  return `  ${from}${state === 'provisioned' ? ' -. provisioned .-> ' : ' --> '}${to}`;
}

function classLines(members: Map<PlanAction | 'mixed', string[]>): string[] {
  const lines: string[] = [];
  for (const a of [...ACTION_ORDER, 'mixed'] as const) {
    const ids = members.get(a);
    if (!ids?.length) continue;
    const c = ACTION_COLOURS[a];
    lines.push(
      `  classDef ${a} fill:${c.fill},stroke:${c.stroke},color:#111827${c.dash ? ',stroke-dasharray:4 3' : ''}`,
    );
    lines.push(`  class ${ids.join(',')} ${a}`);
  }
  return lines;
}

/** One box per node, inside a subgraph per path prefix. */
function renderNodes(pg: PlanGraph, edges: GraphEdge[]): string {
  const members = new Map<PlanAction | 'mixed', string[]>();
  const { lines, ids } = mermaidBoxes(
    pg.graph,
    (n) => nodeLabel(n, pg.actions.get(n.path)!),
    (n, id) => {
      const action = pg.actions.get(n.path)!;
      const list = members.get(action);
      if (list) list.push(id);
      else members.set(action, [id]);
    },
  );
  for (const e of edges) lines.push(edgeLine(ids.get(e.from)!, ids.get(e.to)!, e.state));
  lines.push(...classLines(members));
  return lines.join('\n');
}

/** One box per group key (`g:PREFIX`) or single node (`n:PATH`), labelled with its counts per action. */
function renderGroups(pg: PlanGraph, keyOf: (path: string) => string, edges: GraphEdge[]): string {
  const groups = new Map<string, GraphNode[]>();
  for (const n of pg.graph.nodes) {
    const k = keyOf(n.path);
    const list = groups.get(k);
    if (list) list.push(n);
    else groups.set(k, [n]);
  }
  const ids = new Map([...groups.keys()].map((k, i) => [k, `b${i}`]));
  const members = new Map<PlanAction | 'mixed', string[]>();
  const lines = ['flowchart LR'];
  for (const [k, list] of groups) {
    const id = ids.get(k)!;
    const counts = new Map<PlanAction, number>();
    for (const n of list) counts.set(pg.actions.get(n.path)!, (counts.get(pg.actions.get(n.path)!) ?? 0) + 1);
    let label: string;
    let cls: PlanAction | 'mixed';
    if (k.startsWith('n:')) {
      cls = pg.actions.get(list[0].path)!;
      label = nodeLabel({ ...list[0], label: list[0].path }, cls);
    } else {
      cls = counts.size === 1 ? [...counts.keys()][0] : 'mixed';
      const what = ACTION_ORDER.filter((a) => counts.has(a))
        .map((a) => `${counts.get(a)!.toLocaleString('en-US')} ${a}`)
        .join(', ');
      label = `${mermaidText(`${k.slice(2)}/…`)}<br/>${list.length.toLocaleString('en-US')} node${list.length === 1 ? '' : 's'}<br/>${what}`;
    }
    lines.push(`  ${id}["${label}"]`);
    const m = members.get(cls);
    if (m) m.push(id);
    else members.set(cls, [id]);
  }
  for (const e of edges) lines.push(edgeLine(ids.get(e.from)!, ids.get(e.to)!, e.state));
  lines.push(...classLines(members));
  return lines.join('\n');
}
