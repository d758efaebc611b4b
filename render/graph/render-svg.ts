/**
 * SVG of an environment graph, laid out in layers left to right (`layered-layout.ts`: groups as clusters, edges routed
 * between boxes, never through one), with a legend of the states. Each box names its node, its host and, when states
 * are known, its state in words (colour is never the only cue). Self-contained (inline styles, no scripts): the CLI
 * prints it and the dashboard embeds it.
 */
import type { EnvironmentGraph, GraphNode } from './environment-graph.js';
import { layeredLayout, type Box, type Layout } from './layered-layout.js';
import { STATE_COLOURS, STATE_ORDER, UNKNOWN_COLOURS } from './state-colours.js';
import { escapeXml } from './escape-xml.js';

export type { Box } from './layered-layout.js';

export interface SvgOptions {
  /** Makes each node box a link (the dashboard links to node details). */
  nodeHref?: (path: string) => string;
}

const FONT = 12;
const CHAR_WIDTH = 7.2; // average advance of a 12px sans-serif character, to size boxes without measuring text
const NODE_HEIGHT = 42;
const NODE_HEIGHT_WITH_STATE = 56;
const MARGIN = 20;
/** Room for a cluster's title above its contents. */
export const CLUSTER_TITLE = 16;

const textWidth = (s: string): number => s.length * CHAR_WIDTH;
const nodeWidth = (n: GraphNode): number =>
  Math.ceil(Math.max(80, textWidth(n.label) + 24, textWidth(n.host ?? '(on demand)') * 0.9 + 24));

/** Lays the graph out; boxes are given by their top-left corners. */
export function layoutGraph(graph: EnvironmentGraph): Layout {
  const byPath = new Map(graph.nodes.map((n) => [n.path, n]));
  const height = graph.coloured ? NODE_HEIGHT_WITH_STATE : NODE_HEIGHT;
  return layeredLayout(graph, {
    size: (path) => ({ width: nodeWidth(byPath.get(path)!), height }),
    clusterTitle: CLUSTER_TITLE,
    clusterTitleWidth: (path) => textWidth(path) * ((FONT - 1) / FONT),
    margin: MARGIN,
  });
}

const r = (n: number): string => String(Math.round(n * 10) / 10);

function nodeSvg(n: GraphNode, b: Box, opts: SvgOptions): string {
  const c = n.state ? STATE_COLOURS[n.state] : UNKNOWN_COLOURS;
  const title = `${n.path} on ${n.host ?? '(on demand)'}${n.state ? `: ${n.state}` : ''}`;
  const body =
    `<g class="node${n.state ? ` state-${n.state}` : ''}" data-path="${escapeXml(n.path)}"><title>${escapeXml(title)}</title>` +
    `<rect x="${r(b.x)}" y="${r(b.y)}" width="${r(b.width)}" height="${r(b.height)}" rx="6" fill="${c.fill}" stroke="${c.stroke}" stroke-width="1.5"/>` +
    `<text x="${r(b.x + b.width / 2)}" y="${r(b.y + 17)}" text-anchor="middle" font-weight="600">${escapeXml(n.label)}</text>` +
    `<text x="${r(b.x + b.width / 2)}" y="${r(b.y + 33)}" text-anchor="middle" font-size="${FONT - 2}" fill="#374151">${escapeXml(n.host ?? '(on demand)')}</text>` +
    (n.state
      ? `<text class="node-state" x="${r(b.x + b.width / 2)}" y="${r(b.y + 48)}" text-anchor="middle" font-size="${FONT - 2}" font-style="italic" fill="#111827">${n.state}</text>`
      : '') +
    '</g>';
  return opts.nodeHref
    ? `<a href="${escapeXml(opts.nodeHref(n.path))}" aria-label="${escapeXml(title)}">${body}</a>`
    : body;
}

