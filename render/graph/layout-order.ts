/**
 * The vertical order and position of the items of each column (docs/cli.md, "politburo graph"). Pure.
 *
 * Items are node boxes and bundle slots (a bundle crossing a column without a box there keeps a thin slot of its own
 * between the boxes). Groups (clusters) are rectangles: a cluster reserves its rows in every column from its first to
 * its last, so no other item is ever inside it. Siblings are stacked in an order that sweeps improve (each item moves
 * towards the mean, later the median, height of its neighbours in the column before or after), keeping the order
 * whose bundles cross least (estimated per gap between columns, layout-crossings.ts); then neighbours are swapped
 * where that crosses less (`transpose`), and items move towards their neighbours' heights where that crosses no more
 * (straightening).
 */
import { crossingEstimator, transpose } from './layout-crossings.js';
import type { ClusterRow, GapLink, Item, Kids, Packed } from './layout-types.js';

const GAP = 14; // between items stacked in a column
const SLOT_GAP = 8; // between two bundle slots
const PAD = 8; // inside a cluster box, around its contents
const SWEEPS = 12;
const MAX_STRETCH = 1.3; // how much taller than stacked tightly wishes may make a column
const STRAIGHTEN = 2; // rounds of straightening
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
  const judge = (packed: Packed, key: Map<Item, number>): Stacked => ({
    packed,
    key,
    crossings: estimate.total((i) => packed.top.get(i)! + i.height / 2),
    bent: bends(links, packed),
  });
  const s: Stacker = {
    stack: (key, want) => pack(kids, title, key, want),
    pack: (key, want) => judge(pack(kids, title, key, want), key),
    judge,
    items,
    prev,
    next,
  };
  let best = sweeps(s, s.pack(initialKey, null));
  // Neighbours swapped where that crosses less.
  const swapped = transpose(items, links, best.packed, best.key);
  const transposed = s.pack(swapped.key, swapped.want);
  if (better(transposed, best) < 0) best = transposed;
  // The same order stacked tightly may be better (wishes leave holes).
  const tight = s.pack(best.key, null);
  if (better(tight, best) < 0) best = tight;
  best = straightenColumns(s, best);
  return { packed: best.packed, crossings: best.crossings };
}

/** An order stacked, and what it is judged by. */
interface Stacked {
  packed: Packed;
  key: Map<Item, number>;
  crossings: number;
  bent: number;
}

/** What the phases of ordering share: stacking an order (and judging it), the items and their neighbours. */
interface Stacker {
  /** Stacks an order, with wished-for heights or tightly. */
  stack: (key: Map<Item, number>, want: Map<Item, number> | null) => Packed;
  judge: (packed: Packed, key: Map<Item, number>) => Stacked;
  /** Both. */
  pack: (key: Map<Item, number>, want: Map<Item, number> | null) => Stacked;
  items: Item[];
  prev: Map<Item, Item[]>;
  next: Map<Item, Item[]>;
}

/** Fewer crossings first, then a shorter drawing, then straighter lines. */
const better = (a: Stacked, b: Stacked) =>
  a.crossings - b.crossings || a.packed.height - b.packed.height || a.bent - b.bent;

/** Barycentre sweeps down and up the columns, mean wishes first, then median; the best order seen. */
function sweeps(s: Stacker, first: Stacked): Stacked {
  let best = first;
  let packed = first.packed;
  const byCol = [...s.items].sort((a, b) => a.col - b.col || a.index - b.index);
  for (let sweep = 0; sweep < SWEEPS; sweep++) {
    // Column by column in the sweep's direction, each item wishes for the mean of its neighbours' wishes in the
    // column just done (so a change travels through the whole sweep); items without such neighbours stay put.
    const down = sweep % 2 === 0;
    const side = down ? s.prev : s.next;
    const want = new Map<Item, number>();
    for (const l of down ? byCol : [...byCol].reverse()) {
      const wishes = (side.get(l) ?? []).map((n) => want.get(n)!);
      const here = packed.top.get(l)! + l.height / 2;
      want.set(l, !wishes.length ? here : sweep < SWEEPS / 2 ? mean(wishes) : median(wishes));
    }
    const key = new Map(s.items.map((l) => [l, want.get(l)! + l.index * 1e-6]));
    // Stacked where wished (lines stay straight) unless the wishes' holes make it much taller than stacked tightly:
    // each sweep starts from a drawing of bounded height.
    const tight = s.stack(key, null);
    const wished = s.stack(key, want);
    packed = wished.height > tight.height * MAX_STRETCH ? tight : wished;
    const scored = s.judge(packed, key);
    if (better(scored, best) < 0) best = scored;
  }
  return best;
}

/**
 * Straightening, the order kept: column by column, items move towards the mean height of their neighbours on both
 * sides, where that crosses no more and makes the drawing hardly taller.
 */
function straightenColumns(s: Stacker, first: Stacked): Stacked {
  let best = first;
  const columns = Math.max(0, ...s.items.map((i) => i.col)) + 1;
  let tries = STRAIGHTEN_TRIES;
  for (let round = 0; round < STRAIGHTEN && tries > 0; round++) {
    let moved = false;
    for (let k = 0; k < columns && tries-- > 0; k++) {
      const col = round % 2 ? columns - 1 - k : k;
      const at = (i: Item) => best.packed.top.get(i)! + i.height / 2;
      const want = new Map<Item, number>();
      for (const i of s.items) {
        const ns = i.col === col ? [...(s.prev.get(i) ?? []), ...(s.next.get(i) ?? [])] : [];
        want.set(i, ns.length ? mean(ns.map(at)) : at(i));
      }
      const tried = s.pack(best.key, want);
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
  return best;
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
