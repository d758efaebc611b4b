/**
 * Graphviz dot of an environment graph: boxes in `subgraph cluster_…` per group, edges from dependency to dependent.
 */
import type { EnvironmentGraph, GraphNode } from './environment-graph.js';
import { clusterTree } from './cluster-tree.js';
import { STATE_COLOURS, UNKNOWN_COLOURS } from './state-colours.js';

/** A dot double-quoted string. */
function dotString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

function nodeLine(n: GraphNode, indent: string): string {
  const colours = n.state ? STATE_COLOURS[n.state] : UNKNOWN_COLOURS;
  const label = `${n.label}\n${n.host ?? '(on demand)'}${n.state ? `\n${n.state}` : ''}`;
  return `${indent}${dotString(n.path)} [label=${dotString(label)}, tooltip=${dotString(n.path)}, fillcolor=${dotString(colours.fill)}, color=${dotString(colours.stroke)}];`;
}

/** Renders the graph as a dot digraph. */
export function renderDot(graph: EnvironmentGraph): string {
  const tree = clusterTree(graph);
  const lines: string[] = [
    `digraph ${dotString(graph.environment)} {`,
    '  rankdir=LR;',
    `  label=${dotString(`environment ${graph.environment}${graph.reducedEdges ? ` (${graph.reducedEdges} redundant transitive edges omitted)` : ''}`)};`,
    '  labelloc=t;',
    '  node [shape=box, style="rounded,filled", fontname="Helvetica"];',
    '  edge [fontname="Helvetica", fontsize=10];',
  ];
  const emit = (key: string | null, indent: string): void => {
    const contents = tree.get(key);
    if (!contents) return;
    for (const c of contents.clusters) {
      lines.push(`${indent}subgraph ${dotString(`cluster_${c.path}`)} {`);
      lines.push(`${indent}  label=${dotString(c.label)};`);
      lines.push(`${indent}  style="rounded,dashed";`);
      emit(c.path, `${indent}  `);
      lines.push(`${indent}}`);
    }
    for (const n of contents.nodes) lines.push(nodeLine(n, indent));
  };
  emit(null, '  ');
  for (const e of graph.edges) {
    const attrs = e.state === 'provisioned' ? ' [label="provisioned", style=dashed]' : '';
    lines.push(`  ${dotString(e.from)} -> ${dotString(e.to)}${attrs};`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
