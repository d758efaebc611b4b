/** The dashboard's front page: every environment with its node state counts, and the latest runs. */
import type { LifecycleState, RunRecord } from '../../kernel/types.js';
import { html, page } from './html.js';
import { environmentUrl } from './links.js';
import { runsTable, shortSha, stateBadge, when } from './widgets.js';

export interface EnvironmentSummary {
  repository: string;
  environment: string;
  lastCommit: string | null;
  updatedAt: string;
  nodes: number;
  /** Nodes by lifecycle state (only states that occur). */
  states: Partial<Record<LifecycleState, number>>;
}

/** Renders the environments overview. */
export function environmentsPage(envs: EnvironmentSummary[], runs: RunRecord[]): string {
  const rows = envs.map((e) => {
    const states = (Object.entries(e.states) as [LifecycleState, number][]).map(
      ([s, n]) => html`${stateBadge(s)} ${n} `,
    );
    return html`<tr><td><a href="${environmentUrl(e.repository, e.environment)}"><strong>${e.environment}</strong></a></td><td class="muted">${e.repository}</td>
<td>${e.nodes}</td><td>${states.length ? states : html`<span class="muted">nothing recorded</span>`}</td><td class="mono">${shortSha(e.lastCommit)}</td><td>${when(e.updatedAt)}</td></tr>`;
  });
  const table = envs.length
    ? html`<table class="environments"><thead><tr><th>Environment</th><th>Repository</th><th>Nodes</th><th>States</th><th>Last applied</th><th>Updated</th></tr></thead><tbody>${rows}</tbody></table>`
    : html`<p class="muted">No environment has been planned or applied yet. Run <code>politburo apply ENV</code> or push to an environment's branch.</p>`;
  return page(
    'Environments',
    html`<h1>Environments</h1>${table}<h2>Latest runs</h2>${runsTable(runs, { showEnvironment: true })}<p><a href="/runs">All runs</a></p>`,
  );
}
