/**
 * One environment: its status at a glance (sync with the branch head, health, last drift check, apply policy,
 * releases, deployments), its dependency graph coloured by state, its nodes, task success rates and runs. The parts the
 * page script cannot update from events alone carry `data-live-region`: it fetches the page again and puts in those
 * that changed (docs/controller.md, "Live updates").
 */
import type { LifecycleState, RecordedNode, RunRecord } from '../../kernel/types.js';
import { html, page, raw, type Html } from './html.js';
import { environmentUrl, nodeAnchor, runUrl } from './links.js';
import { LIVE_SCRIPT_URL, liveEnvironmentUrl } from './live.js';
import type { EnvironmentStatus } from './status-data.js';
import { driftText, healthText, policyText, syncBadge, syncDetail, waitingText } from './status-widgets.js';
import { at, runsTable, scrollTable, shortSha, stateBadge } from './widgets.js';

export interface EnvironmentView {
  repository: string;
  environment: string;
  /** The drawing (from the SVG renderer), or null when there are no nodes to draw. */
  svg: string | null;
  /** Whether the graph comes from the description (with dependencies) or only from the recorded nodes. */
  fromDescription: boolean;
  /** More nodes than the page draws. */
  tooManyNodes?: boolean;
  nodes: RecordedNode[];
  /** Described nodes never recorded (shown as `defined`). */
  definedOnly: { path: string; host: string | null }[];
  rates: { task: string; runs: number; succeeded: number }[];
  runs: RunRecord[];
  /** Status at a glance (controller/dashboard/status-data.ts); absent: the section is left out. */
  status?: EnvironmentStatus;
  /** The status signature the page was drawn at (status-data.ts statusSignature), for the live updates. */
  liveStatus?: string;
  /** Action buttons (from the router), shown right after the title. */
  actions?: Html;
  /** The sign-in line (from the router), at the end of the header. */
  account?: Html;
}

function nodesTable(v: EnvironmentView): Html {
  const rows = [
    ...v.nodes.map(
      (
        n,
      ) => html`<tr id="${nodeAnchor(n.path)}" data-node-row="${n.path}" data-node-recorded><td>${n.path}</td><td class="mono">${n.host ?? '-'}</td><td>${stateBadge(n.state, n.path)}</td>
<td data-node-reason="${n.path}">${(n.reason ?? '').split('\n')[0]}</td><td class="mono" data-node-commit="${n.path}">${shortSha(n.lastAppliedCommit)}</td><td data-node-run="${n.path}">${n.lastRunId ? html`<a href="${runUrl(n.lastRunId)}">#${n.lastRunId}</a>` : '-'}</td><td data-node-updated="${n.path}">${at(n.updatedAt)}</td></tr>`,
    ),
    ...v.definedOnly.map(
      (n) =>
        html`<tr id="${nodeAnchor(n.path)}" data-node-row="${n.path}"><td>${n.path}</td><td class="mono">${n.host ?? '(on demand)'}</td><td>${stateBadge('defined', n.path)}</td><td class="muted" data-node-reason="${n.path}">never applied</td><td data-node-commit="${n.path}">-</td><td data-node-run="${n.path}">-</td><td data-node-updated="${n.path}">-</td></tr>`,
    ),
  ];
  if (rows.length === 0) return html`<p class="muted">No nodes.</p>`;
  return scrollTable(
    html`<table class="nodes"><thead><tr><th scope="col">Node</th><th scope="col">Host</th><th scope="col">State</th><th scope="col">Reason</th><th scope="col">Applied commit</th><th scope="col">Last run</th><th scope="col">Updated</th></tr></thead><tbody>${rows}</tbody></table>`,
    'Nodes',
  );
}

/** The "% successful runs" bar: the fill is drawn over its track, so 100% shows no failure colour at all. */
export function rateBar(pct: number): Html {
  const p = Math.max(0, Math.min(100, pct));
  return html`<span class="rate-bg" aria-hidden="true"><span class="rate" style="${`width:${p}%`}"></span></span>${p}%`;
}

function ratesTable(rates: EnvironmentView['rates']): Html {
  if (rates.length === 0) return html`<p class="muted">No task has run yet.</p>`;
  const rows = rates.map((r) => {
    const pct = r.runs ? Math.round((100 * r.succeeded) / r.runs) : 0;
    return html`<tr><td>${r.task}</td><td>${rateBar(pct)}</td><td>${r.succeeded} of ${r.runs}</td></tr>`;
  });
  return scrollTable(
    html`<table class="rates"><thead><tr><th scope="col">Task</th><th scope="col">% successful runs</th><th scope="col">Runs</th></tr></thead><tbody>${rows}</tbody></table>`,
    'Task success rates',
  );
}

function countStates(v: EnvironmentView): Partial<Record<LifecycleState, number>> {
  const out: Partial<Record<LifecycleState, number>> = {};
  for (const n of v.nodes) out[n.state] = (out[n.state] ?? 0) + 1;
  if (v.definedOnly.length) out.defined = (out.defined ?? 0) + v.definedOnly.length;
  return out;
}

