/**
 * SVG of an environment graph, laid out in layers left to right (`layered-layout.ts`: groups as clusters, edges routed
 * between boxes, never through one), with a legend of the states. Each box names its node, its host and, when states
 * are known, its state in words (colour is never the only cue). Self-contained (inline styles, no scripts): the CLI
 * prints it and the dashboard embeds it.
 */
import type { EnvironmentGraph, GraphNode } from './environment-graph.js';
import { layeredLayout, type Box, type Bundle, type LaidOutEdge, type Layout } from './layered-layout.js';
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

/** The screen a drawing should fit without scrolling (a desktop browser window): tall layers wrap towards it. */
export const FIT = { width: 1280, height: 800 } as const;
const LABEL = 'provisioned';
const LABEL_FONT = FONT - 2;

/** Lays the graph out; boxes are given by their top-left corners. */
export function layoutGraph(graph: EnvironmentGraph): Layout {
  const byPath = new Map(graph.nodes.map((n) => [n.path, n]));
  const height = graph.coloured ? NODE_HEIGHT_WITH_STATE : NODE_HEIGHT;
  return layeredLayout(graph, {
    size: (path) => ({ width: nodeWidth(byPath.get(path)!), height }),
    clusterTitle: CLUSTER_TITLE,
    clusterTitleWidth: (path) => textWidth(path) * ((FONT - 1) / FONT),
    margin: MARGIN,
    label: { width: Math.ceil(textWidth(LABEL) * (LABEL_FONT / FONT)) + 6, height: 13 },
    fit: FIT,
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
  joined: boolean,
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
  // Bundled lines: what a join means, only when the drawing has one.
  const join = 'lines joined at a dot: each node they leave is waited for by each node they enter';
  if (joined) parts.push(`<text x="${MARGIN}" y="${line2 + 29}" fill="#374151">${join}</text>`);
  return {
    svg: `<g class="legend" font-size="${FONT - 1}">${parts.join('')}</g>`,
    width: Math.max(widest, MARGIN + textWidth(note), joined ? MARGIN + textWidth(join) : 0) + MARGIN,
    height: line2 + (joined ? 40 : 22) - y,
  };
}

function edgePath(points: { x: number; y: number }[]): string {
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'}${r(p.x)},${r(p.y)}`).join(' ');
}

const EDGE_COLOUR = '#4b5563';

/** Names a few nodes of a list, then how many more. */
const few = (paths: string[]): string =>
  paths.length <= 3 ? paths.join(', ') : `${paths.slice(0, 2).join(', ')} and ${paths.length - 2} more`;

/**
 * One bundle: its lines, a dot where its lines meet, an arrowhead per box it enters, its label; then each of its
 * edges as an unpainted path of its own (`class="edge"`, `data-from`, `data-to`), for whatever picks edges out.
 */
function bundleSvg(b: Bundle, edges: LaidOutEdge[]): string {
  const dash = b.state === 'provisioned' ? ' stroke-dasharray="5 4"' : '';
  const title = `${few(b.to)} ${b.to.length === 1 ? 'waits' : 'wait'} for ${few(b.from)} ${b.state === 'ready' ? 'to be ready' : 'to be provisioned'}`;
  const out = [
    `<g class="bundle" data-state="${b.state}" data-from="${escapeXml(b.from.join(' '))}" data-to="${escapeXml(b.to.join(' '))}"><title>${escapeXml(title)}</title>`,
    `<path class="bundle-line" d="${b.lines.map(edgePath).join(' ')}" fill="none" stroke="${EDGE_COLOUR}" stroke-width="1.3"${dash}/>`,
  ];
  for (const j of b.junctions)
    out.push(`<circle class="junction" cx="${r(j.x)}" cy="${r(j.y)}" r="2.6" fill="${EDGE_COLOUR}"/>`);
  for (const a of b.arrows)
    out.push(
      `<path class="arrowhead" d="M${r(a.x)},${r(a.y)} L${r(a.x - 8 * a.dir)},${r(a.y - 4)} L${r(a.x - 8 * a.dir)},${r(a.y + 4)} Z" fill="${EDGE_COLOUR}"/>`,
    );
  if (b.label) {
    const l = b.label;
    out.push(
      `<rect class="edge-label-bg" x="${r(l.x)}" y="${r(l.y)}" width="${r(l.width)}" height="${r(l.height)}" fill="#ffffff"/>`,
      `<text class="edge-label" x="${r(l.x + l.width / 2)}" y="${r(l.y + l.height / 2 + 3.5)}" text-anchor="middle" font-size="${LABEL_FONT}" fill="${EDGE_COLOUR}">${LABEL}</text>`,
    );
  }
  for (const e of edges)
    out.push(
      `<path class="edge" data-from="${escapeXml(e.from)}" data-to="${escapeXml(e.to)}" d="${edgePath(e.points)}" fill="none" stroke="none"/>`,
    );
  out.push('</g>');
  return out.join('');
}

/** Renders the graph as a standalone SVG document. */
export function renderSvg(graph: EnvironmentGraph, opts: SvgOptions = {}): string {
  const layout = layoutGraph(graph);
  const joined = layout.bundles.some((b) => b.junctions.length > 0);
  const legend = legendSvg(graph, layout.height + 4, Math.max(layout.width, 480), joined);
  const width = Math.ceil(Math.max(layout.width, legend.width, 240));
  const height = layout.height + legend.height + 8;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="${FONT}" role="${opts.nodeHref ? 'group' : 'img'}" aria-label="${escapeXml(`dependency graph of ${graph.environment}`)}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
  ];
  for (const c of graph.clusters) {
    const b = layout.clusters.get(c.path);
    if (!b) continue;
    out.push(
      `<g class="cluster" data-path="${escapeXml(c.path)}"><rect x="${r(b.x)}" y="${r(b.y)}" width="${r(b.width)}" height="${r(b.height)}" rx="8" fill="#f9fafb" fill-opacity="0.6" stroke="#9ca3af" stroke-dasharray="4 3"/><text class="cluster-title" x="${r(b.x + 8)}" y="${r(b.y + CLUSTER_TITLE - 3)}" font-size="${FONT - 1}" fill="#4b5563" font-weight="600">${escapeXml(c.path)}</text></g>`,
    );
  }
  const edgesOf = layout.bundles.map((): LaidOutEdge[] => []);
  for (const e of layout.edges) edgesOf[e.bundle].push(e);
  layout.bundles.forEach((b, i) => out.push(bundleSvg(b, edgesOf[i])));
  for (const n of graph.nodes) out.push(nodeSvg(n, layout.nodes.get(n.path)!, opts));
  if (graph.nodes.length === 0)
    out.push(`<text x="${MARGIN}" y="${MARGIN + 12}">${escapeXml(graph.environment)} has no nodes</text>`);
  out.push(legend.svg, '</svg>');
  return `${out.join('\n')}\n`;
}
