/**
 * Merge queues (docs/controller.md "Merge queues"): GitHub's `merge_group` delivery (its own example payload, pointed
 * at the test repository) gets its `politburo plan ENV` checks on the merge group's head, through the real controller
 * and the OpenAPI-validating GitHub fake; no comment is written and no host is contacted.
 */
import { access, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import examples from '@octokit/webhooks-examples';
import {
  description,
  ENV,
  INSTALLATION,
  pullRequestPayload,
  pushPayload,
  startHarness,
  type Harness,
} from './harness.js';
import { waitFor } from '../helpers/wait-for.js';

type Example = { name: string; examples: any[] };
const all = ((examples as unknown as { default?: Example[] }).default ??
  (examples as unknown as Example[])) as Example[];

describe('e2e: merge queue → merge_group → plan checks on the group head', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.stop();
  });

  /** GitHub's merge_group example for the test repository: the group `head` built on `base` of main. */
  const mergeGroupPayload = (o: { action?: string; head: string; base: string; headRef: string }) => {
    const p = structuredClone(all.find((x) => x.name === 'merge_group')!.examples[0]);
    p.action = o.action ?? 'checks_requested';
    p.merge_group = {
      ...p.merge_group,
      head_sha: o.head,
      base_sha: o.base,
      head_ref: o.headRef,
      base_ref: 'refs/heads/main',
    };
    // The repository as the harness's other payloads carry it (clone URL is the test repository's directory).
    p.repository = pullRequestPayload(h.repo, { action: 'opened', number: 1, head: o.head, base: o.base }).repository;
    p.installation = { id: INSTALLATION, node_id: 'x' };
    return p;
  };

  const outcomes = async () =>
    (
      await h.pool.query<{ outcome: string | null }>(
        `SELECT outcome FROM webhook_deliveries WHERE event = 'merge_group' ORDER BY outcome`,
      )
    ).rows.map((r) => r.outcome ?? '');

  const contacted = async () => {
    const found = await Promise.all(
      h.ssh.hosts.map((x) =>
        access(path.join(x.home, 'contacted')).then(
          () => true,
          () => false,
        ),
      ),
    );
    return found.some(Boolean);
  };

  test('the environment is applied first, so the group plans against recorded nodes', async () => {
    const sha = await h.repo.head();
    await h.send('push', pushPayload(h.repo, { before: '0'.repeat(40), after: sha }));
    await waitFor('apply check completed', () => h.checks(sha).get(`politburo/${ENV}`)?.status === 'completed');
    assert.equal(h.checks(sha).get(`politburo/${ENV}`)!.conclusion, 'success');
  });

  test("a merge group changing the environment gets its plan check on the group's head; no comment, no host contacted", async () => {
    const base = await h.repo.head('main');
    const headRef = `refs/heads/gh-readonly-queue/main/pr-9-${base}`;
    await h.repo.git('checkout', '-q', '-b', headRef.slice('refs/heads/'.length));
    const head = await h.repo.commit({ 'politburo.yml': description(h.ssh.hosts, { version: 'v2' }) }, 'Merge #9');
    await h.repo.git('checkout', '-q', 'main');
    for (const x of h.ssh.hosts) await rm(path.join(x.home, 'contacted'), { force: true });

    const res = await h.send('merge_group', mergeGroupPayload({ head, base, headRef }));
    assert.equal(res.status, 202);
    const check = await waitFor('plan check on the group head', () => {
      const c = h.checks(head).get(`politburo plan ${ENV}`);
      return c?.status === 'completed' ? c : null;
    });
    assert.equal(check.conclusion, 'neutral', check.summary ?? '');
    assert.match(check.summary ?? '', /2 to update/);
    assert.deepEqual([...h.checks(head).keys()], [`politburo plan ${ENV}`]);
    assert.deepEqual([...h.checks(base).keys()], [`politburo/${ENV}`], 'nothing new on the base');
    assert.deepEqual(h.github.state.comments, [], 'a merge group has no comment');
    assert.deepEqual(await outcomes(), [`plan queued for merge group ${headRef}`]);
    assert.equal(await contacted(), false, 'a static plan contacts no host');
    assert.deepEqual(h.github.violations, []);
  });

  test('a group that changes nothing Politburo reads still gets its check (success), so a required check never waits', async () => {
    const base = await h.repo.head('main');
    const headRef = `refs/heads/gh-readonly-queue/main/pr-10-${base}`;
    await h.repo.git('checkout', '-q', '-b', headRef.slice('refs/heads/'.length));
    const head = await h.repo.commit({ 'README.md': 'docs only\n' }, 'Merge #10');
    await h.repo.git('checkout', '-q', 'main');

    await h.send('merge_group', mergeGroupPayload({ head, base, headRef }));
    const check = await waitFor('plan check on the docs-only group', () => {
      const c = h.checks(head).get(`politburo plan ${ENV}`);
      return c?.status === 'completed' ? c : null;
    });
    assert.equal(check.conclusion, 'success', check.summary ?? '');

    // The group leaves the queue: nothing to do, said why.
    await h.send('merge_group', mergeGroupPayload({ action: 'destroyed', head, base, headRef }));
    await waitFor('destroyed recorded', async () =>
      (await outcomes()).includes('ignored: merge_group destroyed: the group left the queue, nothing to check'),
    );
    assert.deepEqual(h.github.state.comments, []);
    assert.deepEqual(h.github.violations, []);
  });
});
