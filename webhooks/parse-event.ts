/**
 * A stored delivery (its `X-GitHub-Event` name and JSON payload) as a typed @octokit/webhooks event, parsed once
 * before it is routed (webhooks/route-event.ts). @octokit/webhooks describes every payload but checks none at run
 * time, so the fields Politburo reads are checked here (zod): a payload missing one of them, or with one of the wrong
 * type, is reported as malformed, saying which field, instead of failing somewhere later. The event's type is the
 * octokit payload narrowed by those checks (`repository.owner` is not null once checked, …).
 */
import { emitterEventNames } from '@octokit/webhooks';
import type { EmitterWebhookEvent, WebhookEventName } from '@octokit/webhooks/types';
import { z } from 'zod';
import { COMMIT_SHA } from '../kernel/commit.js';

export type { WebhookEventName };

const repository = z.object({
  name: z.string().min(1),
  owner: z.object({ login: z.string().min(1) }),
  clone_url: z.string().min(1).optional(),
  default_branch: z.string().min(1).optional(),
});
const installation = z.object({ id: z.number().int() }).optional();
const sha = z.string().regex(COMMIT_SHA, 'a full commit SHA');
const repositories = z.array(z.object({ full_name: z.string().regex(/^[^/\s]+\/[^/\s]+$/, 'owner/name') })).optional();

/** The fields read of each event that is routed (webhooks/route-event.ts); other events are only JSON objects. */
const checked = {
  push: z.object({
    ref: z.string(),
    before: z.string().optional(),
    after: z.string(),
    deleted: z.boolean().optional(),
    pusher: z.object({ name: z.string().optional() }).optional(),
    sender: z.object({ login: z.string() }).optional(),
    repository,
    installation,
  }),
  pull_request: z.object({
    action: z.string(),
    pull_request: z.object({
      number: z.number().int().positive(),
      head: z.object({ sha, repo: z.object({ full_name: z.string() }).nullable().optional() }),
      base: z.object({ sha }),
    }),
    repository,
    installation,
  }),
  merge_group: z.object({
    action: z.string(),
    merge_group: z.object({ head_sha: sha, head_ref: z.string().min(1), base_sha: sha, base_ref: z.string().min(1) }),
    repository,
    installation,
  }),
  issue_comment: z.object({
    action: z.string(),
    issue: z.object({
      number: z.number().int().positive(),
      pull_request: z.object({}).nullable().optional(),
    }),
    comment: z.object({
      id: z.number().int(),
      body: z.string(),
      user: z.object({ login: z.string() }).nullable().optional(),
    }),
    repository,
    installation,
  }),
  commit_comment: z.object({
    action: z.string(),
    comment: z.object({
      id: z.number().int(),
      body: z.string(),
      commit_id: z.string(),
      user: z.object({ login: z.string() }).nullable().optional(),
    }),
    repository,
    installation,
  }),
  check_run: z.object({
    action: z.string(),
    check_run: z.object({
      name: z.string(),
      head_sha: z.string(),
      pull_requests: z.array(z.object({ number: z.number().int().positive() })).optional(),
    }),
    repository,
    installation,
  }),
  installation: z.object({ action: z.string(), installation, repositories }),
  installation_repositories: z.object({
    action: z.string(),
    installation,
    repositories_added: repositories,
    repositories_removed: repositories,
  }),
} satisfies Partial<Record<WebhookEventName, z.ZodType>>;

type Checked<N extends WebhookEventName> = N extends keyof typeof checked ? z.infer<(typeof checked)[N]> : unknown;

/** The payload of an event of one name: as @octokit/webhooks types it, with the fields checked here narrowed. */
export type PayloadOf<N extends WebhookEventName> = EmitterWebhookEvent<N>['payload'] & Checked<N>;

/** A parsed delivery: `name` tells its payload's type. */
export type GitHubEvent = { [N in WebhookEventName]: { id: string; name: N; payload: PayloadOf<N> } }[WebhookEventName];

export type ParsedEvent = { ok: true; event: GitHubEvent } | { ok: false; problem: string };

const names: ReadonlySet<string> = new Set(emitterEventNames.filter((n) => !n.includes('.')));

function isEventName(name: string): name is WebhookEventName {
  return names.has(name);
}

function isCheckedName(name: WebhookEventName): name is keyof typeof checked {
  return Object.hasOwn(checked, name);
}

/**
 * Parses a stored delivery: the event must be one GitHub sends, the payload a JSON object, and the fields read of it
 * present and of their types. Never throws: what is wrong is the `problem` (it becomes the delivery's outcome).
 */
export function parseEvent(delivery: { id: string; event: string; payload: unknown }): ParsedEvent {
  const { id, event: name, payload } = delivery;
  if (!isEventName(name)) return { ok: false, problem: `unknown event ${JSON.stringify(name.slice(0, 100))}` };
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    return { ok: false, problem: `malformed ${name} payload: not a JSON object` };
  if (isCheckedName(name)) {
    const r = checked[name].safeParse(payload);
    if (!r.success) {
      const problems = r.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.map(String).join('.') || '(payload)'}: ${i.message}`)
        .join('; ');
      return { ok: false, problem: `malformed ${name} payload: ${problems}` };
    }
  }
  // Checked above: the fields read are as PayloadOf<name> says; the others are as GitHub sent them.
  return { ok: true, event: { id, name, payload } as GitHubEvent };
}
