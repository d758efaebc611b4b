/**
 * The vertical order and position of the items of each column (docs/cli.md, "politburo graph"). Pure.
 *
 * Items are node boxes and bundle slots (a bundle crossing a column without a box there keeps a thin slot of its own
 * between the boxes). Groups (clusters) are rectangles: a cluster reserves its rows in every column from its first to
 * its last, so no other item is ever inside it. Siblings are stacked in an order that sweeps improve (each item moves
 * towards the mean, later the median, height of its neighbours in the column before or after), keeping the order
 * whose bundles cross least (estimated per gap between columns, see `crossingEstimator`); then neighbours are swapped
 * where that crosses less (`transpose`), and items move towards their neighbours' heights where that crosses no more
 * (straightening).
 */
import { gapEnds, orderCost, type GapEnds } from './layout-tracks.js';

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

const GAP = 14; // between items stacked in a column
const SLOT_GAP = 8; // between two bundle slots
const PAD = 8; // inside a cluster box, around its contents
const SWEEPS = 12;
const MAX_STRETCH = 1.3; // how much taller than stacked tightly wishes may make a column
const STRAIGHTEN = 2; // rounds of straightening
const TRANSPOSE_PASSES = 3; // passes of swapping neighbours
// Pairs of bundles weighed in all by the swaps (about 540,000 for a random 200-node graph): larger graphs get fewer.
const TRANSPOSE_WORK = 1_500_000;
const STRAIGHTEN_TRIES = 60; // columns tried in all: each is a whole stacking, so big graphs get fewer rounds

/** Stacks the items of every column given a sort key and, optionally, a wished-for centre height per item. */
export function pack(kids: Kids, title: number, key: Map<Item, number>, want: Map<Item, number> | null): Packed {
  const top = new Map<Item, number>();
  const clusterRows = new Map<string, ClusterRow>();
  interface Block {
    key: number;
    weight: number;
    desiredTop: number;
    height: number;
    c0: number;
    c1: number;
    slot: boolean;
    place: (y: number) => void;
  }
  const leafBlock = (l: Item): Block => ({
    key: key.get(l)!,
    weight: 1,
    desiredTop: want ? want.get(l)! - l.height / 2 : 0,
    height: l.height,
    c0: l.col,
    c1: l.col,
    slot: l.node === undefined,
    place: (y) => void top.set(l, y),
  });
  const clusterBlock = (c: string | null): Block => {
    const k = kids.get(c)!;
    const blocks = [...k.clusters.map(clusterBlock), ...k.items.map(leafBlock)].sort((a, b) => a.key - b.key);
    const innerTop = c === null ? 0 : title + PAD;
    const desiredTop = (blocks.length ? Math.min(...blocks.map((b) => b.desiredTop)) : 0) - innerTop;
    // Per column: the bottom of what is stacked so far, and whether that is a bundle slot.
    const sky = new Map<number, { y: number; slot: boolean }>();
    const at: number[] = [];
    for (const b of blocks) {
      let y = Math.max(innerTop, b.desiredTop - desiredTop);
      for (let col = b.c0; col <= b.c1; col++) {
        const s = sky.get(col);
        if (s !== undefined) y = Math.max(y, s.y + (s.slot && b.slot ? SLOT_GAP : GAP));
      }
      at.push(y);
      for (let col = b.c0; col <= b.c1; col++) sky.set(col, { y: y + b.height, slot: b.slot });
    }
    const height = Math.max(innerTop, ...[...sky.values()].map((s) => s.y)) + (c === null ? 0 : PAD);
    const weight = blocks.reduce((s, b) => s + b.weight, 0);
    return {
      key: blocks.reduce((s, b) => s + b.key * b.weight, 0) / Math.max(1, weight),
      weight,
      desiredTop,
      height,
      c0: Math.min(...blocks.map((b) => b.c0)),
      c1: Math.max(...blocks.map((b) => b.c1)),
      slot: false,
      place(y) {
        if (c !== null) clusterRows.set(c, { y, height, c0: this.c0, c1: this.c1 });
        blocks.forEach((b, i) => b.place(y + at[i]));
      },
    };
  };
  const root = clusterBlock(null);
  root.place(0);
  return { top, clusterRows, height: root.height };
}

/**
 * Crossings of the bundles in each gap when every pair is in its better order (about the drawing's), a clash that
 * no order avoids (ends level with each other both ways, so a port must move) counting as two. The estimator keeps
 * each gap's count and counts again only gaps where an item moved.
 */
