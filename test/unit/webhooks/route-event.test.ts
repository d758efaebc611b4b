/**
 * Which command each GitHub event is (webhooks/route-event.ts), after parsing (webhooks/parse-event.ts): every example
 * payload of @octokit/webhooks-examples of the events Politburo acts on, a sample of those it ignores, and variations
 * made from them (another branch, a deleted branch, a fork, comments that are or are not commands).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type { Command } from '../../../webhooks/commands.js';
import { parseEvent } from '../../../webhooks/parse-event.js';
import { routeEvent } from '../../../webhooks/route-event.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
interface ExampleSet {
  name: string;
  examples: JsonObject[];
}

const sets = createRequire(import.meta.url)('@octokit/webhooks-examples/api.github.com/index.json') as ExampleSet[];

function examplesOf(event: string): JsonObject[] {
  const set = sets.find((s) => s.name === event);
  assert.ok(set && set.examples.length, `@octokit/webhooks-examples has examples of ${event}`);
  return set.examples;
}

function exampleOf(event: string, action?: string): JsonObject {
  const e = examplesOf(event).find((x) => action === undefined || x.action === action);
  assert.ok(e, `an example of ${event}.${action}`);
  return structuredClone(e);
}

/** `base` with `patch` laid over it: objects merge key by key; anything else (arrays included) replaces. */
function merge(base: Json, patch: Json): Json {
  if (!isObject(base) || !isObject(patch)) return patch;
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(patch)) out[k] = k in base ? merge(base[k], v) : v;
  return out;
}
const isObject = (v: Json): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses and routes; the parse must succeed. */
function route(event: string, payload: Json): Command {
  const parsed = parseEvent({ id: 'delivery-1', event, payload });
  assert.ok(parsed.ok, `${event} parses: ${parsed.ok ? '' : parsed.problem}`);
  return routeEvent(parsed.event);
}

const field = (o: Json, ...path: string[]): Json =>
  path.reduce<Json>((v, k) => (isObject(v) ? (v[k] ?? null) : null), o);
const str = (o: Json, ...path: string[]): string => {
  const v = field(o, ...path);
  assert.equal(typeof v, 'string', path.join('.'));
  return v as string;
};
const num = (o: Json, ...path: string[]): number => {
  const v = field(o, ...path);
  assert.equal(typeof v, 'number', path.join('.'));
  return v as number;
};

/** The repository GitHub's example is about, as the commands carry it. */
function repoOf(p: JsonObject) {
  const installation = field(p, 'installation', 'id');
  return {
    kind: 'github' as const,
    owner: str(p, 'repository', 'owner', 'login'),
    name: str(p, 'repository', 'name'),
    cloneUrl: str(p, 'repository', 'clone_url'),
    defaultBranch: str(p, 'repository', 'default_branch'),
    ...(typeof installation === 'number' ? { installationId: installation } : {}),
  };
}

const ZERO = '0'.repeat(40);
const SHA_A = 'a'.repeat(40);
const SHA_B = 'b'.repeat(40);

describe('every example payload parses', () => {
  test('all events of @octokit/webhooks-examples: known names, JSON objects, the fields read present', () => {
    let n = 0;
    for (const set of sets) {
      for (const payload of set.examples) {
        const parsed = parseEvent({ id: 'd', event: set.name, payload });
        assert.ok(parsed.ok, `${set.name}: ${parsed.ok ? '' : parsed.problem}`);
        assert.equal(parsed.event.name, set.name);
        n++;
      }
    }
    assert.ok(n > 300, `${n} examples`);
  });
});

