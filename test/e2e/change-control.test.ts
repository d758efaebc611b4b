/**
 * Change control end to end (docs/language.md "Apply policy", docs/controller.md "Apply policies and releases"): a
 * manual environment waits after a push and no SSH session is opened (each host's ~/.ssh/rc counts sessions); a
 * reader's `/politburo apply` is refused with the reason in the thread; a writer's releases the merge commit, which is
 * then applied on the hosts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { JOB_APPLY } from '../../controller/ports.js';
import { countJobs } from '../../controller/store/graphile-queue.js';
import {
  commentPayload,
  commitCommentPayload,
  description,
  ENV,
  FULL_NAME,
  pushPayload,
  startHarness,
  type Harness,
} from './harness.js';
import { waitFor } from '../helpers/wait-for.js';
import { countSshSessions } from '../helpers/ssh-sessions.js';

describe('e2e: a manual environment waits for its release', () => {
  let h: Harness;
  /** SSH sessions opened on the hosts so far (test/helpers/ssh-sessions.ts). */
  let sessions: () => Promise<number>;
  let sha: string;
  before(async () => {
    h = await startHarness({
      files: (hosts) => ({ 'politburo.yml': description(hosts, { extra: '    apply: manual' }) }),
    });
    sessions = await countSshSessions(h.ssh.hosts);
    sha = await h.repo.head();
    h.github.state.permissions.set(`${FULL_NAME}:reader`, 'read');
    h.github.state.permissions.set(`${FULL_NAME}:boss`, 'admin');
  });
  after(async () => {
    await h?.stop();
  });

  const botComments = (where: (c: { body: string }) => boolean) => [
    ...h.github.state.comments.filter((c) => c.user === 'politburo[bot]' && where(c)),
    ...h.github.state.commitComments.filter((c) => c.user === 'politburo[bot]' && where(c)),
  ];

  test('a push plans it, says it waits for release, queues no apply and opens no SSH session', async () => {
    await h.send('push', pushPayload(h.repo, { before: '0'.repeat(40), after: sha }));
    await waitFor('the waiting check', () => h.checks(sha).get(`politburo/${ENV}`)?.conclusion === 'neutral', 60_000);
    const check = h.checks(sha).get(`politburo/${ENV}`)!;
    assert.equal(check.title, `Waiting for release of ${ENV}`);
    assert.match(check.summary ?? '', /2 to create/);
    assert.equal(await countJobs(h.pool, { task: JOB_APPLY }), 0);
    const { rows } = await h.pool.query(
      'SELECT environment, commit, plan_summary, released_by, released_at FROM releases',
    );
    assert.deepEqual(rows, [
      { environment: ENV, commit: sha, plan_summary: '2 to create', released_by: null, released_at: null },
    ]);
    const runs = await h.pool.query('SELECT count(*)::int AS n FROM runs');
    assert.equal(runs.rows[0].n, 0);
    assert.equal(await sessions(), 0, 'no SSH session opened');
  });

  test('a reader on the commit is refused with the reason, in the commit thread; still no session', async () => {
    h.github.state.commitComments.push({
      id: 70_001,
      repo: FULL_NAME,
      commit_id: sha,
      body: `/politburo apply ${ENV}`,
      user: 'reader',
    });
    await h.send(
      'commit_comment',
      commitCommentPayload(h.repo, { sha, body: `/politburo apply ${ENV}`, user: 'reader', id: 70_001 }),
    );
    await waitFor('the refusal', () =>
      h.github.state.commitComments.find(
        (c) =>
          c.user === 'politburo[bot]' && c.commit_id === sha && /refused: @reader has read permission/.test(c.body),
      ),
    );
    assert.equal(await countJobs(h.pool, { task: JOB_APPLY }), 0);
    assert.equal(await sessions(), 0);
  });

  test('a writer on the merged pull request releases it: applied on the hosts, who and when recorded', async () => {
    h.github.state.pulls.push({
      repo: FULL_NAME,
      number: 21,
      head_sha: sha,
      base_sha: sha,
      merged: true,
      merge_commit_sha: sha,
    });
    const id = 70_002;
    h.github.state.comments.push({
      id,
      repo: FULL_NAME,
      issue_number: 21,
      body: `/politburo apply ${ENV}`,
      user: 'boss',
      reactions: [],
    });
    await h.send(
      'issue_comment',
      commentPayload(h.repo, { number: 21, body: `/politburo apply ${ENV}`, user: 'boss', id }),
    );
    await waitFor('applied', () => h.checks(sha).get(`politburo/${ENV}`)?.conclusion === 'success', 120_000);
    assert.ok((await sessions()) > 0, 'the release reached the hosts');
    const { rows } = await h.pool.query('SELECT released_by, released_at FROM releases WHERE commit = $1', [sha]);
    assert.equal(rows[0].released_by, 'boss');
    assert.ok(rows[0].released_at instanceof Date);
    await waitFor('the answer', () => botComments((c) => /^Released `test`/.test(c.body)).length === 1);
    await waitFor('the reaction', () => h.github.state.comments.find((c) => c.id === id)?.reactions.includes('rocket'));
    const trigger = await h.pool.query("SELECT trigger FROM runs WHERE kind = 'apply'");
    assert.match(trigger.rows[0].trigger, /^\/politburo apply test by boss/);
    assert.deepEqual(h.github.violations, []);
  });
});
