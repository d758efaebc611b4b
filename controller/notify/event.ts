/**
 * Outcome notifications (docs/controller.md, "Notifications"): what the jobs say (a Notification) and the event
 * every webhook receives (schema version 1). One body serves both kinds of receivers: a JSON event with a stable
 * schema whose `text` field is what Slack (and Slack-compatible chat webhooks) show.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { NodeResult, Plan, RunResult } from '../../kernel/types.js';

/** The schema version of the event; bumped only when a field changes meaning or goes away. */
export const NOTIFICATION_SCHEMA_VERSION = 1;

/** The header carrying `sha256=<hex>`: HMAC-SHA256 of the raw body with POLITBURO_ALERT_SECRET. */
export const SIGNATURE_HEADER = 'x-politburo-signature-256';

export type NotificationKind =
  | 'apply-succeeded'
  | 'apply-failed'
  | 'apply-blocked'
  | 'apply-cancelled'
  | 'release-waiting'
  | 'drift-found'
  | 'drift-resolved';

export const NOTIFICATION_KINDS: readonly NotificationKind[] = [
  'apply-succeeded',
  'apply-failed',
  'apply-blocked',
  'apply-cancelled',
  'release-waiting',
  'drift-found',
  'drift-resolved',
];

/** A node the outcome is about. `tasks`: the failed tasks of an apply, the unmet ones of a drift. */
export interface NotifiedNode {
  path: string;
  host: string | null;
  state: string;
  action?: string;
  reason?: string;
  tasks?: string[];
}

/** What a job has to say; the notifier (controller/notify/notifier.ts) turns it into the event. */
export interface Notification {
  kind: NotificationKind;
  /** The repository key (`owner/name`, or the poll-mode URL). */
  repository: string;
  environment: string;
  commit: string | null;
  runId?: string | null;
  /** Defaults per kind: succeeded, failed, blocked, cancelled, waiting, drifted, resolved. */
  status?: string;
  /** Why (an apply that did not run, a failure outside the run, what a release waits for). */
  reason?: string | null;
  /** Nodes by lifecycle state (the run's summary). */
  counts?: Record<string, number>;
  nodes?: NotifiedNode[];
  /** What started the run (push, comment, schedule...). */
  trigger?: string | null;
}

/** The JSON body POSTed to every webhook (docs/controller.md, "Notifications"). */
export interface NotificationEvent {
  version: typeof NOTIFICATION_SCHEMA_VERSION;
  id: string;
  kind: NotificationKind;
  timestamp: string;
  repository: string;
  environment: string;
  commit: string | null;
  run_id: string | null;
  run_url: string | null;
  status: string;
  reason: string | null;
  counts: Record<string, number>;
  nodes: NotifiedNode[];
  nodes_omitted: number;
  trigger: string | null;
  text: string;
}

/** At most this many nodes are listed in an event (`nodes_omitted` counts the rest). */
export const MAX_NODES = 50;
const MAX_REASON = 500;

const DEFAULT_STATUS: Record<NotificationKind, string> = {
  'apply-succeeded': 'succeeded',
  'apply-failed': 'failed',
  'apply-blocked': 'blocked',
  'apply-cancelled': 'cancelled',
  'release-waiting': 'waiting',
  'drift-found': 'drifted',
  'drift-resolved': 'resolved',
};

/** Builds the event (a fresh id and timestamp); `publicUrl` gives the run's dashboard link. */
export function buildEvent(
  n: Notification,
  opts: { publicUrl?: string; now?: Date; id?: string } = {},
): NotificationEvent {
  const runId = n.runId ?? null;
  const runUrl = runId && opts.publicUrl ? `${opts.publicUrl}/runs/${encodeURIComponent(runId)}` : null;
  const nodes = (n.nodes ?? []).slice(0, MAX_NODES).map(clipNode);
  const event: Omit<NotificationEvent, 'text'> = {
    version: NOTIFICATION_SCHEMA_VERSION,
    id: opts.id ?? randomUUID(),
    kind: n.kind,
    timestamp: (opts.now ?? new Date()).toISOString(),
    repository: n.repository,
    environment: n.environment,
    commit: n.commit,
    run_id: runId,
    run_url: runUrl,
    status: n.status ?? DEFAULT_STATUS[n.kind],
    reason: n.reason ? clip(n.reason, MAX_REASON) : null,
    counts: { ...(n.counts ?? {}) },
    nodes,
    nodes_omitted: Math.max(0, (n.nodes?.length ?? 0) - nodes.length),
    trigger: n.trigger ?? null,
  };
  return { ...event, text: textOf(event, n.nodes ?? []) };
}