export function crossingEstimator(links: GapLink[]): {
  total: (centre: (i: Item) => number) => number;
  gap: (g: number, centre: (i: Item) => number) => number;
} {
  const byGap = new Map<number, GapLink[]>();
  for (const l of links) (byGap.get(l.gap) ?? byGap.set(l.gap, []).get(l.gap)!).push(l);
  const last = new Map<number, { at: Float64Array; n: number }>();
  const gap = (g: number, centre: (i: Item) => number): number => {
    const list = byGap.get(g);
    if (!list) return 0;
    let size = 0;
    for (const l of list) size += l.left.length + l.right.length;
    const at = new Float64Array(size);
    let k = 0;
    for (const l of list) {
      for (const i of l.left) at[k++] = centre(i);
      for (const i of l.right) at[k++] = centre(i);
    }
    const known = last.get(g);
    if (known && known.at.every((y, i) => y === at[i])) return known.n;
    k = 0;
    const ends = list
      .map((l) => {
        const left = l.left.map(() => at[k++]);
        return gapEnds(
          left,
          l.right.map(() => at[k++]),
        );
      })
      .sort((x, y) => x.lo - y.lo);
    let n = 0;
    for (let i = 0; i < ends.length; i++)
      for (let j = i + 1; j < ends.length && ends[j].lo < ends[i].hi; j++)
        n += Math.min(orderCost(ends[i], ends[j], 2), orderCost(ends[j], ends[i], 2));
    last.set(g, { at, n });
    return n;
  };
  return { gap, total: (centre) => [...byGap.keys()].reduce((s, g) => s + gap(g, centre), 0) };
}

/** Crossings two bundles in one gap have in their better order (see crossingEstimator). */
const pairCrossings = (x: GapEnds, y: GapEnds): number =>
  x.lo < y.hi && y.lo < x.hi ? Math.min(orderCost(x, y, 2), orderCost(y, x, 2)) : 0;

/**
 * Swaps of neighbours in a column (items of one group, one right above the other) that lower the crossings of the
 * two gaps beside it, pass after pass; returns the new order's keys and the heights it wishes for. A swap is weighed
 * on the bundles that end at one of the two items only, against every bundle of their gaps.
 */
function transpose(
  items: Item[],
  links: GapLink[],
  packed: Packed,
  key: Map<Item, number>,
): { key: Map<Item, number>; want: Map<Item, number> } {
  const pos = new Map(items.map((i) => [i, packed.top.get(i)! + i.height / 2]));
  const out = new Map(key);
  const centre = (i: Item) => pos.get(i)!;
  const endsOf = (l: GapLink) => gapEnds(l.left.map(centre), l.right.map(centre));
  // Ends of the bundles not being weighed, kept until a swap moves one of their items.
  const kept = new Map<GapLink, GapEnds>();
  const keptEnds = (l: GapLink) => kept.get(l) ?? kept.set(l, endsOf(l)).get(l)!;
  const byGap = new Map<number, GapLink[]>();
  const touching = new Map<Item, GapLink[]>();
  for (const l of links) {
    (byGap.get(l.gap) ?? byGap.set(l.gap, []).get(l.gap)!).push(l);
    for (const i of [...l.left, ...l.right]) (touching.get(i) ?? touching.set(i, []).get(i)!).push(l);
  }
  /** Crossings of the bundles touching a or b with every bundle of their gaps, at the present heights. */
  let work = 0; // pairs of bundles weighed so far
  const local = (a: Item, b: Item): number => {
    const mine = [...new Set([...(touching.get(a) ?? []), ...(touching.get(b) ?? [])])];
    for (const l of mine) work += byGap.get(l.gap)!.length;
    const mineEnds = new Map(mine.map((l) => [l, endsOf(l)]));
    let n = 0;
    for (const l of mine) {
      for (const m of byGap.get(l.gap)!) {
        if (m === l) continue;
        // A pair of two touching bundles counts once.
        if (mineEnds.has(m) && mine.indexOf(m) < mine.indexOf(l)) continue;
        n += pairCrossings(mineEnds.get(l)!, mineEnds.get(m) ?? keptEnds(m));
      }
    }
    return n;
  };
  const byCol = new Map<number, Item[]>();
  for (const i of items) (byCol.get(i.col) ?? byCol.set(i.col, []).get(i.col)!).push(i);
  for (let pass = 0; pass < TRANSPOSE_PASSES; pass++) {
    let swapped = false;
    for (const list of byCol.values()) {
      list.sort((a, b) => centre(a) - centre(b));
      for (let k = 0; k + 1 < list.length; k++) {
        const [a, b] = [list[k], list[k + 1]];
        if (a.owner !== b.owner || (!touching.has(a) && !touching.has(b)) || work > TRANSPOSE_WORK) continue;
        const before = local(a, b);
        const [ca, cb] = [centre(a), centre(b)];
        const top = ca - a.height / 2;
        const between = cb - b.height / 2 - (top + a.height);
        pos.set(b, top + b.height / 2);
        pos.set(a, top + b.height + between + a.height / 2);
        if (local(a, b) < before) {
          const kb = out.get(b)!;
          out.set(b, out.get(a)!);
          out.set(a, kb);
          list[k] = b;
          list[k + 1] = a;
          swapped = true;
          for (const l of [...(touching.get(a) ?? []), ...(touching.get(b) ?? [])]) kept.delete(l);
        } else {
          pos.set(a, ca);
          pos.set(b, cb);
        }
      }
    }
    if (!swapped) break;
  }
  return { key: out, want: pos };
}

