/**
 * The lines of each bundle (docs/cli.md, "politburo graph"). Pure.
 *
 * Lines are horizontal and vertical only. A bundle leaves each box of its left side from a point of its own on the
 * box's right side (a port) and enters each box of its right side at one port on its left side, so a fan-in shows one
 * arrowhead. Through a column without a box of its own it runs straight along its slot; in a gap between columns it
 * has one vertical line (its track, see layout-tracks.ts) joined by horizontal lines from its ends on either side.
 * Boxes are only in columns and tracks only in gaps, away from cluster borders: no line can cross a box.
 */
import type { GapLink, Item, Point, Segment } from './layout-types.js';

import { gapEnds, type GapEnds } from './layout-tracks.js';
import { NEAR, assignTracks, isStraight, type Clash } from './layout-tracks.js';

const PORT_SPACING = 8;
const PORT_MIN_SPACING = 5;
const PORT_MARGIN = 5;
const SLOT_SHIFT = 5; // how far a slot may move off its place (slots are 10 apart, boxes farther)

/** A bundle in one gap, with the heights of its ends and, once assigned, its track. */
export interface GapRoute {
  link: GapLink;
  ends: GapEnds;
  /** -1: drawn straight across, no vertical line. */
  track: number;
}

export interface Routing {
  /** Height of each end of a bundle: its port on a box, or the middle of its slot. */
  endY: (net: number, item: Item) => number;
  /** Per gap: its bundles, how many tracks they need, and the clashes left (none, normally). */
  gaps: Map<number, { routes: GapRoute[]; tracks: number; clashes: Clash[] }>;
}

/**
 * Ports on boxes, then tracks in every gap. `top` gives each item's top (absolute); links are the bundles per gap.
 * A clash no order of tracks avoids (a bundle's left end level with another's right end, both ways) is resolved by
 * moving one of those ends a little: a port along its box's side, or a slot up or down.
 */
export function routeGaps(links: GapLink[], top: (i: Item) => number): Routing {
  const centre = (i: Item) => top(i) + i.height / 2;
  const ports = placePorts(links, centre);
  const slotY = new Map<Item, number>();
  const endY = (net: number, item: Item) =>
    item.node !== undefined
      ? (ports.y.get(`${net}\0${item.index}`) ?? centre(item))
      : (slotY.get(item) ?? centre(item));
  const byGap = new Map<number, GapLink[]>();
  for (const l of links) push(byGap, l.gap, l);
  const gaps = new Map<number, { routes: GapRoute[]; tracks: number; clashes: Clash[] }>();
  const route = (g: number) => {
    const routes = (byGap.get(g) ?? []).map((link) => ({
      link,
      ends: gapEnds(
        link.left.map((i) => endY(link.net, i)),
        link.right.map((i) => endY(link.net, i)),
      ),
      track: -1,
    }));
    const { track, tracks, clashes } = assignTracks(routes.map((r) => r.ends));
    routes.forEach((r, i) => (r.track = track[i]));
    gaps.set(g, { routes, tracks, clashes });
  };
  for (const g of byGap.keys()) route(g);
  for (let round = 0; round < 8; round++) {
    let moved = false;
    for (const g of byGap.keys()) {
      const { routes, clashes } = gaps.get(g)!;
      for (const c of clashes) {
        // Move the left end of the right-hand bundle (in column g) or the right end of the left-hand one (g + 1).
        const b = routes[c.right].link;
        const a = routes[c.left].link;
        const ends = [
          { net: b.net, item: b.left.find((i) => endY(b.net, i) === c.yRight)!, other: c.yLeft },
          { net: a.net, item: a.right.find((i) => endY(a.net, i) === c.yLeft)!, other: c.yRight },
        ];
        const done = ends.some((e) => e.item && moveEnd(e.net, e.item, e.other, ports, slotY, endY, top));
        if (done) {
          for (const e of ends)
            if (e.item.node === undefined) [e.item.col - 1, e.item.col].forEach((x) => byGap.has(x) && route(x));
          route(g);
          moved = true;
          break;
        }
      }
    }
    if (!moved) break;
  }
  return { endY, gaps };
}

