/**
 * Layered layout of an environment graph, left to right (docs/cli.md, "politburo graph"). Pure.
 *
 * - Columns: each node right of everything it waits for (layout-layers.ts); a layer too tall for the screen the
 *   drawing should fit is wrapped into several columns, group by group (`chooseWrap`).
 * - Bundles: nodes waiting for the same nodes share one bundle of lines with them (layout-nets.ts), so 42 edges into
 *   one node are one trunk entering it at one point, with one arrowhead.
 * - Order: groups (clusters) are rectangles no other item enters; the order in each column is improved to reduce
 *   crossings: barycentre and median sweeps, swaps of neighbours, straightening (layout-order.ts,
 *   layout-crossings.ts).
 * - Lines: horizontal and vertical, one vertical line per bundle per gap between columns, joined by dots where lines
 *   of a bundle meet (layout-draw.ts, layout-route.ts, layout-tracks.ts). Boxes are only in columns and vertical lines
 *   only in gaps: no line crosses a box other than its ends, tested geometrically (test/unit/render/graph/).
 * - Labels: one per labelled bundle, clear of boxes, other labels and other lines (layout-labels.ts).
 */
import type { EnvironmentGraph } from './environment-graph.js';
import { assignLayers, wrapLayers, type Layers } from './layout-layers.js';
import { bundleEdges, type Net } from './layout-nets.js';
import { orderItems, pack } from './layout-order.js';
import { columnWidths, draw } from './layout-draw.js';
import type { GapLink, Item, Kids, Layout, LayoutOptions, Model } from './layout-types.js';

export type { Box, Bundle, LaidOutEdge, Layout, LayoutOptions, Point } from './layout-types.js';

const SLOT_HEIGHT = 2; // a bundle's slot in a column it crosses

/** Lays the graph out (see the module comment). */
export function layeredLayout(graph: EnvironmentGraph, opts: LayoutOptions): Layout {
  const layers = assignLayers(graph);
  const tree = clusterHelpers(graph);
  const nets = bundleEdges(graph.edges, layers.layer, layers.back);
  const perColumn = chooseWrap(graph, layers, nets, tree, opts);
  const column = wrapLayers(graph, layers, tree.ownerOfNode, perColumn);
  const model = buildModel(graph, nets, column, tree, opts);
  const { packed } = orderItems(model.items, model.kids, model.links, opts.clusterTitle, model.key);
  return draw(graph, nets, model, packed, opts);
}

interface ClusterHelpers {
  ownerOfNode: (path: string) => string | null;
  lca: (owners: (string | null)[]) => string | null;
  parentOf: (c: string) => string | null;
}

function clusterHelpers(graph: EnvironmentGraph): ClusterHelpers {
  const clusterByPath = new Map(graph.clusters.map((c) => [c.path, c]));
  const ownerOf = (cluster: string | null): string | null => {
    let c = cluster;
    while (c !== null && !clusterByPath.has(c)) c = c.includes('/') ? c.slice(0, c.lastIndexOf('/')) : null;
    return c;
  };
  const nodeCluster = new Map(graph.nodes.map((n) => [n.path, n.cluster]));
  const parentOf = (c: string): string | null => ownerOf(clusterByPath.get(c)!.parent);
  const chainOf = (c: string | null): (string | null)[] => {
    const out: (string | null)[] = [];
    for (let p = c; p !== null; p = parentOf(p)) out.unshift(p);
    out.unshift(null);
    return out;
  };
  const lca = (owners: (string | null)[]): string | null => {
    let common = chainOf(owners[0] ?? null);
    for (const o of owners.slice(1)) {
      const other = chainOf(o);
      let i = 0;
      while (i + 1 < common.length && i + 1 < other.length && common[i + 1] === other[i + 1]) i++;
      common = common.slice(0, i + 1);
    }
    return common[common.length - 1];
  };
  return { ownerOfNode: (p) => ownerOf(nodeCluster.get(p) ?? null), lca, parentOf };
}

