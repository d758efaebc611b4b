/** One run: what it was, per-host timelines, and every node's task outcomes and log. */
import type { NodeRunRecord, RunRecord } from '../../kernel/types.js';
import { html, page, type Html } from './html.js';
import { LIVE_SCRIPT_URL, liveRunUrl } from './live.js';
import { environmentUrl, nodeAnchor } from './links.js';
import { timelineHtml } from './timeline.js';
import { at, duration, releasedBy, runBadge, scrollTable, stateBadge, summaryText } from './widgets.js';

/** A node's section; every part live updates touch is always present (controller/dashboard/live.ts). */
function nodeSection(n: NodeRunRecord): Html {
  const took = n.startedAt && n.finishedAt ? duration(Date.parse(n.finishedAt) - Date.parse(n.startedAt)) : '';
  const tasks = n.tasks.map(
    (t) =>
      html`<tr><td>${t.name}</td><td>${t.outcome}</td><td>${t.durationMs !== undefined ? duration(t.durationMs) : ''}</td><td>${t.message ? html`<pre>${t.message}</pre>` : ''}</td></tr>`,
  );
  const lines = n.log ? n.log.split('\n').length : 0;
  return html`<section id="${nodeAnchor(n.path)}" data-node="${n.path}"><h3>${n.path} ${stateBadge(n.state, n.path)} <span class="muted mono" data-node-host="${n.path}">${n.host ?? ''}</span> <span class="muted">${took}</span> <span data-node-task="${n.path}"></span></h3>
<p data-node-reason="${n.path}">${n.reason ? n.reason.split('\n')[0] : ''}</p>
${scrollTable(html`<table class="tasks"${tasks.length ? '' : ' hidden'}><thead><tr><th scope="col">Task</th><th scope="col">Outcome</th><th scope="col">Took</th><th scope="col">Message</th></tr></thead><tbody data-tasks="${n.path}">${tasks}</tbody></table>`, `Tasks of ${n.path}`)}
<details data-log-details="${n.path}"${n.log ? '' : ' hidden'}><summary>Log (${lines} lines)</summary><pre data-log="${n.path}" data-log-length="${[...n.log].length}">${n.log}</pre></details></section>`;
}

/**
 * Where each stopped rollout stopped (docs/language.md, "Rolling batches"), from the reasons its never-started nodes
 * were recorded blocked with: "rollout of web stopped after batch 2 of 3: 1 failure exceeds max_failures 0".
 */
export function rolloutStops(nodes: NodeRunRecord[]): { reason: string; blocked: number }[] {
  const stops = new Map<string, number>();
  for (const n of nodes)
    if (n.state === 'blocked' && n.reason?.startsWith('rollout of '))
      stops.set(n.reason, (stops.get(n.reason) ?? 0) + 1);
  return [...stops].map(([reason, blocked]) => ({ reason, blocked }));
}

/**
 * Renders a run's page, live (its event stream updates it in place). `deploymentUrl`: the environment's deployments
 * on GitHub, when known; `actions` (buttons, right after the title) and `account` (the sign-in line) come from the
 * router.
 */
export function runPage(
  run: RunRecord,
  nodes: NodeRunRecord[],
  extra: { deploymentUrl?: string | null; actions?: Html; account?: Html } = {},
): string {
  const stops = rolloutStops(nodes).map(
    (s) => html`<tr><th>Rollout</th><td class="rollout-stopped">${s.reason} (${s.blocked} not started)</td></tr>`,
  );
  const took = run.finishedAt ? duration(Date.parse(run.finishedAt) - Date.parse(run.startedAt)) : 'still running';
  const releaser = releasedBy(run.trigger);
  return page(
    `Run #${run.id}`,
    html`<h1>Run #${run.id}: ${run.kind} of <a href="${environmentUrl(run.repository, run.environment)}">${run.environment}</a> ${runBadge(run)}</h1><div data-live-region="actions">${extra.actions ?? ''}</div>
<div class="table-wrap"><table class="run"><tbody>
<tr><th>Repository</th><td>${run.repository}</td></tr>
<tr><th>Commit</th><td class="mono">${run.commit ?? '-'}</td></tr>
<tr><th>Trigger</th><td>${run.trigger}</td></tr>
${releaser ? html`<tr><th>Released by</th><td>${releaser}</td></tr>` : ''}
${extra.deploymentUrl ? html`<tr><th>Deployment</th><td><a href="${extra.deploymentUrl}">deployments of ${run.environment} on GitHub</a></td></tr>` : ''}
<tr><th>Started</th><td>${at(run.startedAt)}</td></tr>
<tr><th>Finished</th><td data-run-finished="${run.id}">${at(run.finishedAt)} (${took})</td></tr>
<tr><th>Summary</th><td data-run-summary="${run.id}">${summaryText(run.summary)}</td></tr>
${stops}
</tbody></table></div>
<h2>Timeline</h2><p class="muted">One lane per node, grouped by host.</p>${timelineHtml(run, nodes)}
<h2>Nodes</h2><div data-nodes>${nodes.length ? nodes.map(nodeSection) : html`<p class="muted">No node took part.</p>`}</div>`,
    { live: { stream: liveRunUrl(run.id), script: LIVE_SCRIPT_URL }, account: extra.account },
  );
}
