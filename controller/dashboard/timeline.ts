/**
 * The timeline of a run: one lane per node, lanes grouped under their host, a bar per node from its start to its
 * finish, coloured and labelled with its state.
 */
import type { NodeRunRecord, RunRecord } from '../../kernel/types.js';
import { STATE_COLOURS } from '../../render/graph/state-colours.js';
import { html, type Html } from './html.js';
import { nodeAnchor } from './links.js';
import { duration } from './widgets.js';

export interface TimelineBar {
  path: string;
  state: NodeRunRecord['state'];
  /** Percentages of the run's span. */
  left: number;
  width: number;
  ms: number;
}

export interface TimelineHost {
  host: string;
  /** One lane (bar) per node, in order of start. */
  lanes: TimelineBar[];
}

/**
 * Hosts in order of their first node's start, each with one lane per node in order of start, bars placed relative to
 * the run's span; nodes never started are left out.
 */
export function timelineLanes(
  run: RunRecord,
  nodes: NodeRunRecord[],
  now = Date.now(),
): { hosts: TimelineHost[]; spanMs: number } {
  const started = nodes.filter((n) => n.startedAt).sort((a, b) => Date.parse(a.startedAt!) - Date.parse(b.startedAt!));
  const t0 = Math.min(Date.parse(run.startedAt), ...started.map((n) => Date.parse(n.startedAt!)));
  const end = (n: NodeRunRecord): number =>
    n.finishedAt ? Date.parse(n.finishedAt) : run.finishedAt ? Date.parse(run.finishedAt) : now;
  const t1 = Math.max(run.finishedAt ? Date.parse(run.finishedAt) : now, ...started.map(end), t0 + 1);
  const span = t1 - t0;
  const hosts = new Map<string, TimelineHost>();
  for (const n of started) {
    const host = n.host ?? '(no host)';
    let group = hosts.get(host);
    if (!group) hosts.set(host, (group = { host, lanes: [] }));
    const s = Date.parse(n.startedAt!);
    const e = Math.max(end(n), s);
    group.lanes.push({
      path: n.path,
      state: n.state,
      left: (100 * (s - t0)) / span,
      width: Math.max(0.5, (100 * (e - s)) / span),
      ms: e - s,
    });
  }
  return { hosts: [...hosts.values()], spanMs: span };
}

/**
 * Renders the timeline as HTML (no script, no canvas): a labelled group per host, a lane per node. The live script
 * (assets/live-client.ts) keeps it up to date while the run is live, placing bars as `timelineLanes` does from the
 * times its event stream sends; groups carry `data-timeline-host`, lanes `data-lane`.
 */
export function timelineHtml(run: RunRecord, nodes: NodeRunRecord[]): Html {
  const { hosts, spanMs } = timelineLanes(run, nodes);
  const groups = hosts.map((h) => {
    const lanes = h.lanes.map((b) => {
      const c = STATE_COLOURS[b.state] ?? STATE_COLOURS.defined;
      const style = `left:${b.left.toFixed(2)}%;width:${b.width.toFixed(2)}%;background:${c.fill};border-color:${c.stroke}`;
      const what = `${b.path}: ${b.state} in ${duration(b.ms)}`;
      return html`<div class="lane" role="listitem" data-lane="${b.path}"><div class="node mono" title="${b.path}">${b.path}</div><div class="track"><a class="bar" href="${`#${nodeAnchor(b.path)}`}" style="${style}" title="${what}" aria-label="${what}">${b.state} · ${duration(b.ms)}</a></div></div>`;
    });
    return html`<div class="host-group" role="group" aria-label="${`host ${h.host}`}" data-timeline-host="${h.host}"><div class="host-label mono" title="${h.host}">${h.host}</div><div role="list">${lanes}</div></div>`;
  });
  const empty = hosts.length === 0;
  return html`${empty ? html`<p class="muted" data-timeline-empty>No node has started in this run.</p>` : ''}<div class="timeline" data-timeline${empty ? ' hidden' : ''}>${groups}<div class="muted" data-timeline-span style="text-align:right;font-size:12px">0 — ${duration(spanMs)}</div></div>`;
}
