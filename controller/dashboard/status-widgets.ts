/** How an environment's status reads on the dashboard: sync, policy, last drift check, releases (status-data.ts). */
import type { LifecycleState } from '../../kernel/types.js';
import { STATE_COLOURS } from '../../render/graph/state-colours.js';
import { html, type Html } from './html.js';
import { runUrl } from './links.js';
import type { DriftCheck, EnvironmentStatus, SyncState } from './status-data.js';
import { at, shortSha, stateBadge } from './widgets.js';

const SYNC: Record<SyncState, { text: string; colour: LifecycleState }> = {
  'in-sync': { text: 'in sync', colour: 'ready' },
  'out-of-sync': { text: 'out of sync', colour: 'drifted' },
  applying: { text: 'applying', colour: 'configuring' },
  'waiting-release': { text: 'waiting for release', colour: 'provisioned' },
  suspended: { text: 'suspended', colour: 'terminated' },
  'never-applied': { text: 'never applied', colour: 'defined' },
  unknown: { text: 'head unknown', colour: 'defined' },
};

function badge(text: string, colour: LifecycleState, cls: string): Html {
  const c = STATE_COLOURS[colour];
  return html`<span class="${`state ${cls}`}" style="${`background:${c.fill};border-color:${c.stroke}`}">${text}</span>`;
}

/** "in sync", "out of sync", … as a badge with words. */
export function syncBadge(sync: SyncState): Html {
  return badge(SYNC[sync].text, SYNC[sync].colour, `sync-${sync}`);
}

/** Which commit is applied and which is the branch head. */
export function syncDetail(s: EnvironmentStatus): Html {
  const head = s.head
    ? html`head of ${s.branch ?? 'the default branch'} <span class="mono">${shortSha(s.head.sha)}</span> <span class="muted">(${s.head.source === 'poll' ? 'polled' : 'pushed'} ${at(s.head.seenAt)})</span>`
    : html`<span class="muted">no head of ${s.branch ?? 'its branch'} seen yet</span>`;
  return html`applied <span class="mono">${shortSha(s.applied)}</span>, ${head}`;
}

/** auto / manual / suspended, in words. */
export function policyText(s: EnvironmentStatus): Html {
  if (!s.policy) return html`<span class="muted">auto (no policy recorded yet)</span>`;
  if (s.policy.suspend) return badge('suspended', 'terminated', 'policy-suspended');
  return s.policy.apply === 'manual'
    ? badge('manual', 'provisioned', 'policy-manual')
    : badge('auto', 'ready', 'policy-auto');
}

/** The last drift check and what it found. */
export function driftText(d: DriftCheck | null): Html {
  if (!d) return html`<span class="muted">never checked</span>`;
  const found =
    d.status === 'succeeded'
      ? d.drifted > 0
        ? badge(`drift found (${d.drifted})`, 'drifted', 'drift-found')
        : d.healed > 0
          ? badge(`drift healed (${d.healed})`, 'ready', 'drift-healed')
          : badge('no drift', 'ready', 'drift-none')
      : d.status === 'running'
        ? badge('checking', 'configuring', 'drift-running')
        : badge(`check ${d.status}`, d.status === 'failed' ? 'failed' : 'terminated', 'drift-failed');
  return html`${found} <a href="${runUrl(d.runId)}">#${d.runId}</a> <span class="muted">${at(d.at)}</span>`;
}

/** Node counts by state, each with its state in words. */
export function healthText(states: Partial<Record<LifecycleState, number>>): Html {
  const parts = (Object.entries(states) as [LifecycleState, number][]).map(([st, n]) => html`${stateBadge(st)} ${n} `);
  return parts.length ? html`${parts}` : html`<span class="muted">nothing recorded</span>`;
}

/** What waits for release, oldest first, with since when. */
export function waitingText(s: EnvironmentStatus): Html {
  if (!s.waiting.length) return html`<span class="muted">nothing waiting</span>`;
  return html`${s.waiting.map(
    (w) =>
      html`<div><span class="mono">${shortSha(w.commit)}</span> waiting since ${at(w.since)} <span class="muted">${w.planSummary}</span></div>`,
  )}`;
}
