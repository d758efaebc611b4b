/** Mermaid flowchart of an environment graph: `subgraph` per group, edges from dependency to dependent. */
import type { EnvironmentGraph, GraphNode } from './environment-graph.js';
import { clusterTree } from './cluster-tree.js';
import { STATE_COLOURS } from './state-colours.js';

/**
 * Text fit for a quoted Mermaid label: quotes, markup characters, `%` (`%%` starts comments and directives), backticks
 * (markdown strings), `:` (Mermaid's style pre-pass looks for `style…:…#…;`) and line breaks as entity codes.
 */
export function mermaidText(s: string): string {
  return s.replace(/[&"<>#%`:\r\n]/g, (c) => `#${c.charCodeAt(0)};`);
}

/**
 * The `flowchart LR` header, a `subgraph` per group and one box per node labelled by `label` (already escaped), in
 * group order; `onNode` sees each node with its id in that order. Ids are generated (`n0`, `g0`), so names never
 * reach Mermaid's syntax.
 */
export function mermaidBoxes(
  graph: EnvironmentGraph,
  label: (n: GraphNode) => string,
  onNode?: (n: GraphNode, id: string) => void,
): { lines: string[]; ids: Map<string, string> } {
  const ids = new Map(graph.nodes.map((n, i) => [n.path, `n${i}`]));
  const clusterIds = new Map(graph.clusters.map((c, i) => [c.path, `g${i}`]));
  const tree = clusterTree(graph);
  const lines = ['flowchart LR'];
  const emit = (key: string | null, indent: string): void => {
    const contents = tree.get(key);
    if (!contents) return;
    for (const c of contents.clusters) {
      lines.push(`${indent}subgraph ${clusterIds.get(c.path)}["${mermaidText(c.label)}"]`);
      emit(c.path, `${indent}  `);
      lines.push(`${indent}end`);
    }
    for (const n of contents.nodes) {
      lines.push(`${indent}${ids.get(n.path)}["${label(n)}"]`);
      onNode?.(n, ids.get(n.path)!);
    }
  };
  emit(null, '  ');
  return { lines, ids };
}

/** Renders the graph as a Mermaid `flowchart LR`. */
export function renderMermaid(graph: EnvironmentGraph): string {
  const { lines, ids } = mermaidBoxes(
    graph,
    (n) => `${mermaidText(n.label)}<br/>${mermaidText(n.host ?? '(on demand)')}`,
  );
  for (const e of graph.edges) {
    const arrow = e.state === 'provisioned' ? ' -. provisioned .-> ' : ' --> ';
    lines.push(`  ${ids.get(e.from)}${arrow}${ids.get(e.to)}`);
  }
  if (graph.coloured) {
    const used = [...new Set(graph.nodes.map((n) => n.state!))];
    for (const s of used) lines.push(`  classDef ${s} fill:${STATE_COLOURS[s].fill},stroke:${STATE_COLOURS[s].stroke}`);
    for (const s of used) {
      lines.push(
        `  class ${graph.nodes
          .filter((n) => n.state === s)
          .map((n) => ids.get(n.path))
          .join(',')} ${s}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
