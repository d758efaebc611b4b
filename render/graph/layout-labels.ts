/**
 * Where the label of a bundle goes (docs/cli.md, "politburo graph"): one label per labelled bundle, never on a box,
 * a group's title or border, another label or another bundle's line. Pure.
 *
 * A label sits on a straight run of its own bundle (centred on the line, which it interrupts): a run through a column
 * along the bundle's slot first, else any horizontal piece long enough. A bundle with no such free run asks for a
 * lane: room for labels in a gap, right of its vertical lines, which every line to a right end crosses; the label sits
 * on one of its own lines there.
 */
import type { Box, Segment } from './layout-types.js';

export interface LabelRequest {
  net: number;
  /** Runs through columns along its slots: the segment and the column's extent. */
  runs: { y: number; x0: number; x1: number }[];
  /** Lanes for labels in the gaps it has lines in: where each starts, and the heights of its lines crossing it. */
  lanes: { x: number; ys: number[] }[];
}

export interface Obstacles {
  boxes: Box[];
  segments: Segment[][];
}

const intersects = (a: Box, b: Box): boolean =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

function segmentHits(s: Segment, r: Box): boolean {
  const [x0, x1] = [Math.min(s[0].x, s[1].x), Math.max(s[0].x, s[1].x)];
  const [y0, y1] = [Math.min(s[0].y, s[1].y), Math.max(s[0].y, s[1].y)];
  return x0 <= r.x + r.width && x1 >= r.x && y0 <= r.y + r.height && y1 >= r.y;
}

/**
 * Places the labels; returns each net's label box, and the nets that found no place and need a lane. A label may
 * cover only its own bundle's line that runs through its middle.
 */
export function placeLabels(
  requests: LabelRequest[],
  own: (net: number) => Segment[],
  size: { width: number; height: number },
  obstacles: Obstacles,
): { labels: Map<number, Box>; needLane: number[] } {
  const { width: w, height: h } = size;
  const placed: Box[] = [];
  const labels = new Map<number, Box>();
  const needLane: number[] = [];
  const grid = segmentGrid(obstacles.segments);
  const free = (net: number, r: Box, line: number | null): boolean => {
    const pad = { x: r.x - 2, y: r.y - 1, width: r.width + 4, height: r.height + 2 };
    if (obstacles.boxes.some((b) => intersects(b, pad)) || placed.some((b) => intersects(b, pad))) return false;
    if (grid.near(pad).some((s) => s.net !== net && segmentHits(s.seg, pad))) return false;
    return own(net).every(
      (s) => !segmentHits(s, r) || (line !== null && Math.abs(s[0].y - line) < 0.01 && Math.abs(s[1].y - line) < 0.01),
    );
  };
  for (const req of requests) {
    const candidates: { box: Box; line: number | null }[] = [];
    const runs = [...req.runs].sort(
      (a, b) => Math.abs(a.x0 - mid(req.runs)) - Math.abs(b.x0 - mid(req.runs)) || a.x0 - b.x0,
    );
    for (const run of runs)
      if (run.x1 - run.x0 >= w + 4)
        candidates.push({ box: { x: (run.x0 + run.x1 - w) / 2, y: run.y - h / 2, width: w, height: h }, line: run.y });
    const horizontal = own(req.net)
      .filter((s) => Math.abs(s[0].y - s[1].y) < 0.01 && Math.abs(s[0].x - s[1].x) >= w + 8)
      .sort((a, b) => Math.max(b[0].x, b[1].x) - Math.max(a[0].x, a[1].x));
    for (const s of horizontal) {
      const x = (s[0].x + s[1].x - w) / 2;
      candidates.push({ box: { x, y: s[0].y - h / 2, width: w, height: h }, line: s[0].y });
    }
    for (const lane of req.lanes)
      for (const y of lane.ys) candidates.push({ box: { x: lane.x + 2, y: y - h / 2, width: w, height: h }, line: y });
    const hit = candidates.find((c) => free(req.net, c.box, c.line));
    if (hit) {
      labels.set(req.net, hit.box);
      placed.push(hit.box);
    } else needLane.push(req.net);
  }
  return { labels, needLane };
}

const mid = (runs: { x0: number; x1: number }[]) => (runs.length ? (runs[0].x0 + runs[runs.length - 1].x1) / 2 : 0);

const CELL = 64;

/** Segments by the grid cells their extent covers, to find those near a box without looking at all. */
function segmentGrid(segments: Segment[][]): { near: (b: Box) => { net: number; seg: Segment }[] } {
  const cells = new Map<string, { net: number; seg: Segment }[]>();
  const range = (a: number, b: number) => [Math.floor(Math.min(a, b) / CELL), Math.floor(Math.max(a, b) / CELL)];
  segments.forEach((list, net) => {
    for (const seg of list) {
      const [x0, x1] = range(seg[0].x, seg[1].x);
      const [y0, y1] = range(seg[0].y, seg[1].y);
      for (let x = x0; x <= x1; x++)
        for (let y = y0; y <= y1; y++) {
          const k = `${x},${y}`;
          (cells.get(k) ?? cells.set(k, []).get(k)!).push({ net, seg });
        }
    }
  });
  return {
    near(b) {
      const [x0, x1] = range(b.x, b.x + b.width);
      const [y0, y1] = range(b.y, b.y + b.height);
      const out: { net: number; seg: Segment }[] = [];
      for (let x = x0; x <= x1; x++) for (let y = y0; y <= y1; y++) out.push(...(cells.get(`${x},${y}`) ?? []));
      return out;
    },
  };
}
