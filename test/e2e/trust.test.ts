/**
 * Trust (docs/configuration.md and docs/operations.md): fork PRs and readers never reach a host; a writer's `--live` on
 * a same-repository PR does.
 */
import { access, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  commentPayload,
  description,
  ENV,
  FULL_NAME,
  pullRequestPayload,
  pushPayload,
  startHarness,
  type Harness,
} from './harness.js';
import { waitFor } from '../helpers/wait-for.js';

describe('e2e: trust rules for plans', () => {
  let h: Harness;
  let base: string;
  let head: string;
  let nextCommentId = 90_000;
  before(async () => {
    h = await startHarness();
    base = await h.repo.head();
    await h.send('push', pushPayload(h.repo, { before: '0'.repeat(40), after: base }));
    await waitFor('applied', () => h.checks(base).get(`politburo/${ENV}`)?.conclusion === 'success');
    await h.repo.git('checkout', '-q', '-b', 'feature');
    head = await h.repo.commit({ 'politburo.yml': description(h.ssh.hosts, { version: 'v2' }) }, 'v2');
    await h.repo.git('checkout', '-q', 'main');
    h.github.state.permissions.set(`${FULL_NAME}:reader`, 'read');
    h.github.state.permissions.set(`${FULL_NAME}:boss`, 'admin');
  });
  after(async () => {
    await h?.stop();
  });

  const resetContacted = () => Promise.all(h.ssh.hosts.map((x) => rm(path.join(x.home, 'contacted'), { force: true })));
  const contacted = async () =>
    (
      await Promise.all(
        h.ssh.hosts.map((x) =>
          access(path.join(x.home, 'contacted')).then(
            () => true,
            () => false,
          ),
        ),
      )
    ).some(Boolean);

  /** Posts a comment on GitHub (the fake) and delivers its webhook. */
  const comment = async (number: number, user: string, body: string) => {
    const id = nextCommentId++;
    h.github.state.comments.push({ id, repo: FULL_NAME, issue_number: number, body, user, reactions: [] });
    await h.send('issue_comment', commentPayload(h.repo, { number, body, user, id }));
    return id;
  };
  const reactions = (id: number) => h.github.state.comments.find((c) => c.id === id)?.reactions ?? [];
  const planComment = (number: number) =>
    h.github.state.comments.find((c) => c.issue_number === number && c.user === 'politburo[bot]');

  test('a fork PR is planned statically and `--live` on it is refused, even for an admin: no host contacted', async () => {
    await resetContacted();
    await h.send(
      'pull_request',
      pullRequestPayload(h.repo, { action: 'opened', number: 11, head, base, headRepo: 'mallory/infra' }),
    );
    await waitFor('fork plan comment', () => planComment(11));
    const id = await comment(11, 'boss', '/politburo plan --live');
    await waitFor('refusal reaction', () => reactions(id).includes('-1'));
    await waitFor('refusal in the sticky comment', () =>
      /refused: the pull request comes from a fork/.test(planComment(11)?.body ?? ''),
    );
    assert.equal(h.github.state.comments.filter((c) => c.issue_number === 11 && c.user === 'politburo[bot]').length, 1);
    assert.equal(await contacted(), false, 'no host contacted for a fork');
  });

  test('`--live` by a reader is refused with the reason; no host contacted', async () => {
    await resetContacted();
    await h.send('pull_request', pullRequestPayload(h.repo, { action: 'opened', number: 12, head, base }));
    await waitFor('plan comment', () => planComment(12));
    const id = await comment(12, 'reader', '/politburo plan --live test');
    await waitFor('refusal reaction', () => reactions(id).includes('-1'));
    await waitFor('refusal in the sticky comment', () =>
      /@reader has read permission/.test(planComment(12)?.body ?? ''),
    );
    assert.equal(await contacted(), false);
  });

  test('`--live` by an admin on a same-repository PR dry-runs on the hosts', async () => {
    await resetContacted();
    const id = await comment(12, 'boss', '/politburo plan --live');
    await waitFor('acknowledged', () => reactions(id).includes('eyes'));
    await waitFor('live plan in the check', () =>
      /Live dry-run/.test(h.checks(head).get(`politburo plan ${ENV}`)?.summary ?? ''),
    );
    assert.equal(await contacted(), true, 'the dry-run ran on the hosts');
    // A dry-run changes nothing: v2 was never met.
    for (const x of h.ssh.hosts) await assert.rejects(access(path.join(x.home, 'state', 'v2')));
    assert.deepEqual(h.github.violations, []);
  });
});