describe('push', () => {
  test('each example: a branch head is applied; tags (created or deleted) are ignored', () => {
    const seen = new Set<string>();
    for (const p of examplesOf('push')) {
      const ref = str(p, 'ref');
      const command = route('push', p);
      seen.add(command.kind);
      if (ref.startsWith('refs/tags/')) {
        assert.deepEqual(command, { kind: 'ignore', reason: 'not a branch push' }, ref);
        continue;
      }
      // GitHub's branch examples create the branch: `before` is all zeros, so there is no previous head.
      assert.equal(str(p, 'before'), ZERO);
      assert.deepEqual(command, {
        kind: 'apply-branch-head',
        repo: repoOf(p),
        branch: ref.slice('refs/heads/'.length),
        sha: str(p, 'after'),
        pushedBy: str(p, 'pusher', 'name'),
      });
    }
    assert.deepEqual([...seen].sort(), ['apply-branch-head', 'ignore']);
  });

  test('the default branch and another branch are both applied (environments follow either); the previous head is carried', () => {
    const base = exampleOf('push');
    const toDefault = route('push', merge(base, { ref: 'refs/heads/master', before: SHA_A, after: SHA_B }));
    assert.equal(toDefault.kind, 'apply-branch-head');
    assert.equal(toDefault.kind === 'apply-branch-head' && toDefault.branch, 'master');
    assert.equal(toDefault.kind === 'apply-branch-head' && toDefault.before, SHA_A);
    assert.equal(toDefault.kind === 'apply-branch-head' && toDefault.sha, SHA_B);
    const toOther = route('push', merge(base, { ref: 'refs/heads/staging', before: SHA_A, after: SHA_B }));
    assert.equal(toOther.kind === 'apply-branch-head' && toOther.branch, 'staging');
    assert.equal(toOther.kind === 'apply-branch-head' && toOther.repo.defaultBranch, 'master');
  });

  test('a deleted branch is ignored', () => {
    const p = merge(exampleOf('push'), { ref: 'refs/heads/feature', before: SHA_A, after: ZERO, deleted: true });
    assert.deepEqual(route('push', p), { kind: 'ignore', reason: 'branch deleted' });
  });

  test("a push to the merge queue's temporary branch is ignored (its merge_group plans it)", () => {
    const ref = `refs/heads/gh-readonly-queue/main/pr-104-${SHA_A}`;
    const p = merge(exampleOf('push'), { ref, before: ZERO, after: SHA_B });
    assert.deepEqual(route('push', p), { kind: 'ignore', reason: 'push to a merge queue branch' });
  });

  test('without pusher name the sender is named', () => {
    const p = exampleOf('push');
    delete p.pusher;
    const command = route('push', merge(p, { ref: 'refs/heads/main', after: SHA_B }));
    assert.equal(command.kind === 'apply-branch-head' && command.pushedBy, str(p, 'sender', 'login'));
  });
});

describe('pull_request', () => {
  test('each example: opened, synchronize and reopened are planned; every other action is ignored, naming it', () => {
    const planned = new Set<string>();
    for (const p of examplesOf('pull_request')) {
      const action = str(p, 'action');
      const command = route('pull_request', p);
      if (!['opened', 'synchronize', 'reopened'].includes(action)) {
        assert.deepEqual(command, { kind: 'ignore', reason: `pull_request ${action}` });
        continue;
      }
      planned.add(action);
      assert.deepEqual(command, {
        kind: 'plan-pull-request',
        repo: repoOf(p),
        action,
        pullNumber: num(p, 'pull_request', 'number'),
        headSha: str(p, 'pull_request', 'head', 'sha'),
        baseSha: str(p, 'pull_request', 'base', 'sha'),
        headRepository: str(p, 'pull_request', 'head', 'repo', 'full_name'),
      });
    }
    assert.deepEqual([...planned].sort(), ['opened', 'reopened', 'synchronize']);
  });

  test("a fork's pull request is planned, with the fork as its head repository; a lost head repository is null", () => {
    const fork = merge(exampleOf('pull_request', 'opened'), {
      pull_request: { head: { repo: { full_name: 'mallory/Hello-World' } } },
    });
    const command = route('pull_request', fork);
    assert.equal(command.kind === 'plan-pull-request' && command.headRepository, 'mallory/Hello-World');
    assert.equal(command.kind === 'plan-pull-request' && command.repo.name, 'Hello-World');
    const lost = merge(exampleOf('pull_request', 'synchronize'), { pull_request: { head: { repo: null } } });
    const again = route('pull_request', lost);
    assert.equal(again.kind === 'plan-pull-request' && again.headRepository, null);
  });
});

describe('issue_comment', () => {
  /** An example comment, on a pull request, with this body. */
  const onPullRequest = (body: string, action = 'created') =>
    merge(exampleOf('issue_comment', action), {
      issue: { pull_request: { url: 'https://api.github.com/repos/Codertocat/Hello-World/pulls/1' } },
      comment: { body },
    });

  test('each example: comments on issues and edited or deleted comments are ignored, saying which', () => {
    for (const p of examplesOf('issue_comment')) {
      const action = str(p, 'action');
      assert.equal(field(p, 'issue', 'pull_request'), null, 'the examples are comments on issues');
      assert.deepEqual(route('issue_comment', p), {
        kind: 'ignore',
        reason: action === 'created' ? 'comment on an issue, not a pull request' : `issue_comment ${action}`,
      });
    }
  });

  test('`/politburo plan` on a pull request: its arguments and the commenter', () => {
    const p = onPullRequest('/politburo plan production --live\nthanks');
    assert.deepEqual(route('issue_comment', p), {
      kind: 'plan-comment',
      repo: repoOf(p as JsonObject),
      pullNumber: num(p, 'issue', 'number'),
      commentId: num(p, 'comment', 'id'),
      commenter: str(p, 'comment', 'user', 'login'),
      environment: 'production',
      live: true,
    });
    const plain = route('issue_comment', onPullRequest('/politburo plan'));
    assert.equal(plain.kind === 'plan-comment' && plain.live, false);
    assert.equal(plain.kind === 'plan-comment' && 'environment' in plain, false);
  });

  test('a comment not starting with /politburo is ignored; a /politburo line that is no command gets the help', () => {
    for (const body of ['looks good', 'please /politburo plan'])
      assert.deepEqual(route('issue_comment', onPullRequest(body)), {
        kind: 'ignore',
        reason: 'not a politburo command',
      });
    for (const body of ['/politburo apply', '/politburo plan a b']) {
      const command = route('issue_comment', onPullRequest(body));
      assert.equal(command.kind, 'help-comment', body);
      assert.equal(command.kind === 'help-comment' && command.unknown, body);
    }
  });

  test('an edited comment is ignored even when it now says /politburo plan (it was answered when created)', () => {
    assert.deepEqual(route('issue_comment', onPullRequest('/politburo plan', 'edited')), {
      kind: 'ignore',
      reason: 'issue_comment edited',
    });
  });
});

