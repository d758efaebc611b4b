/**
 * Crossings of the graph layout's bundles, estimated from the heights of their ends (layout-order.ts uses it to choose
 * an order), and the swaps of neighbours that lower it. Pure.
 */
import { gapEnds, orderCost, type GapEnds } from './layout-tracks.js';
import type { GapLink, Item, Packed } from './layout-types.js';

const TRANSPOSE_PASSES = 3; // passes of swapping neighbours
// Pairs of bundles weighed in all by the swaps (about 540,000 for a random 200-node graph): larger graphs get fewer.
const TRANSPOSE_WORK = 1_500_000;

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
export function transpose(
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