/**
 * The recorded nodes' counts by state as the environment's live event gives them (`ready 2,failed 1`, by state name),
 * the last applied commit and the status signature (pushes, releases, policy): the page script compares them with each
 * event to know when the glance is out of date.
 */
function glanceMarks(v: EnvironmentView): Html {
  const counts = new Map<string, number>();
  for (const n of v.nodes) counts.set(n.state, (counts.get(n.state) ?? 0) + 1);
  const states = [...counts.keys()]
    .sort()
    .map((st) => `${st} ${counts.get(st)}`)
    .join(',');
  return html` data-live-region="glance" data-live-states="${states}"${v.status ? html` data-live-commit="${shortSha(v.status.applied)}"` : ''}${v.liveStatus !== undefined ? html` data-live-status="${v.liveStatus}"` : ''}`;
}

/** Status at a glance: one card each for sync, health, drift, policy and releases. */
function glance(v: EnvironmentView): Html {
  const s = v.status;
  const health = html`<div class="card"><h2>Health</h2>${healthText(countStates(v))}</div>`;
  if (!s) return html`<section class="glance" aria-label="Status at a glance"${glanceMarks(v)}>${health}</section>`;
  const released = s.released.length
    ? html`<div class="muted">last released: <span class="mono">${shortSha(s.released[0].commit)}</span> by ${s.released[0].by} ${at(s.released[0].at)}</div>`
    : '';
  const deployment = s.deployment
    ? html`<div><a href="${s.deployment.url}">deployments on GitHub</a> <span class="muted">${s.deployment.state ?? ''} ${shortSha(s.deployment.commit)}</span></div>`
    : html`<div class="muted">no deployment on GitHub recorded</div>`;
  return html`<section class="glance" aria-label="Status at a glance"${glanceMarks(v)}>
<div class="card"><h2>Sync</h2>${syncBadge(s.sync)}<div>${syncDetail(s)}</div></div>
${health}
<div class="card"><h2>Last drift check</h2>${driftText(s.lastDrift)}</div>
<div class="card"><h2>Apply policy</h2>${policyText(s)}${released}${deployment}</div>
<div class="card"><h2>Waiting for release</h2>${waitingText(s)}</div>
</section>`;
}

/** The releases table: who released which commit, when. */
function releasesTable(s: EnvironmentStatus | undefined): Html {
  if (!s || !s.released.length) return html``;
  const rows = s.released.map(
    (r) => html`<tr><td class="mono">${shortSha(r.commit)}</td><td>${r.by}</td><td>${at(r.at)}</td></tr>`,
  );
  return html`<h2>Releases</h2>${scrollTable(html`<table class="releases"><thead><tr><th scope="col">Commit</th><th scope="col">Released by</th><th scope="col">When</th></tr></thead><tbody>${rows}</tbody></table>`, 'Releases')}`;
}

/** The drawing with a size choice (fit, 100%, 150%) that needs no script, in a box that scrolls both ways. */
function graphBox(svg: string, environment: string): Html {
  return html`<div class="graph-box"><span class="muted">Size:</span>
<input type="radio" name="zoom" id="zoom-fit" checked><label for="zoom-fit">fit</label><input type="radio" name="zoom" id="zoom-100"><label for="zoom-100">100%</label><input type="radio" name="zoom" id="zoom-150"><label for="zoom-150">150%</label>
<div class="graph" role="region" aria-label="${`Dependency graph of ${environment}`}" tabindex="0">${raw(svg)}</div></div>`;
}

/** Renders an environment's page. */
export function environmentPage(v: EnvironmentView): string {
  const note = v.fromDescription
    ? ''
    : html`<p class="muted">The description is not available here: the graph shows recorded nodes only, without dependencies.</p>`;
  const graph = v.svg
    ? graphBox(v.svg, v.environment)
    : html`<p class="muted">${v.tooManyNodes ? `Too many nodes to draw here (${v.nodes.length + v.definedOnly.length}): use politburo graph ${v.environment} --format dot.` : 'Nothing to draw.'}</p>`;
  return page(
    v.environment,
    html`<h1>${v.environment} <span class="muted">${v.repository}</span></h1><div data-live-region="actions">${v.actions ?? ''}</div>
${glance(v)}
<h2>Dependency graph</h2><div data-live-region="graph">${note}${graph}${v.svg ? html`<p><a href="${`${environmentUrl(v.repository, v.environment)}/graph.svg`}">graph.svg</a> (opens the drawing alone)</p>` : ''}</div>
<h2>Nodes</h2><div data-live-region="nodes">${nodesTable(v)}</div>
<h2>Tasks</h2><div data-live-region="tasks">${ratesTable(v.rates)}</div>
<div data-live-region="releases">${releasesTable(v.status)}</div>
<h2>Runs</h2>${runsTable(v.runs, { showEnvironment: false, filter: { repository: v.repository, environment: v.environment } })}`,
    { live: { stream: liveEnvironmentUrl(v.repository, v.environment), script: LIVE_SCRIPT_URL }, account: v.account },
  );
}