/** The apply outcome of an engine run: succeeded, failed or cancelled, with its counts and affected nodes. */
export function applyNotification(
  result: RunResult,
  ctx: { repository: string; commit: string; trigger?: string },
): Notification {
  const kind: NotificationKind =
    result.status === 'succeeded'
      ? 'apply-succeeded'
      : result.status === 'cancelled'
        ? 'apply-cancelled'
        : 'apply-failed';
  return {
    kind,
    repository: ctx.repository,
    environment: result.environment,
    commit: ctx.commit,
    runId: result.runId,
    status: result.status,
    counts: { ...result.summary },
    nodes: result.nodes.map((node) => nodeOf(node, 'failed')),
    trigger: ctx.trigger ?? null,
  };
}

/**
 * A manual environment's commit waiting for a release: the plan's changed nodes (state `planned`, their action) and
 * its counts by action.
 */
export function releaseWaitingNotification(
  plan: Plan,
  ctx: { repository: string; commit: string; trigger?: string },
): Notification {
  return {
    kind: 'release-waiting',
    repository: ctx.repository,
    environment: plan.environment,
    commit: ctx.commit,
    reason: `comment "/politburo apply ${plan.environment}" on the merged pull request or on the commit to release it`,
    counts: { create: plan.summary.create, update: plan.summary.update, terminate: plan.summary.terminate },
    nodes: plan.nodes
      .filter((n) => n.action !== 'unchanged')
      .map((n) => ({ path: n.path, host: n.host, state: 'planned', action: n.action })),
    trigger: ctx.trigger ?? null,
  };
}

/** A node of a run result; `tasks` lists the tasks with the given outcome. */
export function nodeOf(node: NodeResult, taskOutcome: 'failed' | 'unmet'): NotifiedNode {
  const tasks = node.tasks.filter((t) => t.outcome === taskOutcome).map((t) => t.name);
  return {
    path: node.path,
    host: node.host,
    state: node.state,
    ...(node.action ? { action: node.action } : {}),
    ...(node.reason ? { reason: node.reason } : {}),
    ...(tasks.length ? { tasks } : {}),
  };
}

/** `sha256=<hex>`: the value of X-Politburo-Signature-256 for `body`. */
export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Whether `signature` (the header's value) is `body` signed with `secret` (constant time). */
export function verifySignature(secret: string, body: string | Buffer, signature: string | undefined): boolean {
  if (!signature) return false;
  const expected = Buffer.from(signBody(secret, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function clipNode(n: NotifiedNode): NotifiedNode {
  return n.reason ? { ...n, reason: clip(n.reason, MAX_REASON) } : n;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The one-line message chat receivers show (Slack's `text`). */
function textOf(e: Omit<NotificationEvent, 'text'>, all: NotifiedNode[]): string {
  const where = `${e.environment} (${e.repository})${e.commit ? ` at ${e.commit.slice(0, 7)}` : ''}`;
  const link = e.run_url ? ` — ${e.run_url}` : '';
  const named = (nodes: NotifiedNode[]) => {
    const shown = nodes.slice(0, 10).map((n) => n.path);
    return shown.join(', ') + (nodes.length > shown.length ? `, … ${nodes.length - shown.length} more` : '');
  };
  const reason = e.reason ? `: ${e.reason}` : '';
  switch (e.kind) {
    case 'apply-succeeded':
      return `Politburo: applied ${where}: ${plural(all.length, 'node')} changed${link}`;
    case 'apply-failed': {
      const bad = all.filter((n) => n.state === 'failed' || n.state === 'blocked');
      const counts = Object.entries(e.counts)
        .filter(([state, count]) => count > 0 && (state === 'failed' || state === 'blocked'))
        .map(([state, count]) => `${count} ${state}`)
        .join(', ');
      const detail = bad.length ? `: ${counts ? `${counts} (${named(bad)})` : named(bad)}` : reason;
      return `Politburo: apply of ${where} failed${detail}${link}`;
    }
    case 'apply-blocked':
      return `Politburo: ${where} was not applied${reason}${link}`;
    case 'apply-cancelled':
      return `Politburo: apply of ${where} was cancelled${reason}${link}`;
    case 'release-waiting':
      return `Politburo: ${where} is waiting for a release${reason}${link}`;
    case 'drift-found':
      return `Politburo: ${plural(all.length, 'node')} of ${e.environment} (${e.repository}) drifted: ${named(all)}${link}`;
    case 'drift-resolved':
      return `Politburo: drift of ${e.environment} (${e.repository}) resolved${link}`;
  }
}