/** Ports: the bundles on one side of a box are spread over it in the order of the heights of their other ends. */
function placePorts(links: GapLink[], centre: (i: Item) => number) {
  const sides = new Map<string, { net: number; other: number }[]>();
  const itemOf = new Map<string, Item>();
  const meanOf = (items: Item[]) => items.reduce((s, i) => s + centre(i), 0) / items.length;
  for (const l of links) {
    for (const a of l.left)
      if (a.node !== undefined) {
        push(sides, `R\0${a.index}`, { net: l.net, other: meanOf(l.right) });
        itemOf.set(`R\0${a.index}`, a);
      }
    for (const b of l.right)
      if (b.node !== undefined) {
        push(sides, `L\0${b.index}`, { net: l.net, other: meanOf(l.left) });
        itemOf.set(`L\0${b.index}`, b);
      }
  }
  const y = new Map<string, number>();
  /** The ports of the side each port is on. */
  const side = new Map<string, string[]>();
  for (const [key, list] of sides) {
    const item = itemOf.get(key)!;
    list.sort((a, b) => a.other - b.other || a.net - b.net);
    const n = list.length;
    const room = (item.height - 2 * PORT_MARGIN) / Math.max(1, n - 1);
    const spacing = n > 1 ? Math.max(PORT_MIN_SPACING, Math.min(PORT_SPACING, room)) : 0;
    const keys = list.map((p) => `${p.net}\0${item.index}`);
    keys.forEach((k, i) => {
      y.set(k, centre(item) + (i - (n - 1) / 2) * spacing);
      side.set(k, keys);
    });
  }
  return { y, side };
}

/**
 * Moves the end of bundle `net` at `item` to be clear of height `other`: all the ports of its side together (when
 * they stay on the box), or a slot by at most a few pixels. Whether it moved.
 */
