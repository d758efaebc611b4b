/**
 * Applying an open pull request before merge, end to end (docs/language.md "Apply from a pull request",
 * docs/controller.md "Applying a pull request before merge"): real controller, PostgreSQL, git and sshd hosts, the
 * OpenAPI-validating GitHub fake. Each refusal is answered in the thread and opens no SSH session (each host's
 * ~/.ssh/rc counts sessions): the pull request's own `apply_from_pull_request`, a reader, a fork, no approval, a
 * blocked merge, a moved head (answered with the new plan). With every requirement met, the head is applied.
 */
import { access } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { JOB_APPLY } from '../../controller/ports.js';
import { countJobs } from '../../controller/store/graphile-queue.js';
import type { FakePull } from '../helpers/fake-github/state.js';
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
import { countSshSessions } from '../helpers/ssh-sessions.js';

const ALLOWED = '    apply_from_pull_request: true';

describe('e2e: /politburo apply on an open pull request', () => {
  let h: Harness;
  /** SSH sessions opened on the hosts so far (test/helpers/ssh-sessions.ts). */
  let sessions: () => Promise<number>;
  let commentId = 90_000;
  before(async () => {
    h = await startHarness();
    sessions = await countSshSessions(h.ssh.hosts);
    h.github.state.permissions.set(`${FULL_NAME}:reader`, 'read');
    h.github.state.permissions.set(`${FULL_NAME}:boss`, 'admin');
  });
  after(async () => {
    await h?.stop();
  });

  const runs = async () => (await h.pool.query("SELECT count(*)::int AS n FROM runs WHERE kind = 'apply'")).rows[0].n;
  const applied = async (sha: string) => {
    await waitFor('applied', () => h.checks(sha).get(`politburo/${ENV}`)?.conclusion === 'success', 120_000);
  };
  /** Pushes the current main head and waits for its apply. */
  const pushMain = async (before: string) => {
    const sha = await h.repo.head('main');
    await h.send('push', pushPayload(h.repo, { before, after: sha }));
    await applied(sha);
    return sha;
  };
  /** Opens pull request `number` from `branch` at its head, waits for its plan comment; the fake answers `pull`. */
  const openPull = async (number: number, head: string, base: string, pull: Partial<FakePull> = {}) => {
    h.github.state.pulls.push({
      repo: FULL_NAME,
      number,
      head_sha: head,
      base_sha: base,
      merged: false,
      merge_commit_sha: null,
      head_ref: 'feature',
      base_ref: 'main',
      mergeable_state: 'clean',
      reviews: [{ user: 'alice', state: 'APPROVED', commit_id: head }],
      ...pull,
    });
    await h.send(
      'pull_request',
      pullRequestPayload(h.repo, {
        action: 'opened',
        number,
        head,
        base,
        ...(pull.head_repo ? { headRepo: pull.head_repo } : {}),
      }),
    );
    await waitFor('the plan comment', () =>
      h.github.state.comments.find((c) => c.issue_number === number && c.body.includes(head.slice(0, 7))),
    );
    await waitFor('the plan recorded', async () => {
      const { rows } = await h.pool.query('SELECT 1 FROM pr_plans WHERE pull_number = $1 AND head_sha = $2', [
        number,
        head,
      ]);
      return rows.length > 0;
    });
  };
  const pull = (number: number) => h.github.state.pulls.find((p) => p.number === number)!;
  /** Comments `/politburo apply ENV` on pull request `number` as `user`; resolves to the bot's answer. */
  const comment = async (number: number, user: string) => {
    const id = ++commentId;
    const body = `/politburo apply ${ENV}`;
    const answers = () =>
      h.github.state.comments.filter(
        (c) => c.user === 'politburo[bot]' && c.issue_number === number && !c.body.includes('<!-- politburo:plan -->'),
      );
    const earlier = answers().length;
    h.github.state.comments.push({ id, repo: FULL_NAME, issue_number: number, body, user, reactions: [] });
    await h.send('issue_comment', commentPayload(h.repo, { number, body, user, id }));
    await waitFor(`the answer to comment ${id}`, () => answers().length > earlier);
    return answers().at(-1)!.body;
  };

  let main: string;
  let head: string;

  test('main is applied without apply_from_pull_request; a pull request that sets it for itself is refused', async () => {
    main = await pushMain('0'.repeat(40));
    await h.repo.git('checkout', '-q', '-b', 'self');
    const self = await h.repo.commit({ 'politburo.yml': description(h.ssh.hosts, { version: 'v2', extra: ALLOWED }) });
    await h.repo.git('checkout', '-q', 'main');
    await openPull(30, self, main);
    const before = await sessions();
    const answer = await comment(30, 'boss');
    assert.match(answer, /refused: `test` does not allow applying a pull request before merge/);
    assert.match(answer, new RegExp(`not set at its last applied commit ${main.slice(0, 7)}`));
    assert.equal(await sessions(), before, 'no SSH session');
    assert.equal(await countJobs(h.pool, { task: JOB_APPLY }), 0);
  });

  test('once main applied it, a reader, a fork, no approval and a blocked merge are each refused; no session', async () => {
    await h.repo.commit({ 'politburo.yml': description(h.ssh.hosts, { version: 'v1b', extra: ALLOWED }) });
    main = await pushMain(main);
    await h.repo.git('checkout', '-q', '-b', 'feature');
    head = await h.repo.commit({ 'politburo.yml': description(h.ssh.hosts, { version: 'v2', extra: ALLOWED }) });
    await h.repo.git('checkout', '-q', 'main');
    await openPull(31, head, main, { reviews: [] });
    await openPull(32, head, main, { head_repo: 'mallory/infra' });
    const before = await sessions();
    const applies = await runs();

    assert.match(await comment(31, 'reader'), /refused: @reader has read permission on the repository/);
    assert.match(await comment(32, 'boss'), /refused: the head of pull request #32 is in the fork mallory\/infra/);
    assert.match(await comment(31, 'boss'), /refused: pull request #31 is not approved/);
    pull(31).reviews = [
      { user: 'alice', state: 'APPROVED', commit_id: head },
      { user: 'bob', state: 'CHANGES_REQUESTED', commit_id: head },
    ];
    assert.match(await comment(31, 'boss'), /refused: pull request #31 has changes requested \(@bob\)/);
    pull(31).reviews = [{ user: 'alice', state: 'APPROVED', commit_id: head }];
    pull(31).mergeable_state = 'blocked';
    assert.match(
      await comment(31, 'boss'),
      /refused: pull request #31 cannot be merged as it is: its branch protection/,
    );

    assert.equal(await sessions(), before, 'no SSH session');
    assert.equal(await runs(), applies, 'no apply run');
    assert.equal(await countJobs(h.pool, { task: JOB_APPLY }), 0);
  });

  test('a head moved since the plan is answered with the new plan, the comment planned again; nothing applied', async () => {
    await h.repo.git('checkout', '-q', 'feature');
    const newer = await h.repo.commit({ 'politburo.yml': description(h.ssh.hosts, { version: 'v3', extra: ALLOWED }) });
    await h.repo.git('checkout', '-q', 'main');
    // GitHub knows the new head; its synchronize delivery has not arrived (or was lost).
    Object.assign(pull(31), { head_sha: newer, mergeable_state: 'clean' });
    const before = await sessions();
    const answer = await comment(31, 'boss');
    assert.match(answer, new RegExp(`the head moved from ${head.slice(0, 7)} to ${newer.slice(0, 7)} since the plan`));
    assert.match(answer, /The new plan of `test` at .*: 2 to update/);
    await waitFor('the plan comment shows the new head', () =>
      h.github.state.comments.find(
        (c) =>
          c.issue_number === 31 && c.body.includes('<!-- politburo:plan -->') && c.body.includes(newer.slice(0, 7)),
      ),
    );
    await waitFor('the new plan recorded', async () => {
      const { rows } = await h.pool.query('SELECT 1 FROM pr_plans WHERE pull_number = 31 AND head_sha = $1', [newer]);
      return rows.length > 0;
    });
    assert.equal(await sessions(), before, 'no SSH session');
    assert.equal(h.checks(newer).get(`politburo/${ENV}`), undefined, 'no apply check');
    head = newer;
  });

  test('every requirement met: the pull request head is applied, who and which commit recorded', async () => {
    const before = await sessions();
    const answer = await comment(31, 'boss');
    assert.match(answer, new RegExp(`^Applying \`test\` at ${head.slice(0, 7)}, the head of pull request #31`));
    await applied(head);
    assert.ok((await sessions()) > before, 'the apply reached the hosts');
    for (const host of h.ssh.hosts) await access(path.join(host.home, 'state', 'v3'));
    const { rows } = await h.pool.query(
      "SELECT commit, trigger FROM runs WHERE kind = 'apply' ORDER BY id DESC LIMIT 1",
    );
    assert.equal(rows[0].commit, head);
    assert.match(rows[0].trigger, /^\/politburo apply test by boss from pull request #31/);
    const release = await h.pool.query('SELECT released_by, plan_summary FROM releases WHERE commit = $1', [head]);
    assert.deepEqual(release.rows, [{ released_by: 'boss', plan_summary: 'pull request #31: 2 to update' }]);
    await waitFor('the reaction', () =>
      h.github.state.comments.find((c) => c.id === commentId)?.reactions.includes('rocket'),
    );
    assert.deepEqual(h.github.violations, []);
  });
});
