// Plane geometry for the layout's tests: segments against boxes and against each other. Independent of the layout's
// own code, so the tests measure the drawing rather than repeat its reasoning.
import type { Box, Point } from '../../../../render/graph/layered-layout.js';

export const EPS = 0.01;

/** Whether the segment p–q passes through the inside of box b (touching its border from outside does not count). */
export function segmentCrossesBox(p: Point, q: Point, b: Box): boolean {
  // Shrink the box a little: a segment running along a border or ending on it does not enter the box.
  const x0 = b.x + EPS;
  const y0 = b.y + EPS;
  const x1 = b.x + b.width - EPS;
  const y1 = b.y + b.height - EPS;
  // Liang–Barsky clipping of the segment against the rectangle.
  let t0 = 0;
  let t1 = 1;
  const dx = q.x - p.x;
  const dy = q.y - p.y;
  const edges: [number, number][] = [
    [-dx, p.x - x0],
    [dx, x1 - p.x],
    [-dy, p.y - y0],
    [dy, y1 - p.y],
  ];
  for (const [pp, qq] of edges) {
    if (pp === 0) {
      if (qq < 0) return false;
    } else {
      const t = qq / pp;
      if (pp < 0) t0 = Math.max(t0, t);
      else t1 = Math.min(t1, t);
      if (t0 > t1) return false;
    }
  }
  return t1 - t0 > 1e-9;
}

/** Whether the segment p–q touches box b at all (inside or on its border, `margin` around it included). */
export function segmentTouchesBox(p: Point, q: Point, b: Box, margin = 0): boolean {
  return segmentCrossesBox(p, q, {
    x: b.x - margin - 2 * EPS,
    y: b.y - margin - 2 * EPS,
    width: b.width + 2 * margin + 4 * EPS,
    height: b.height + 2 * margin + 4 * EPS,
  });
}

export const onBorder = (p: Point, b: Box): boolean => {
  const inX = p.x >= b.x - EPS && p.x <= b.x + b.width + EPS;
  const inY = p.y >= b.y - EPS && p.y <= b.y + b.height + EPS;
  const nearX = Math.abs(p.x - b.x) < EPS || Math.abs(p.x - b.x - b.width) < EPS;
  const nearY = Math.abs(p.y - b.y) < EPS || Math.abs(p.y - b.y - b.height) < EPS;
  return (inX && inY && nearX) || (inX && inY && nearY);
};

export const overlaps = (a: Box, b: Box): boolean =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

export const contains = (outer: Box, inner: Box): boolean =>
  inner.x >= outer.x &&
  inner.y >= outer.y &&
  inner.x + inner.width <= outer.x + outer.width &&
  inner.y + inner.height <= outer.y + outer.height;

const cross = (o: Point, a: Point, b: Point) => (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);

/** Distance from point p to segment a–b. */
export function distanceToSegment(p: Point, a: Point, b: Point): number {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2));
  return Math.hypot(p.x - a.x - t * dx, p.y - a.y - t * dy);
}

/**
 * How two segments meet: 'none' (farther apart than `gap` everywhere), 'cross' (a clean crossing: each passes
 * through the other's inside, every end farther than `gap` from the other segment) or 'touch' (anything else: one
 * ends on or near the other, they overlap or run closer than `gap`) — a touch of two different bundles' lines would
 * read as one line joining the other.
 */
export function meet(a0: Point, a1: Point, b0: Point, b1: Point, gap: number): 'none' | 'cross' | 'touch' {
  const ends = [
    distanceToSegment(a0, b0, b1),
    distanceToSegment(a1, b0, b1),
    distanceToSegment(b0, a0, a1),
    distanceToSegment(b1, a0, a1),
  ];
  const d1 = cross(a0, a1, b0);
  const d2 = cross(a0, a1, b1);
  const d3 = cross(b0, b1, a0);
  const d4 = cross(b0, b1, a1);
  const proper = d1 * d2 < 0 && d3 * d4 < 0;
  if (proper) return ends.every((d) => d >= gap) ? 'cross' : 'touch';
  return ends.some((d) => d < gap) ? 'touch' : 'none';
}
