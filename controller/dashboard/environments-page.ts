/**
 * The dashboard's front page: every environment with its status at a glance (sync with its branch head, health by
 * state, last drift check, apply policy, what waits for release), environments described but never applied, and the
 * latest runs.
 */
import type { LifecycleState, RunRecord } from '../../kernel/types.js';
import { html, page, type Html } from './html.js';
import { environmentUrl } from './links.js';
import { LIVE_LIST_URL, LIVE_SCRIPT_URL } from './live.js';
import type { EnvironmentStatus } from './status-data.js';
import { driftText, healthText, policyText, syncBadge } from './status-widgets.js';
import { at, runsTable, scrollTable, shortSha } from './widgets.js';

export interface EnvironmentSummary {
  repository: string;
  environment: string;
  lastCommit: string | null;
  updatedAt: string;
  nodes: number;
  /** Nodes by lifecycle state (only states that occur). */
  states: Partial<Record<LifecycleState, number>>;
}

const key = (repository: string, environment: string) => `${repository}\0${environment}`;

function row(e: EnvironmentSummary, s: EnvironmentStatus | undefined): Html {
  const waiting = s?.waiting.length
    ? html`${s.waiting.length} since ${at(s.waiting[0].since)}`
    : html`<span class="muted">-</span>`;
  return html`<tr data-env-repository="${e.repository}" data-env-name="${e.environment}"><td><a href="${environmentUrl(e.repository, e.environment)}"><strong>${e.environment}</strong></a><div class="muted">${e.repository}</div></td>
<td>${s ? syncBadge(s.sync) : html`<span class="muted">-</span>`}</td><td data-env-nodes>${e.nodes}</td><td data-env-states>${healthText(e.states)}</td><td class="mono" data-env-commit>${shortSha(e.lastCommit)}</td><td class="mono">${s?.head ? shortSha(s.head.sha) : '-'}</td>
<td>${s ? driftText(s.lastDrift) : '-'}</td><td>${s ? policyText(s) : '-'}</td><td>${waiting}</td><td data-env-updated>${at(e.updatedAt)}</td></tr>`;
}

/**
 * Renders the environments overview, live; `statuses` (status-data.ts) add sync, drift, policy and never-applied
 * ones; `account`: the sign-in line from the router; `liveStatus`: the overview's status signature, so the page script
 * reads the environments again when it changes (a push that starts no run) as after a run starts or ends.
 */
export function environmentsPage(
  envs: EnvironmentSummary[],
  runs: RunRecord[],
  statuses?: EnvironmentStatus[],
  opts: { account?: Html; liveStatus?: string } = {},
): string {
  const byKey = new Map((statuses ?? []).map((s) => [key(s.repository, s.environment), s]));
  const recorded = new Set(envs.map((e) => key(e.repository, e.environment)));
  const neverApplied = (statuses ?? []).filter((s) => !recorded.has(key(s.repository, s.environment)));
  const rows = envs.map((e) => row(e, byKey.get(key(e.repository, e.environment))));
  const table = envs.length
    ? scrollTable(
        html`<table class="environments"><thead><tr><th scope="col">Environment</th><th scope="col">Sync</th><th scope="col">Nodes</th><th scope="col">Health</th><th scope="col">Applied</th><th scope="col">Branch head</th><th scope="col">Last drift check</th><th scope="col">Policy</th><th scope="col">Waiting for release</th><th scope="col">Updated</th></tr></thead><tbody>${rows}</tbody></table>`,
        'Environments',
      )
    : html`<p class="muted">No environment has been planned or applied yet. Run <code>politburo apply ENV</code> or push to an environment's branch.</p>`;
  const described = neverApplied.length
    ? html`<h2>Described, never applied</h2>${scrollTable(
        html`<table class="never-applied"><thead><tr><th scope="col">Environment</th><th scope="col">Repository</th><th scope="col">Status</th><th scope="col">Branch head</th><th scope="col">Waiting for release</th></tr></thead><tbody>${neverApplied.map(
          (s) =>
            html`<tr><td><a href="${environmentUrl(s.repository, s.environment)}"><strong>${s.environment}</strong></a></td><td class="muted">${s.repository}</td><td>${syncBadge(s.sync)} ${policyText(s)}</td><td class="mono">${s.head ? shortSha(s.head.sha) : '-'}</td><td>${s.waiting.length ? html`${s.waiting.length} since ${at(s.waiting[0].since)}` : '-'}</td></tr>`,
        )}</tbody></table>`,
        'Environments described but never applied',
      )}`
    : '';
  return page(
    'Environments',
    html`<h1>Environments</h1><div data-live-region="environments"${opts.liveStatus !== undefined ? html` data-live-status="${opts.liveStatus}"` : ''}>${table}${described}</div><h2>Latest runs</h2>${runsTable(runs, { showEnvironment: true })}<p><a href="/runs">All runs</a></p>`,
    { live: { stream: LIVE_LIST_URL, script: LIVE_SCRIPT_URL }, account: opts.account },
  );
}