describe('merge_group', () => {
  test("each example: checks_requested plans the group's head against its base branch", () => {
    for (const p of examplesOf('merge_group')) {
      assert.equal(str(p, 'action'), 'checks_requested');
      const baseRef = str(p, 'merge_group', 'base_ref');
      assert.ok(baseRef.startsWith('refs/heads/'), baseRef);
      assert.deepEqual(route('merge_group', p), {
        kind: 'plan-merge-group',
        repo: repoOf(p),
        headSha: str(p, 'merge_group', 'head_sha'),
        headRef: str(p, 'merge_group', 'head_ref'),
        baseSha: str(p, 'merge_group', 'base_sha'),
        baseBranch: baseRef.slice('refs/heads/'.length),
      });
    }
  });

  test('destroyed is ignored with the reason; an unknown action is ignored, naming it', () => {
    const base = exampleOf('merge_group', 'checks_requested');
    assert.deepEqual(route('merge_group', merge(base, { action: 'destroyed', reason: 'merged' })), {
      kind: 'ignore',
      reason: 'merge_group destroyed: the group left the queue, nothing to check',
    });
    assert.deepEqual(route('merge_group', merge(base, { action: 'reshuffled' })), {
      kind: 'ignore',
      reason: 'merge_group reshuffled',
    });
  });

  test('another base branch is carried without refs/heads/; a base that is not a branch is ignored', () => {
    const base = exampleOf('merge_group', 'checks_requested');
    const staging = route('merge_group', merge(base, { merge_group: { base_ref: 'refs/heads/release/2' } }));
    assert.equal(staging.kind === 'plan-merge-group' && staging.baseBranch, 'release/2');
    assert.deepEqual(route('merge_group', merge(base, { merge_group: { base_ref: 'refs/tags/v1' } })), {
      kind: 'ignore',
      reason: 'merge_group on a base that is not a branch',
    });
  });

  test('a merge group without its head commit, or with a short one, is malformed, naming the field', () => {
    const base = exampleOf('merge_group', 'checks_requested');
    const parsed = parseEvent({
      id: 'd',
      event: 'merge_group',
      payload: merge(base, { merge_group: { head_sha: 'abc' } }),
    });
    assert.equal(parsed.ok, false);
    assert.match(
      parsed.ok ? '' : parsed.problem,
      /^malformed merge_group payload: merge_group\.head_sha: .*commit SHA/,
    );
    const noBase = structuredClone(base);
    delete (noBase.merge_group as JsonObject).base_ref;
    const p2 = parseEvent({ id: 'd', event: 'merge_group', payload: noBase });
    assert.match(p2.ok ? '' : p2.problem, /merge_group\.base_ref/);
  });
});