/** Orders and stacks the items (see the module comment); returns the packing and its estimated crossings. */
export function orderItems(
  items: Item[],
  kids: Kids,
  links: GapLink[],
  title: number,
  initialKey: Map<Item, number>,
): { packed: Packed; crossings: number } {
  const prev = new Map<Item, Item[]>();
  const next = new Map<Item, Item[]>();
  for (const l of links)
    for (const a of l.left)
      for (const b of l.right) {
        (next.get(a) ?? next.set(a, []).get(a)!).push(b);
        (prev.get(b) ?? prev.set(b, []).get(b)!).push(a);
      }
  const estimate = crossingEstimator(links);
  const count = (p: Packed) => estimate.total((i) => p.top.get(i)! + i.height / 2);
  // Fewer crossings first, then a shorter drawing, then straighter lines.
  const score = (p: Packed, key: Map<Item, number>) => ({ packed: p, key, crossings: count(p), bent: bends(links, p) });
  const better = (a: ReturnType<typeof score>, b: ReturnType<typeof score>) =>
    a.crossings - b.crossings || a.packed.height - b.packed.height || a.bent - b.bent;
  let packed = pack(kids, title, initialKey, null);
  let best = score(packed, initialKey);
  const byCol = [...items].sort((a, b) => a.col - b.col || a.index - b.index);
  for (let sweep = 0; sweep < SWEEPS; sweep++) {
    // Column by column in the sweep's direction, each item wishes for the mean of its neighbours' wishes in the
    // column just done (so a change travels through the whole sweep); items without such neighbours stay put.
    const down = sweep % 2 === 0;
    const side = down ? prev : next;
    const want = new Map<Item, number>();
    for (const l of down ? byCol : [...byCol].reverse()) {
      const ns = side.get(l);
      const here = packed.top.get(l)! + l.height / 2;
      want.set(
        l,
        !ns?.length
          ? here
          : sweep < SWEEPS / 2
            ? mean(ns.map((n) => want.get(n)!))
            : median(ns.map((n) => want.get(n)!)),
      );
    }
    const key = new Map(items.map((l) => [l, want.get(l)! + l.index * 1e-6]));
    // Stacked where wished (lines stay straight) unless the wishes' holes make it much taller than stacked tightly:
    // each sweep starts from a drawing of bounded height.
    const tight = pack(kids, title, key, null);
    packed = pack(kids, title, key, want);
    if (packed.height > tight.height * MAX_STRETCH) packed = tight;
    const scored = score(packed, key);
    if (better(scored, best) < 0) best = scored;
  }
  // Neighbours swapped where that crosses less.
  const swapped = transpose(items, links, best.packed, best.key);
  const transposed = score(pack(kids, title, swapped.key, swapped.want), swapped.key);
  if (better(transposed, best) < 0) best = transposed;
  // The same order stacked tightly may be better (wishes leave holes).
  const tight = score(pack(kids, title, best.key, null), best.key);
  if (better(tight, best) < 0) best = tight;
  // Then straighten, the order kept: column by column, items move towards the mean height of their neighbours on
  // both sides, where that crosses no more and makes the drawing hardly taller.
  const columns = Math.max(0, ...items.map((i) => i.col)) + 1;
  let tries = STRAIGHTEN_TRIES;
  for (let round = 0; round < STRAIGHTEN && tries > 0; round++) {
    let moved = false;
    for (let k = 0; k < columns && tries-- > 0; k++) {
      const col = round % 2 ? columns - 1 - k : k;
      const at = (i: Item) => best.packed.top.get(i)! + i.height / 2;
      const want = new Map<Item, number>();
      for (const i of items) {
        const ns = i.col === col ? [...(prev.get(i) ?? []), ...(next.get(i) ?? [])] : [];
        want.set(i, ns.length ? mean(ns.map(at)) : at(i));
      }
      const tried = score(pack(kids, title, best.key, want), best.key);
      if (
        tried.crossings <= best.crossings &&
        tried.packed.height <= best.packed.height * 1.02 &&
        tried.bent < best.bent - 1
      ) {
        best = tried;
        moved = true;
      }
    }
    if (!moved) break;
  }
  return { packed: best.packed, crossings: best.crossings };
}

/** How far lines must bend: per bundle and gap, the height between the mean of its left ends and of its right ends. */
function bends(links: GapLink[], p: Packed): number {
  const centre = (i: Item) => p.top.get(i)! + i.height / 2;
  const mean = (xs: Item[]) => xs.reduce((s, i) => s + centre(i), 0) / xs.length;
  return links.reduce((s, l) => s + Math.abs(mean(l.left) - mean(l.right)), 0);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