/** The legend under the drawing: a swatch and name per state, wrapped to `maxWidth`, then what an arrow means. */
function legendSvg(
  graph: EnvironmentGraph,
  y: number,
  maxWidth: number,
): { svg: string; width: number; height: number } {
  const parts: string[] = [];
  let x = MARGIN;
  let row = y;
  let widest = 0;
  if (graph.coloured) {
    for (const s of STATE_ORDER) {
      const c = STATE_COLOURS[s];
      const w = 19 + textWidth(s) + 14;
      if (x > MARGIN && x + w > maxWidth - MARGIN) {
        widest = Math.max(widest, x);
        x = MARGIN;
        row += 20;
      }
      parts.push(
        `<rect x="${x}" y="${row}" width="14" height="14" rx="3" fill="${c.fill}" stroke="${c.stroke}"/><text x="${x + 19}" y="${row + 11}">${s}</text>`,
      );
      x += w;
    }
  } else {
    parts.push(
      `<text x="${x}" y="${row + 11}" fill="#4b5563">states unknown (no state store): boxes not coloured</text>`,
    );
    x += textWidth('states unknown (no state store): boxes not coloured') + 14;
  }
  widest = Math.max(widest, x);
  const line2 = row + 26;
  const note = `A → B: B waits for A to be ready; dashed: waits for A provisioned${graph.reducedEdges ? `; ${graph.reducedEdges} redundant transitive edge${graph.reducedEdges === 1 ? '' : 's'} omitted` : ''}`;
  parts.push(`<text x="${MARGIN}" y="${line2 + 11}" fill="#374151">${escapeXml(note)}</text>`);
  return {
    svg: `<g class="legend" font-size="${FONT - 1}">${parts.join('')}</g>`,
    width: Math.max(widest, MARGIN + textWidth(note)) + MARGIN,
    height: line2 + 22 - y,
  };
}

function edgePath(points: { x: number; y: number }[]): string {
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'}${r(p.x)},${r(p.y)}`).join(' ');
}

/** Renders the graph as a standalone SVG document. */
export function renderSvg(graph: EnvironmentGraph, opts: SvgOptions = {}): string {
  const layout = layoutGraph(graph);
  const legend = legendSvg(graph, layout.height + 4, Math.max(layout.width, 480));
  const width = Math.max(layout.width, legend.width, 240);
  const height = layout.height + legend.height + 8;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="${FONT}" role="${opts.nodeHref ? 'group' : 'img'}" aria-label="${escapeXml(`dependency graph of ${graph.environment}`)}">`,
    '<defs><marker id="pb-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#4b5563"/></marker></defs>',
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
  ];
  for (const c of graph.clusters) {
    const b = layout.clusters.get(c.path);
    if (!b) continue;
    out.push(
      `<g class="cluster" data-path="${escapeXml(c.path)}"><rect x="${r(b.x)}" y="${r(b.y)}" width="${r(b.width)}" height="${r(b.height)}" rx="8" fill="#f9fafb" fill-opacity="0.6" stroke="#9ca3af" stroke-dasharray="4 3"/><text class="cluster-title" x="${r(b.x + 8)}" y="${r(b.y + CLUSTER_TITLE - 3)}" font-size="${FONT - 1}" fill="#4b5563" font-weight="600">${escapeXml(c.path)}</text></g>`,
    );
  }
  for (const e of layout.edges) {
    const dash = e.state === 'provisioned' ? ' stroke-dasharray="5 4"' : '';
    out.push(
      `<path class="edge" data-from="${escapeXml(e.from)}" data-to="${escapeXml(e.to)}" d="${edgePath(e.points)}" fill="none" stroke="#4b5563" stroke-width="1.3"${dash} marker-end="url(#pb-arrow)"/>`,
    );
    if (e.label)
      out.push(
        `<text class="edge-label" x="${r(e.label.x)}" y="${r(e.label.y + 4)}" text-anchor="middle" font-size="${FONT - 2}" fill="#4b5563">provisioned</text>`,
      );
  }
  for (const n of graph.nodes) out.push(nodeSvg(n, layout.nodes.get(n.path)!, opts));
  if (graph.nodes.length === 0)
    out.push(`<text x="${MARGIN}" y="${MARGIN + 12}">${escapeXml(graph.environment)} has no nodes</text>`);
  out.push(legend.svg, '</svg>');
  return `${out.join('\n')}\n`;
}
