/**
 * Where each bundle's vertical line stands in a gap between two columns (docs/cli.md, "politburo graph"). Pure.
 *
 * A bundle in a gap is drawn as horizontal lines from its left ends to its vertical line (its track), the vertical
 * line, and horizontal lines on to its right ends. Tracks are ordered left to right so that few horizontal lines cross
 * another bundle's vertical line, and never where a line would run into another bundle's line or touch it at a bend
 * (that would read as one bundle joining another); then bundles whose vertical lines are far enough apart share a
 * track, which keeps the gap narrow.
 */

/** A bundle in a gap, reduced to the heights of its ends on either side. */
export interface GapEnds {
  left: number[];
  right: number[];
  lo: number;
  hi: number;
  /** All its heights, sorted. */
  all: number[];
}

export function gapEnds(left: number[], right: number[]): GapEnds {
  const all = [...left, ...right].sort((a, b) => a - b);
  return { left, right, lo: all[0], hi: all[all.length - 1], all };
}

/** Two heights closer than this are one point to the eye. */
export const NEAR = 4;
/** Vertical lines on one track keep at least this far apart. */
const SAME_TRACK_GAP = 8;
/** What a line that would run into or touch another bundle costs, against 1 for a clean crossing. */
const CLASH = 1000;

/** Whether one of the bundle's ends is within NEAR of height y (binary search in its sorted heights). */
function near(y: number, ends: GapEnds): boolean {
  if (y <= ends.lo - NEAR || y >= ends.hi + NEAR) return false;
  const all = ends.all;
  let [lo, hi] = [0, all.length];
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (all[mid] <= y - NEAR) lo = mid + 1;
    else hi = mid;
  }
  return lo < all.length && all[lo] < y + NEAR;
}

/**
 * What it costs when `a`'s vertical line is left of `b`'s: each bundle is drawn as lines from its left ends to its
 * own vertical line, the vertical line, and lines from it to its right ends. A line from a left end reaches every
 * vertical line left of its own, a line to a right end every one right of its own: each that passes through the other
 * bundle's vertical extent crosses it (1), one that comes near one of its ends clashes (`clash` more).
 */
export function orderCost(a: GapEnds, b: GapEnds, clash = CLASH): number {
  let n = 0;
  for (const y of a.right) n += (near(y, b) ? clash : 0) + (y > b.lo && y < b.hi ? 1 : 0);
  for (const y of b.left) n += (near(y, a) ? clash : 0) + (y > a.lo && y < a.hi ? 1 : 0);
  return n;
}

/** A bundle drawn as one straight line across the gap: one end on each side, at one height. */
export const isStraight = (e: GapEnds): boolean =>
  e.left.length === 1 && e.right.length === 1 && Math.abs(e.left[0] - e.right[0]) < 0.01;

/** Two bundles whose lines would run into each other: `left`'s line to its right end at `yLeft` runs into `right`'s
 * line from its left end at `yRight` (their tracks in that order). Resolved by moving an end (layout-route.ts). */
export interface Clash {
  left: number;
  yLeft: number;
  right: number;
  yRight: number;
}

/**
 * Tracks for the bundles of one gap (straight ones get none: -1), numbered from 0 at the left; how many there are;
 * and the clashes no order avoids (a bundle's right end level with another's left end, and the other way round).
 */
export function assignTracks(ends: GapEnds[]): { track: number[]; tracks: number; clashes: Clash[] } {
  const idx = ends.map((_, i) => i).filter((i) => !isStraight(ends[i]));
  const track = ends.map(() => -1);
  if (idx.length === 0) return { track, tracks: 0, clashes: [] };
  const overlap = (a: GapEnds, b: GapEnds, gap: number) => a.lo < b.hi + gap && b.lo < a.hi + gap;
  // cost[i][j]: what bundle idx[i] left of bundle idx[j] costs; only pairs close enough to interact count.
  const n = idx.length;
  const cost = idx.map((i) =>
    idx.map((j) => (i !== j && overlap(ends[i], ends[j], NEAR) ? orderCost(ends[i], ends[j]) : 0)),
  );
  const order = firstOrder(cost);
  // Adjacent swaps while one lowers the cost.
  for (let pass = 0, changed = true; changed && pass < n; pass++) {
    changed = false;
    for (let k = 0; k + 1 < n; k++) {
      const [a, b] = [order[k], order[k + 1]];
      if (cost[b][a] < cost[a][b]) {
        order[k] = b;
        order[k + 1] = a;
        changed = true;
      }
    }
  }
  // Compaction: each bundle one track right of the rightmost earlier bundle its vertical line would come close to.
  let tracks = 0;
  order.forEach((k, pos) => {
    let t = 0;
    for (let q = 0; q < pos; q++) {
      const j = order[q];
      if (overlap(ends[idx[k]], ends[idx[j]], SAME_TRACK_GAP)) t = Math.max(t, track[idx[j]] + 1);
    }
    track[idx[k]] = t;
    tracks = Math.max(tracks, t + 1);
  });
  const clashes: Clash[] = [];
  for (const a of idx)
    for (const b of idx)
      if (track[a] < track[b] && overlap(ends[a], ends[b], NEAR))
        for (const ya of ends[a].right)
          for (const yb of ends[b].left)
            if (Math.abs(ya - yb) < NEAR) clashes.push({ left: a, yLeft: ya, right: b, yRight: yb });
  return { track, tracks, clashes };
}

/**
 * An order that keeps every bundle left of those it must be left of (a clash otherwise) where that is possible,
 * otherwise by how much each prefers the left side.
 */
function firstOrder(cost: number[][]): number[] {
  const n = cost.length;
  const pref = cost.map((row, i) => row.reduce((s, c, j) => s + c - cost[j][i], 0));
  const must = (a: number, b: number) => cost[b][a] >= CLASH && cost[a][b] < CLASH;
  const before = Array.from({ length: n }, (_, b) => cost.reduce((s, _r, a) => s + (a !== b && must(a, b) ? 1 : 0), 0));
  const done = new Array<boolean>(n).fill(false);
  const order: number[] = [];
  for (let k = 0; k < n; k++) {
    let pick = -1;
    for (const free of [true, false]) {
      for (let i = 0; i < n; i++)
        if (!done[i] && (!free || before[i] === 0) && (pick < 0 || pref[i] < pref[pick])) pick = i;
      if (pick >= 0) break;
    }
    done[pick] = true;
    order.push(pick);
    for (let b = 0; b < n; b++) if (!done[b] && must(pick, b)) before[b]--;
  }
  return order;
}
