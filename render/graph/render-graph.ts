/** One entry point for every graph format. */
import type { EnvironmentGraph } from './environment-graph.js';
import { renderDot } from './render-dot.js';
import { renderMermaid } from './render-mermaid.js';
import { renderSvg, type SvgOptions } from './render-svg.js';

export type GraphFormat = 'dot' | 'mermaid' | 'svg';

/** Renders an environment graph in the given format. */
export function renderGraph(graph: EnvironmentGraph, format: GraphFormat, opts: SvgOptions = {}): string {
  if (format === 'dot') return renderDot(graph);
  if (format === 'mermaid') return renderMermaid(graph);
  return renderSvg(graph, opts);
}
