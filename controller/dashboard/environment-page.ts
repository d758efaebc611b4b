/** One environment: its dependency graph coloured by state, its nodes, task success rates and runs. */
import type { RecordedNode, RunRecord } from '../../kernel/types.js';
import { html, page, raw } from './html.js';
import { environmentUrl, nodeAnchor, runUrl } from './links.js';
import { runsTable, shortSha, stateBadge, when } from './widgets.js';

interface EnvironmentView {
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
}

function nodesTable(v: EnvironmentView): ReturnType<typeof html> {
  const rows = [
    ...v.nodes.map(
      (
        n,
      ) => html`<tr id="${nodeAnchor(n.path)}"><td>${n.path}</td><td>${n.host ?? '-'}</td><td>${stateBadge(n.state)}</td>
<td>${(n.reason ?? '').split('\n')[0]}</td><td class="mono">${shortSha(n.lastAppliedCommit)}</td><td>${n.lastRunId ? html`<a href="${runUrl(n.lastRunId)}">#${n.lastRunId}</a>` : '-'}</td><td>${when(n.updatedAt)}</td></tr>`,
    ),
    ...v.definedOnly.map(
      (n) =>
        html`<tr id="${nodeAnchor(n.path)}"><td>${n.path}</td><td>${n.host ?? '(on demand)'}</td><td>${stateBadge('defined')}</td><td class="muted">never applied</td><td>-</td><td>-</td><td>-</td></tr>`,
    ),
  ];
  if (rows.length === 0) return html`<p class="muted">No nodes.</p>`;
  return html`<table class="nodes"><thead><tr><th>Node</th><th>Host</th><th>State</th><th>Reason</th><th>Applied commit</th><th>Last run</th><th>Updated</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function ratesTable(rates: EnvironmentView['rates']): ReturnType<typeof html> {
  if (rates.length === 0) return html`<p class="muted">No task has run yet.</p>`;
  const rows = rates.map((r) => {
    const pct = r.runs ? Math.round((100 * r.succeeded) / r.runs) : 0;
    return html`<tr><td>${r.task}</td><td><span class="rate-bg"><span class="rate" style="${`width:${pct}%`}"></span></span>${pct}%</td><td>${r.succeeded} of ${r.runs}</td></tr>`;
  });
  return html`<table class="rates"><thead><tr><th>Task</th><th>% successful runs</th><th>Runs</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** Renders an environment's page. */
export function environmentPage(v: EnvironmentView): string {
  const note = v.fromDescription
    ? ''
    : html`<p class="muted">The description is not available here: the graph shows recorded nodes only, without dependencies.</p>`;
  const graph = v.svg
    ? html`<div class="graph">${raw(v.svg)}</div>`
    : html`<p class="muted">${v.tooManyNodes ? `Too many nodes to draw here (${v.nodes.length + v.definedOnly.length}): use politburo graph ${v.environment} --format dot.` : 'Nothing to draw.'}</p>`;
  return page(
    v.environment,
    html`<h1>${v.environment} <span class="muted">${v.repository}</span></h1>
<h2>Dependency graph</h2>${note}${graph}${v.svg ? html`<p><a href="${`${environmentUrl(v.repository, v.environment)}/graph.svg`}">graph.svg</a></p>` : ''}
<h2>Nodes</h2>${nodesTable(v)}
<h2>Tasks</h2>${ratesTable(v.rates)}
<h2>Runs</h2>${runsTable(v.runs, { showEnvironment: false })}`,
  );
}
