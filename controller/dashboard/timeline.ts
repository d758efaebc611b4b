/** Per-host timelines of a run: one lane per host, a bar per node from its start to its finish. */
import type { NodeRunRecord, RunRecord } from '../../kernel/types.js';
import { STATE_COLOURS } from '../../render/graph/state-colours.js';
import { html, type Html } from './html.js';
import { nodeAnchor } from './links.js';
import { duration } from './widgets.js';

interface TimelineBar {
  path: string;
  state: NodeRunRecord['state'];
  /** Percentages of the run's span. */
  left: number;
  width: number;
  ms: number;
}

interface TimelineLane {
  host: string;
  bars: TimelineBar[];
}

/**
 * Lanes by host (in order of first start), bars placed relative to the run's span; nodes never started are left out.
 */
export function timelineLanes(
  run: RunRecord,
  nodes: NodeRunRecord[],
  now = Date.now(),
): { lanes: TimelineLane[]; spanMs: number } {
  const started = nodes.filter((n) => n.startedAt).sort((a, b) => Date.parse(a.startedAt!) - Date.parse(b.startedAt!));
  const t0 = Math.min(Date.parse(run.startedAt), ...started.map((n) => Date.parse(n.startedAt!)));
  const end = (n: NodeRunRecord): number =>
    n.finishedAt ? Date.parse(n.finishedAt) : run.finishedAt ? Date.parse(run.finishedAt) : now;
  const t1 = Math.max(run.finishedAt ? Date.parse(run.finishedAt) : now, ...started.map(end), t0 + 1);
  const span = t1 - t0;
  const lanes = new Map<string, TimelineLane>();
  for (const n of started) {
    const host = n.host ?? '(no host)';
    let lane = lanes.get(host);
    if (!lane) lanes.set(host, (lane = { host, bars: [] }));
    const s = Date.parse(n.startedAt!);
    const e = Math.max(end(n), s);
    lane.bars.push({
      path: n.path,
      state: n.state,
      left: (100 * (s - t0)) / span,
      width: Math.max(0.5, (100 * (e - s)) / span),
      ms: e - s,
    });
  }
  return { lanes: [...lanes.values()], spanMs: span };
}

/** Renders the lanes as HTML bars (no script, no canvas). */
export function timelineHtml(run: RunRecord, nodes: NodeRunRecord[]): Html {
  const { lanes, spanMs } = timelineLanes(run, nodes);
  if (lanes.length === 0) return html`<p class="muted">No node has started in this run.</p>`;
  const rows = lanes.map((lane) => {
    const bars = lane.bars.map((b) => {
      const c = STATE_COLOURS[b.state] ?? STATE_COLOURS.defined;
      const style = `left:${b.left.toFixed(2)}%;width:${b.width.toFixed(2)}%;background:${c.fill};border-color:${c.stroke}`;
      return html`<a class="bar" href="${`#${nodeAnchor(b.path)}`}" style="${style}" title="${`${b.path}: ${b.state} in ${duration(b.ms)}`}">${b.path}</a>`;
    });
    return html`<div class="lane"><div class="host mono" title="${lane.host}">${lane.host}</div><div class="track">${bars}</div></div>`;
  });
  return html`<div class="timeline">${rows}<div class="muted" style="text-align:right;font-size:12px">0 — ${duration(spanMs)}</div></div>`;
}