/** Items (boxes and bundle slots), the bundles per gap, and the cluster tree, for the given columns. */
function buildModel(
  graph: EnvironmentGraph,
  nets: Net[],
  column: Map<string, number>,
  tree: ClusterHelpers,
  opts: LayoutOptions,
): Model {
  let index = 0;
  const items: Item[] = [];
  const nodeItem = new Map<string, Item>();
  const key = new Map<Item, number>();
  for (const n of graph.nodes) {
    const item: Item = {
      id: `n:${n.path}`,
      index: index++,
      col: column.get(n.path)!,
      ...opts.size(n.path),
      owner: tree.ownerOfNode(n.path),
      node: n.path,
    };
    items.push(item);
    nodeItem.set(n.path, item);
    key.set(item, item.index);
  }
  const slots = new Map<number, Map<number, Item>>();
  const links: GapLink[] = [];
  nets.forEach((net, n) => {
    const left = net.left.map((p) => nodeItem.get(p)!);
    const right = net.right.map((p) => nodeItem.get(p)!);
    const c0 = Math.min(...left.map((i) => i.col));
    const c1 = Math.max(...right.map((i) => i.col));
    const owner = tree.lca([...left, ...right].map((i) => i.owner));
    const mine = new Map<number, Item>();
    for (let c = c0 + 1; c < c1; c++) {
      const slot: Item = { id: `s:${n}:${c}`, index: index++, col: c, width: 0, height: SLOT_HEIGHT, owner };
      items.push(slot);
      mine.set(c, slot);
      key.set(slot, left[0].index + 0.5);
    }
    slots.set(n, mine);
    for (let g = c0; g < c1; g++) {
      const l = left.filter((i) => i.col === g);
      const r = right.filter((i) => i.col === g + 1);
      if (mine.has(g)) l.push(mine.get(g)!);
      if (mine.has(g + 1)) r.push(mine.get(g + 1)!);
      links.push({ net: n, gap: g, left: l, right: r });
    }
  });
  const kids: Kids = new Map([[null, { clusters: [], items: [] }]]);
  const kidsOf = (c: string | null) => kids.get(c) ?? kids.set(c, { clusters: [], items: [] }).get(c)!;
  const drawn = new Set<string>();
  for (const item of items) {
    kidsOf(item.owner).items.push(item);
    for (let c = item.owner; c !== null && !drawn.has(c); c = tree.parentOf(c)) drawn.add(c);
  }
  for (const c of graph.clusters) if (drawn.has(c.path)) kidsOf(tree.parentOf(c.path)).clusters.push(c.path);
  const columns = Math.max(0, ...items.map((i) => i.col)) + 1;
  return { items, nodeItem, slots, links, kids, key, columns };
}

/**
 * How many nodes of one group a column may hold: the wrapping whose drawing best fits `opts.fit` (estimated from a
 * first stacking, before crossings are reduced), preferring fewer, taller columns when several fit.
 */
function chooseWrap(
  graph: EnvironmentGraph,
  layers: Layers,
  nets: Net[],
  tree: ClusterHelpers,
  opts: LayoutOptions,
): number {
  if (!opts.fit || graph.edges.length === 0) return Infinity;
  const groups = new Map<string, number>();
  for (const n of graph.nodes) {
    const k = `${layers.layer.get(n.path)}\0${tree.ownerOfNode(n.path)}`;
    groups.set(k, (groups.get(k) ?? 0) + 1);
  }
  const largest = Math.max(0, ...groups.values());
  const candidates = [...new Set([Infinity, ...[2, 3, 4, 5, 6, 8].map((k) => Math.ceil(largest / k))])].filter(
    (c) => c >= 3 || c === Infinity,
  );
  let best = { perColumn: Infinity, score: Infinity };
  for (const perColumn of candidates) {
    const model = buildModel(graph, nets, wrapLayers(graph, layers, tree.ownerOfNode, perColumn), tree, opts);
    const packed = pack(model.kids, opts.clusterTitle, model.key, null);
    const colWidth = columnWidths(model);
    const width = colWidth.reduce((s, w) => s + w, 0) + (model.columns - 1) * 64 + 2 * opts.margin;
    const height = packed.height + 2 * opts.margin;
    const score = Math.max(width / opts.fit.width, height / opts.fit.height, 1);
    if (score < best.score - 0.02) best = { perColumn, score };
  }
  return best.perColumn;
}