describe('check_run', () => {
  test('each example: only rerequested is acted on, and only for Politburo checks', () => {
    let rerequested = 0;
    for (const p of examplesOf('check_run')) {
      const action = str(p, 'action');
      if (action === 'rerequested') rerequested++;
      assert.deepEqual(route('check_run', p), {
        kind: 'ignore',
        // The examples' checks are other apps' (Octocoders-linter, randscape, API Review).
        reason: action === 'rerequested' ? 'not a politburo check' : `check_run ${action}`,
      });
    }
    assert.ok(rerequested > 0);
  });

  const rerequest = (name: string, pullRequests: Json[] = [{ number: 2 }]) =>
    merge(exampleOf('check_run', 'rerequested'), {
      check_run: { name, head_sha: SHA_A, pull_requests: pullRequests },
    });

  test('a plan check re-plans its pull request; an apply check re-applies its commit', () => {
    const plan = rerequest('politburo plan production');
    assert.deepEqual(route('check_run', plan), {
      kind: 'rerun-plan-check',
      repo: repoOf(plan as JsonObject),
      pullNumber: 2,
      environment: 'production',
    });
    const apply = rerequest('politburo/production', []);
    assert.deepEqual(route('check_run', apply), {
      kind: 'rerun-apply-check',
      repo: repoOf(apply as JsonObject),
      environment: 'production',
      sha: SHA_A,
    });
  });

  test('a plan check without its pull request, and the description check, are ignored', () => {
    assert.deepEqual(route('check_run', rerequest('politburo plan production', [])), {
      kind: 'ignore',
      reason: 'plan check of no pull request',
    });
    assert.deepEqual(route('check_run', rerequest('politburo')), { kind: 'ignore', reason: 'not a politburo check' });
  });
});

describe('installations', () => {
  test('installation: created registers its repositories, deleted unregisters them, the rest is ignored', () => {
    const kinds = new Set<string>();
    for (const p of examplesOf('installation')) {
      const action = str(p, 'action');
      const command = route('installation', p);
      kinds.add(command.kind);
      const repositories = ((field(p, 'repositories') ?? []) as JsonObject[]).map((r) => str(r, 'full_name'));
      const installationId = num(p, 'installation', 'id');
      if (action === 'created')
        assert.deepEqual(command, { kind: 'register-repositories', installationId, repositories });
      else if (action === 'deleted')
        assert.deepEqual(command, { kind: 'unregister-repositories', installationId, repositories });
      else assert.deepEqual(command, { kind: 'ignore', reason: `installation ${action}` });
    }
    assert.deepEqual([...kinds].sort(), ['ignore', 'register-repositories', 'unregister-repositories']);
  });

  test('installation_repositories: added registers, removed unregisters', () => {
    const kinds = new Set<string>();
    for (const p of examplesOf('installation_repositories')) {
      const action = str(p, 'action');
      const command = route('installation_repositories', p);
      kinds.add(command.kind);
      const list = (key: string) => (field(p, key) as JsonObject[]).map((r) => str(r, 'full_name'));
      const installationId = num(p, 'installation', 'id');
      assert.deepEqual(
        command,
        action === 'added'
          ? { kind: 'register-repositories', installationId, repositories: list('repositories_added') }
          : { kind: 'unregister-repositories', installationId, repositories: list('repositories_removed') },
      );
    }
    assert.deepEqual([...kinds].sort(), ['register-repositories', 'unregister-repositories']);
  });
});

describe('events Politburo does not act on', () => {
  for (const event of [
    'check_suite',
    'ping',
    'star',
    'issues',
    'deployment_review',
    'workflow_run',
    'pull_request_review_comment',
    'create',
    'delete',
  ]) {
    test(`${event}: every example is ignored, naming the event`, () => {
      for (const p of examplesOf(event))
        assert.deepEqual(route(event, p), { kind: 'ignore', reason: `event ${event}` });
    });
  }
});

describe('malformed deliveries are reported, never thrown', () => {
  const problem = (event: string, payload: unknown) => {
    const parsed = parseEvent({ id: 'd', event, payload });
    assert.equal(parsed.ok, false, `${event} is refused`);
    return parsed.ok ? '' : parsed.problem;
  };

  test('an event GitHub does not send, a payload that is not an object', () => {
    assert.equal(problem('invented', {}), 'unknown event "invented"');
    assert.equal(problem('push', [1, 2]), 'malformed push payload: not a JSON object');
    assert.equal(problem('star', null), 'malformed star payload: not a JSON object');
  });

  test('a field that is read missing or of the wrong type: named with its path', () => {
    const push = exampleOf('push');
    delete push.ref;
    assert.match(problem('push', push), /^malformed push payload: ref: /);
    const pr = merge(exampleOf('pull_request', 'opened'), { pull_request: { head: { sha: 'abc' } } });
    assert.match(problem('pull_request', pr), /^malformed pull_request payload: pull_request\.head\.sha: .*commit SHA/);
    const comment = merge(exampleOf('issue_comment'), { comment: { id: 'seven' } });
    assert.match(problem('issue_comment', comment), /comment\.id/);
    const installation = merge(exampleOf('installation', 'created'), { repositories: [{ full_name: 'no-slash' }] });
    assert.match(problem('installation', installation), /repositories\.0\.full_name: owner\/name/);
  });

  test('routing does not change the event', () => {
    const p = exampleOf('pull_request', 'opened');
    const copy = structuredClone(p);
    route('pull_request', p);
    assert.deepEqual(p, copy);
  });
});
