/**
 * SVG of an environment graph, laid out by dagre (left to right, groups as clusters), with a legend of the states.
 * Self-contained (inline styles, no scripts): the CLI prints it and the dashboard embeds it.
 */
import dagre from '@dagrejs/dagre';
import type { EnvironmentGraph, GraphNode } from './environment-graph.js';
import { STATE_COLOURS, STATE_ORDER, UNKNOWN_COLOURS } from './state-colours.js';
import { escapeXml } from './escape-xml.js';

export interface SvgOptions {
  /** Makes each node box a link (the dashboard links to node details). */
  nodeHref?: (path: string) => string;
}

const FONT = 12;
const CHAR_WIDTH = 7.2; // average advance of a 12px sans-serif character, to size boxes without measuring text
const NODE_HEIGHT = 42;
const MARGIN = 20;
/** Room for a cluster's title above its contents: dagre leaves none, so cluster boxes are grown upwards by this. */
export const CLUSTER_TITLE = 16;

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

interface Layout {
  width: number;
  height: number;
  nodes: Map<string, Box>;
  clusters: Map<string, Box>;
  edges: {
    from: string;
    to: string;
    state: string;
    points: { x: number; y: number }[];
    label?: { x: number; y: number };
  }[];
}

const textWidth = (s: string): number => s.length * CHAR_WIDTH;
const nodeWidth = (n: GraphNode): number =>
  Math.ceil(Math.max(80, textWidth(n.label) + 24, textWidth(n.host ?? '(on demand)') * 0.9 + 24));

/** Lays the graph out with dagre; boxes are given by their top-left corners. */
function layoutGraph(graph: EnvironmentGraph): Layout {
  const g = new dagre.graphlib.Graph({ compound: true, multigraph: false });
  g.setGraph({
    rankdir: 'LR',
    nodesep: 18 + CLUSTER_TITLE,
    ranksep: 70,
    edgesep: 12,
    marginx: MARGIN,
    marginy: MARGIN + CLUSTER_TITLE,
  });
  g.setDefaultEdgeLabel(() => ({}));
  for (const c of graph.clusters) g.setNode(`c:${c.path}`, { label: c.label });
  for (const c of graph.clusters) if (c.parent !== null) g.setParent(`c:${c.path}`, `c:${c.parent}`);
  for (const n of graph.nodes) {
    g.setNode(`n:${n.path}`, { width: nodeWidth(n), height: NODE_HEIGHT });
    if (n.cluster !== null) g.setParent(`n:${n.path}`, `c:${n.cluster}`);
  }
  // Clusters with nothing in them have no size in dagre: leave them out.
  for (const c of graph.clusters) if (g.children(`c:${c.path}`)?.length === 0) g.removeNode(`c:${c.path}`);
  for (const e of graph.edges) {
    g.setEdge(
      `n:${e.from}`,
      `n:${e.to}`,
      e.state === 'provisioned' ? { width: textWidth('provisioned') * 0.85, height: 14, labelpos: 'c' } : {},
    );
  }
  dagre.layout(g);
  const box = (id: string): Box => {
    const v = g.node(id);
    return { x: v.x - v.width / 2, y: v.y - v.height / 2, width: v.width, height: v.height };
  };
  const nodes = new Map(graph.nodes.map((n) => [n.path, box(`n:${n.path}`)]));
  const clusters = new Map(
    graph.clusters
      .filter((c) => g.hasNode(`c:${c.path}`))
      .map((c) => {
        const b = box(`c:${c.path}`);
        return [c.path, { ...b, y: b.y - CLUSTER_TITLE, height: b.height + CLUSTER_TITLE }];
      }),
  );
  const edges = graph.edges.map((e) => {
    const v = g.edge(`n:${e.from}`, `n:${e.to}`) as { points: { x: number; y: number }[]; x?: number; y?: number };
    return {
      from: e.from,
      to: e.to,
      state: e.state,
      points: v.points,
      ...(e.state === 'provisioned' && v.x !== undefined ? { label: { x: v.x, y: v.y! } } : {}),
    };
  });
  const gl = g.graph() as { width?: number; height?: number };
  return { width: Math.ceil(gl.width ?? 0), height: Math.ceil(gl.height ?? 0), nodes, clusters, edges };
}

const r = (n: number): string => String(Math.round(n * 10) / 10);

function nodeSvg(n: GraphNode, b: Box, opts: SvgOptions): string {
  const c = n.state ? STATE_COLOURS[n.state] : UNKNOWN_COLOURS;
  const title = `${n.path} on ${n.host ?? '(on demand)'}${n.state ? `: ${n.state}` : ''}`;
  const body =
    `<g class="node${n.state ? ` state-${n.state}` : ''}" data-path="${escapeXml(n.path)}"><title>${escapeXml(title)}</title>` +
    `<rect x="${r(b.x)}" y="${r(b.y)}" width="${r(b.width)}" height="${r(b.height)}" rx="6" fill="${c.fill}" stroke="${c.stroke}" stroke-width="1.5"/>` +
    `<text x="${r(b.x + b.width / 2)}" y="${r(b.y + 17)}" text-anchor="middle" font-weight="600">${escapeXml(n.label)}</text>` +
    `<text x="${r(b.x + b.width / 2)}" y="${r(b.y + 33)}" text-anchor="middle" font-size="${FONT - 2}" fill="#374151">${escapeXml(n.host ?? '(on demand)')}</text></g>`;
  return opts.nodeHref ? `<a href="${escapeXml(opts.nodeHref(n.path))}">${body}</a>` : body;
}

function legendSvg(graph: EnvironmentGraph, y: number): { svg: string; width: number; height: number } {
  const parts: string[] = [];
  let x = MARGIN;
  if (graph.coloured) {
    for (const s of STATE_ORDER) {
      const c = STATE_COLOURS[s];
      parts.push(
        `<rect x="${x}" y="${y}" width="14" height="14" rx="3" fill="${c.fill}" stroke="${c.stroke}"/><text x="${x + 19}" y="${y + 11}">${s}</text>`,
      );
      x += 19 + textWidth(s) + 14;
    }
  } else {
    parts.push(
      `<text x="${x}" y="${y + 11}" fill="#6b7280">states unknown (no state store): boxes not coloured</text>`,
    );
    x += textWidth('states unknown (no state store): boxes not coloured') + 14;
  }
  const line2 = y + 26;
  const note = `A → B: B waits for A to be ready; dashed: waits for A provisioned${graph.reducedEdges ? `; ${graph.reducedEdges} redundant transitive edge${graph.reducedEdges === 1 ? '' : 's'} omitted` : ''}`;
  parts.push(`<text x="${MARGIN}" y="${line2 + 11}" fill="#374151">${escapeXml(note)}</text>`);
  return {
    svg: `<g class="legend" font-size="${FONT - 1}">${parts.join('')}</g>`,
    width: Math.max(x, MARGIN + textWidth(note)) + MARGIN,
    height: 48,
  };
}

function edgePath(points: { x: number; y: number }[]): string {
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'}${r(p.x)},${r(p.y)}`).join(' ');
}

/** Renders the graph as a standalone SVG document. */
export function renderSvg(graph: EnvironmentGraph, opts: SvgOptions = {}): string {
  const layout = layoutGraph(graph);
  const legend = legendSvg(graph, layout.height + 4);
  const width = Math.max(layout.width, legend.width, 240);
  const height = layout.height + legend.height + 8;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="${FONT}" role="img" aria-label="${escapeXml(`dependency graph of ${graph.environment}`)}">`,
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