function moveEnd(
  net: number,
  item: Item,
  other: number,
  ports: { y: Map<string, number>; side: Map<string, string[]> },
  slotY: Map<Item, number>,
  endY: (net: number, item: Item) => number,
  top: (i: Item) => number,
): boolean {
  const y = endY(net, item);
  const deltas = [other + NEAR + 1 - y, other - NEAR - 1 - y].sort((a, b) => Math.abs(a) - Math.abs(b));
  if (item.node === undefined) {
    const d = deltas.find((x) => Math.abs(x) <= SLOT_SHIFT);
    if (d === undefined) return false;
    slotY.set(item, y + d);
    return true;
  }
  const keys = ports.side.get(`${net}\0${item.index}`)!;
  const ys = keys.map((k) => ports.y.get(k)!);
  const [lo, hi] = [top(item) + 2, top(item) + item.height - 2];
  const d = deltas.find((x) => Math.min(...ys) + x >= lo && Math.max(...ys) + x <= hi);
  if (d === undefined) return false;
  keys.forEach((k, i) => ports.y.set(k, ys[i] + d));
  return true;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Where things stand horizontally, once the gaps' widths are known. */
export interface Columns {
  left: (col: number) => number;
  right: (col: number) => number;
  /** x of a track in a gap. */
  trackX: (gap: number, track: number) => number;
}

/** The segments of every bundle: per bundle, horizontal and vertical segments, vertical ones split where lines join. */
export function bundleSegments(
  netCount: number,
  routing: Routing,
  slots: Map<number, Item[]>,
  nodeEnds: { net: number; item: Item; side: 'L' | 'R'; boxEdge: number }[],
  cols: Columns,
): Segment[][] {
  const segs: Segment[][] = Array.from({ length: netCount }, () => []);
  const seg = (net: number, x0: number, y0: number, x1: number, y1: number) => {
    if (Math.abs(x0 - x1) > 0.01 || Math.abs(y0 - y1) > 0.01)
      segs[net].push([
        { x: x0, y: y0 },
        { x: x1, y: y1 },
      ]);
  };
  for (const [g, { routes }] of routing.gaps) {
    const [xl, xr] = [cols.right(g), cols.left(g + 1)];
    for (const r of routes) {
      const net = r.link.net;
      if (r.track < 0 || isStraight(r.ends)) {
        seg(net, xl, r.ends.left[0], xr, r.ends.right[0]);
        continue;
      }
      const x = cols.trackX(g, r.track);
      for (const y of r.ends.left) seg(net, xl, y, x, y);
      for (const y of r.ends.right) seg(net, x, y, xr, y);
      const stops = [...new Set([...r.ends.left, ...r.ends.right])].sort((a, b) => a - b);
      for (let k = 0; k + 1 < stops.length; k++) seg(net, x, stops[k], x, stops[k + 1]);
    }
  }
  for (const [net, items] of slots)
    for (const s of items) {
      const y = routing.endY(net, s);
      seg(net, cols.left(s.col), y, cols.right(s.col), y);
    }
  for (const e of nodeEnds) {
    const y = routing.endY(e.net, e.item);
    if (e.side === 'R') seg(e.net, e.boxEdge, y, cols.right(e.item.col), y);
    else seg(e.net, cols.left(e.item.col), y, e.boxEdge, y);
  }
  return segs;
}

const key = (p: Point) => `${Math.round(p.x * 10)},${Math.round(p.y * 10)}`;

/** Points where three or more segments of one bundle meet: drawn as dots, so a join never reads as a crossing. */
export function junctions(segs: Segment[]): Point[] {
  const degree = new Map<string, { p: Point; n: number }>();
  for (const s of segs)
    for (const p of s) {
      const d = degree.get(key(p)) ?? degree.set(key(p), { p, n: 0 }).get(key(p))!;
      d.n++;
    }
  return [...degree.values()].filter((d) => d.n >= 3).map((d) => d.p);
}

/** Joins segments into as few polylines as possible (through points where exactly two meet), straight runs merged. */
export function polylines(segs: Segment[]): Point[][] {
  const at = new Map<string, number[]>();
  segs.forEach((s, i) => s.forEach((p) => push(at, key(p), i)));
  const used = new Set<number>();
  const lines: Point[][] = [];
  const extend = (line: Point[]) => {
    for (;;) {
      const end = line[line.length - 1];
      const here = at.get(key(end))!;
      if (here.length !== 2) return;
      const nextSeg = here.find((i) => !used.has(i));
      if (nextSeg === undefined) return;
      used.add(nextSeg);
      const s = segs[nextSeg];
      line.push(key(s[0]) === key(end) ? s[1] : s[0]);
    }
  };
  // Start at ends and branch points first, so chains are walked from one end; what remains are loops (none here).
  const order = segs
    .map((_, i) => i)
    .sort((a, b) => Number(at.get(key(segs[b][0]))!.length !== 2) - Number(at.get(key(segs[a][0]))!.length !== 2));
  for (const i of order) {
    if (used.has(i)) continue;
    used.add(i);
    const line = [segs[i][0], segs[i][1]];
    extend(line);
    line.reverse();
    extend(line);
    lines.push(straighten(line));
  }
  return lines;
}

/** Drops points in the middle of a straight run. */
export function straighten(points: Point[]): Point[] {
  const out: Point[] = [];
  for (const p of points) {
    const last = out[out.length - 1];
    if (last && Math.abs(last.x - p.x) < 0.01 && Math.abs(last.y - p.y) < 0.01) continue;
    const before = out[out.length - 2];
    if (
      before &&
      ((Math.abs(before.x - last.x) < 0.01 && Math.abs(last.x - p.x) < 0.01) ||
        (Math.abs(before.y - last.y) < 0.01 && Math.abs(last.y - p.y) < 0.01))
    )
      out[out.length - 1] = p;
    else out.push(p);
  }
  return out;
}

/** Crossings between different bundles' lines: a vertical segment of one crossing a horizontal one of another. */
export function countCrossings(segs: Segment[][]): number {
  const vertical: { net: number; x: number; y0: number; y1: number }[] = [];
  const horizontal: { net: number; y: number; x0: number; x1: number }[] = [];
  segs.forEach((list, net) => {
    for (const [a, b] of list) {
      if (Math.abs(a.x - b.x) < 0.01) vertical.push({ net, x: a.x, y0: Math.min(a.y, b.y), y1: Math.max(a.y, b.y) });
      else horizontal.push({ net, y: a.y, x0: Math.min(a.x, b.x), x1: Math.max(a.x, b.x) });
    }
  });
  vertical.sort((a, b) => a.x - b.x);
  let n = 0;
  for (const h of horizontal) {
    // The vertical segments strictly between its ends, found by binary search.
    let [lo, hi] = [0, vertical.length];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (vertical[mid].x <= h.x0) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < vertical.length && vertical[i].x < h.x1; i++) {
      const v = vertical[i];
      if (v.net !== h.net && h.y > v.y0 && h.y < v.y1) n++;
    }
  }
  return n;
}
