/**
 * A pull request's life: plan check + one comment, re-planned on a push (comment edited, old check superseded), merged
 * and applied.
 */
import { access, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { description, ENV, FULL_NAME, pullRequestPayload, pushPayload, startHarness, type Harness } from './harness.js';
import { waitFor } from '../helpers/wait-for.js';

describe('e2e: pull request → plan → merge → apply', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h?.stop();
  });

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

  test('the first push applies the environment: check success, nodes ready in the store', async () => {
    const sha = await h.repo.head();
    const res = await h.send('push', pushPayload(h.repo, { before: '0'.repeat(40), after: sha }));
    assert.equal(res.status, 202);
    const check = await waitFor('apply check completed', () => {
      const c = h.checks(sha).get(`politburo/${ENV}`);
      return c?.status === 'completed' ? c : null;
    });
    assert.equal(check.conclusion, 'success', check.summary ?? '');
    const nodes = await h.controllers[0].context.store.recordedNodes(FULL_NAME, ENV);
    assert.deepEqual(nodes.map((n) => [n.path, n.state]).sort(), [
      ['db', 'ready'],
      ['web', 'ready'],
    ]);
    const run = h.github.state.checkRuns.find((r) => r.head_sha === sha && r.name === `politburo/${ENV}`)!;
    assert.match(run.details_url ?? '', /^http:\/\/politburo\.example\/runs\/\d+$/);
  });

  test('a PR gets one plan check and one comment; a second push edits the comment and supersedes the old check; no host contacted', async () => {
    const base = await h.repo.head('main');
    await h.repo.git('checkout', '-q', '-b', 'feature');
    const head1 = await h.repo.commit({ 'politburo.yml': description(h.ssh.hosts, { version: 'v2' }) }, 'v2');
    for (const x of h.ssh.hosts) await rm(path.join(x.home, 'contacted'), { force: true });
    await h.send('pull_request', pullRequestPayload(h.repo, { action: 'opened', number: 7, head: head1, base }));
    const check1 = await waitFor('plan check of head 1', () => h.checks(head1).get(`politburo plan ${ENV}`));
    assert.equal(check1.status, 'completed');
    assert.equal(check1.conclusion, 'neutral');
    assert.match(check1.summary ?? '', /2 to update/);
    const comment = await waitFor('the plan comment', () => h.github.state.comments.find((c) => c.issue_number === 7));
    assert.match(comment.body, /<!-- politburo:plan -->/);
    assert.match(comment.body, new RegExp(head1.slice(0, 7)));

    const head2 = await h.repo.commit({ 'politburo.yml': description(h.ssh.hosts, { version: 'v3' }) }, 'v3');
    await h.send('pull_request', pullRequestPayload(h.repo, { action: 'synchronize', number: 7, head: head2, base }));
    await waitFor('plan check of head 2', () => h.checks(head2).get(`politburo plan ${ENV}`)?.status === 'completed');
    await waitFor('comment edited for head 2', () =>
      h.github.state.comments.find((c) => c.issue_number === 7)?.body.includes(head2.slice(0, 7)),
    );
    await waitFor('old check superseded', () => h.checks(head1).get(`politburo plan ${ENV}`)?.conclusion === 'skipped');
    assert.equal(h.github.state.comments.filter((c) => c.issue_number === 7).length, 1, 'one comment, edited in place');
    assert.equal(await contacted(), false, 'a static plan contacts no host');
    assert.deepEqual(h.github.violations, []);
  });

  test('merging applies the new commit; a failing node fails the check naming it', async () => {
    await h.repo.git('checkout', '-q', 'main');
    const before = await h.repo.head();
    await h.repo.git('merge', '-q', '--no-ff', '-m', 'merge #7', 'feature');
    const merged = await h.repo.head();
    await h.send('push', pushPayload(h.repo, { before, after: merged }));
    await waitFor('merge applied', () => h.checks(merged).get(`politburo/${ENV}`)?.status === 'completed');
    assert.equal(h.checks(merged).get(`politburo/${ENV}`)!.conclusion, 'success');
    for (const x of h.ssh.hosts) await access(path.join(x.home, 'state', 'v3'));

    const failing = await h.repo.commit(
      { 'politburo.yml': description(h.ssh.hosts, { version: 'v4', failing: ['web'] }) },
      'web breaks',
    );
    await h.send('push', pushPayload(h.repo, { before: merged, after: failing }));
    const check = await waitFor('failing apply finished', () => {
      const c = h.checks(failing).get(`politburo/${ENV}`);
      return c?.status === 'completed' ? c : null;
    });
    assert.equal(check.conclusion, 'failure');
    assert.match(`${check.title}\n${check.summary}`, /web/);
    assert.match(check.summary ?? '', /disk on fire/);
    const nodes = await h.controllers[0].context.store.recordedNodes(FULL_NAME, ENV);
    assert.equal(nodes.find((n) => n.path === 'web')?.state, 'failed');
    assert.equal(nodes.find((n) => n.path === 'db')?.state, 'ready');
    assert.deepEqual(h.github.violations, []);
  });

  test('an invalid description in a PR fails its plan check with an annotation on the line; re-running the check re-plans', async () => {
    await h.repo.git('checkout', '-q', '-b', 'broken', 'main');
    const base = await h.repo.head('main');
    const text = description(h.ssh.hosts).replace('    blueprint: app', '    blueprint: app\n    bogus_key: 1');
    const head = await h.repo.commit({ 'politburo.yml': text }, 'broken');
    await h.repo.git('checkout', '-q', 'main');
    await h.send('pull_request', pullRequestPayload(h.repo, { action: 'opened', number: 8, head, base }));
    const run = await waitFor('failed plan check', () =>
      h.github.state.checkRuns.find(
        (r) => r.head_sha === head && r.name === `politburo plan ${ENV}` && r.status === 'completed',
      ),
    );
    assert.equal(run.conclusion, 'failure');
    const line = text.split('\n').findIndex((l) => l.includes('bogus_key')) + 1;
    assert.ok(
      run.annotations.some(
        (a: any) => a.path === 'politburo.yml' && a.start_line === line && a.annotation_level === 'failure',
      ),
      JSON.stringify(run.annotations),
    );
    await waitFor('the comment lists the error', () =>
      /bogus_key/.test(h.github.state.comments.find((c) => c.issue_number === 8)?.body ?? ''),
    );

    const writes = h.github.writes().length;
    const payload = {
      action: 'rerequested',
      check_run: {
        id: run.id,
        name: run.name,
        head_sha: head,
        pull_requests: [{ number: 8, head: { sha: head }, base: { sha: base } }],
      },
      repository: pullRequestPayload(h.repo, { action: 'opened', number: 8, head, base }).repository,
      installation: { id: 4242 },
    };
    await h.send('check_run', payload);
    await waitFor(
      're-planned',
      async () =>
        (
          await h.pool.query(
            `SELECT 1 FROM webhook_deliveries WHERE event = 'check_run' AND outcome = 'plan queued for #8'`,
          )
        ).rowCount,
    );
    await waitFor('the plan check written again', () => h.github.writes().length > writes);
    assert.deepEqual(h.github.violations, []);
  });
});
