/** The graph layout's types (layered-layout.ts), shared by its modules. */
import type { DependencyState } from '../../kernel/types.js';

export interface Point {
  x: number;
  y: number;
}

export type Segment = [Point, Point];

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Item {
  id: string;
  /** Creation order: the tie-breaker that keeps layouts deterministic. */
  index: number;
  col: number;
  width: number;
  height: number;
  /** Innermost cluster holding it; null at the root. */
  owner: string | null;
  /** The node's path (absent for bundle slots). */
  node?: string;
}

/** A bundle in one gap between columns: its items in the column left of the gap and in the column right of it. */
export interface GapLink {
  net: number;
  gap: number;
  left: Item[];
  right: Item[];
}

export interface ClusterRow {
  y: number;
  height: number;
  c0: number;
  c1: number;
}

export interface Packed {
  /** Top of each item, from 0. */
  top: Map<Item, number>;
  clusterRows: Map<string, ClusterRow>;
  height: number;
}

/** The cluster tree of what is drawn: each cluster's sub-clusters and items; the key null is the root. */
export type Kids = Map<string | null, { clusters: string[]; items: Item[] }>;

export interface LaidOutEdge {
  from: string;
  to: string;
  state: DependencyState;
  /** Its own way from a point on the source box's border to a point on the target box's border. */
  points: Point[];
  /** Index of the bundle drawing it. */
  bundle: number;
}

/** Edges drawn together: every node of `from` is waited for by every node of `to`, in the same state. */
export interface Bundle {
  state: DependencyState;
  from: string[];
  to: string[];
  /** What is drawn: polylines of horizontal and vertical segments. */
  lines: Point[][];
  /** Where three or more of its lines meet. */
  junctions: Point[];
  /** Arrowheads, on the border of each box of `to`: pointing right (1) or left (-1, a cycle drawn backwards). */
  arrows: { x: number; y: number; dir: 1 | -1 }[];
  /** Where its label goes (bundles of `provisioned` edges, when labels are asked for). */
  label?: Box;
}

export interface Layout {
  width: number;
  height: number;
  nodes: Map<string, Box>;
  clusters: Map<string, Box>;
  edges: LaidOutEdge[];
  bundles: Bundle[];
  /** Places where a line of one bundle crosses a line of another. */
  crossings: number;
}

export interface LayoutOptions {
  /** Box size of a node. */
  size: (path: string) => { width: number; height: number };
  /** Room for a cluster's title above its contents. */
  clusterTitle: number;
  /** How wide a cluster's title is: its box is made at least that wide. */
  clusterTitleWidth?: (path: string) => number;
  margin: number;
  /** Size of the label of a bundle of `provisioned` edges; without it bundles are not labelled. */
  label?: { width: number; height: number };
  /** The screen the drawing should fit: tall layers are wrapped into columns towards its shape. */
  fit?: { width: number; height: number };
}

/** What is laid out: items (boxes and bundle slots), the bundles per gap, the cluster tree. */
export interface Model {
  items: Item[];
  nodeItem: Map<string, Item>;
  /** Per bundle, its slots by column. */
  slots: Map<number, Map<number, Item>>;
  links: GapLink[];
  kids: Kids;
  key: Map<Item, number>;
  columns: number;
}
