/** Small pieces shared by the dashboard pages: state badges, times, run rows. */
import type { LifecycleState, RunRecord } from '../../kernel/types.js';
import { STATE_COLOURS } from '../../render/graph/state-colours.js';
import { html, type Html } from './html.js';
import { environmentUrl, runUrl } from './links.js';

const RUN_STATUS_STATE: Record<RunRecord['status'], LifecycleState> = {
  running: 'configuring',
  succeeded: 'ready',
  failed: 'failed',
  cancelled: 'terminated',
};

/** A coloured badge for a lifecycle state, in words; `node`: the node path live updates find it by. */
export function stateBadge(state: LifecycleState, node?: string): Html {
  const c = STATE_COLOURS[state] ?? STATE_COLOURS.defined;
  return html`<span class="state state-${state}"${node !== undefined ? html` data-node-state="${node}"` : ''} style="${`background:${c.fill};border-color:${c.stroke}`}">${state}</span>`;
}

/** A coloured badge for a run status. */
export function statusBadge(status: RunRecord['status']): Html {
  const c = STATE_COLOURS[RUN_STATUS_STATE[status] ?? 'defined'];
  return html`<span class="state" style="${`background:${c.fill};border-color:${c.stroke}`}">${status}</span>`;
}

/**
 * What a run found, in words: a drift check that succeeded says whether it found drift (its summary counts the nodes
 * still drifted, and those healed: reconciler/drift-environment.ts), other runs say their status.
 */
export function runOutcome(run: Pick<RunRecord, 'kind' | 'status' | 'summary'>): {
  text: string;
  state: LifecycleState;
} {
  if (run.kind === 'drift' && run.status === 'succeeded') {
    const drifted = run.summary?.drifted ?? 0;
    const healed = run.summary?.healed ?? 0;
    if (drifted > 0) return { text: 'drift found', state: 'drifted' };
    if (healed > 0) return { text: 'drift healed', state: 'ready' };
    return { text: 'no drift', state: 'ready' };
  }
  return { text: run.status, state: RUN_STATUS_STATE[run.status] ?? 'defined' };
}

/**
 * The badge of a run: its status, or for a drift check what it found ("drift found", never a plain "succeeded").
 * With the run's id it carries `data-run-status` for live updates (controller/dashboard/live.ts).
 */
export function runBadge(run: Pick<RunRecord, 'kind' | 'status' | 'summary'> & { id?: string }): Html {
  const o = runOutcome(run);
  const c = STATE_COLOURS[o.state];
  return html`<span class="${`state run-${o.text.replace(/ /g, '-')}`}"${run.id !== undefined ? html` data-run-status="${run.id}"` : ''} style="${`background:${c.fill};border-color:${c.stroke}`}">${o.text}</span>`;
}

/**
 * Who released a run, from its trigger: `/politburo apply ENV by LOGIN (delivery)` (a comment) or
 * `/politburo apply ENV by LOGIN via dashboard` (the Release button); null for other runs.
 */
export function releasedBy(trigger: string): string | null {
  const m = /^\/politburo apply \S+ by (.+?)(?: \([^)]*\))?$/.exec(trigger);
  return m ? m[1] : null;
}

/** A table that scrolls sideways inside its own box on a narrow screen instead of widening the page. */
export function scrollTable(table: Html, label: string): Html {
  return html`<div class="table-wrap" role="region" aria-label="${label}" tabindex="0">${table}</div>`;
}

export const shortSha = (sha: string | null): string => (sha ? sha.slice(0, 7) : '-');

/** `2026-11-25 11:02:03Z`: compact UTC. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '-';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** A time as `<time datetime="ISO">` with the compact UTC text (`-` when absent). */
export function at(iso: string | null | undefined): Html {
  return iso ? html`<time datetime="${iso}">${when(iso)}</time>` : html`-`;
}

/** `41s`, `3m 05s`. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** `12 ready, 1 failed` from a summary object. */
export function summaryText(summary: Record<string, number> | null): string {
  if (!summary) return '-';
  const parts = Object.entries(summary)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`);
  return parts.length ? parts.join(', ') : 'nothing to do';
}

/**
 * The runs table. Rows and cells carry the run's id for live updates (live.js inserts new runs in this column order);
 * `filter` says which repository or environment the table is limited to.
 */
export function runsTable(
  runs: RunRecord[],
  opts: { showEnvironment: boolean; filter?: { repository?: string; environment?: string } },
): Html {
  const rows = runs.map((r) => {
    const took = r.finishedAt ? duration(Date.parse(r.finishedAt) - Date.parse(r.startedAt)) : 'running';
    return html`<tr data-run-id="${r.id}"><td><a href="${runUrl(r.id)}">#${r.id}</a></td>${opts.showEnvironment ? html`<td><a href="${environmentUrl(r.repository, r.environment)}">${r.environment}</a> <span class="muted">${r.repository}</span></td>` : ''}
<td>${r.kind}</td><td>${runBadge(r)}</td><td class="mono">${shortSha(r.commit)}</td><td>${at(r.startedAt)}</td><td data-run-took="${r.id}">${took}</td><td data-run-summary="${r.id}">${summaryText(r.summary)}</td><td class="muted">${r.trigger}</td><td>${releasedBy(r.trigger) ?? '-'}</td></tr>`;
  });
  const f = opts.filter ?? {};
  const body = html`<tbody data-runs data-runs-show-environment="${String(opts.showEnvironment)}"${f.repository !== undefined ? html` data-runs-repository="${f.repository}"` : ''}${f.environment !== undefined ? html` data-runs-environment="${f.environment}"` : ''}>${rows}</tbody>`;
  return html`${runs.length === 0 ? html`<p class="muted" data-runs-empty>No runs yet.</p>` : ''}${scrollTable(
    html`<table class="runs"${runs.length === 0 ? ' hidden' : ''}><thead><tr><th scope="col">Run</th>${opts.showEnvironment ? html`<th scope="col">Environment</th>` : ''}<th scope="col">Kind</th><th scope="col">Status</th><th scope="col">Commit</th><th scope="col">Started</th><th scope="col">Took</th><th scope="col">Summary</th><th scope="col">Trigger</th><th scope="col">Released by</th></tr></thead>${body}</table>`,
    'Runs',
  )}`;
}
