/**
 * An environment removed from the description is terminated when the removal lands on its branch, as the pull
 * request's plan said (docs/language.md): its recorded nodes end `terminated`, its check says so, its drift schedule
 * goes; the environments still described are left alone.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { description, ENV, FULL_NAME, pushPayload, startHarness, type Harness } from './harness.js';
import type { SshHost } from '../helpers/sshd.js';
import { waitFor } from '../helpers/wait-for.js';

const EXTRA = 'extra';

function withExtra(hosts: SshHost[]): string {
  const host = (h: SshHost) => `{ address: '${h.address}', port: ${h.port}, user: ${h.user} }`;
  return description(hosts, {
    extra: [
      "    drift: { schedule: '*/5 * * * *' }",
      `  ${EXTRA}:`,
      '    blueprint: app',
      `    hosts: { web: ${host(hosts[0])}, db: ${host(hosts[1] ?? hosts[0])} }`,
      '    known_hosts: known_hosts',
      "    drift: { schedule: '*/5 * * * *' }",
    ].join('\n'),
  });
}

describe('e2e: removing an environment', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ files: (hosts) => ({ 'politburo.yml': withExtra(hosts) }) });
  });
  after(async () => h?.stop());

  const nodes = async (env: string) =>
    (await h.controllers[0].context.store.recordedNodes(FULL_NAME, env)).map((n) => [n.path, n.state]).sort();

  test('a push that removes an environment terminates its nodes; the others are untouched', async () => {
    const first = await h.repo.head();
    await h.send('push', pushPayload(h.repo, { before: '0'.repeat(40), after: first }));
    await waitFor(
      'both applied',
      () =>
        h.checks(first).get(`politburo/${ENV}`)?.conclusion === 'success' &&
        h.checks(first).get(`politburo/${EXTRA}`)?.conclusion === 'success',
    );
    assert.deepEqual(await nodes(EXTRA), [
      ['db', 'ready'],
      ['web', 'ready'],
    ]);
    await waitFor(
      'drift schedules recorded',
      async () => (await h.pool.query('SELECT count(*)::int AS n FROM drift_schedules')).rows[0].n === 2,
    );

    const removal = await h.repo.commit(
      { 'politburo.yml': description(h.ssh.hosts, { extra: "    drift: { schedule: '*/5 * * * *' }" }) },
      `remove ${EXTRA}`,
    );
    await h.send('push', pushPayload(h.repo, { before: first, after: removal }));
    const check = await waitFor('removal applied', () => {
      const c = h.checks(removal).get(`politburo/${EXTRA}`);
      return c?.status === 'completed' ? c : undefined;
    });
    assert.equal(check.conclusion, 'success', `${check.title}: ${check.summary}`);
    assert.deepEqual(await nodes(EXTRA), [], 'no live node on record');
    const lastRun = await h.pool.query(
      `SELECT nr.path, nr.state::text AS state, r.commit FROM node_runs nr JOIN runs r ON r.id = nr.run_id
        WHERE r.id = (SELECT max(id) FROM runs WHERE environment_id = (SELECT id FROM environments WHERE name = $1)) ORDER BY nr.path`,
      [EXTRA],
    );
    assert.deepEqual(lastRun.rows, [
      { path: 'db', state: 'terminated', commit: removal },
      { path: 'web', state: 'terminated', commit: removal },
    ]);
    assert.deepEqual(await nodes(ENV), [
      ['db', 'ready'],
      ['web', 'ready'],
    ]);
    assert.equal(h.checks(removal).get(`politburo/${ENV}`), undefined, 'the unchanged environment is not applied');
    const schedules = await h.pool.query('SELECT environment FROM drift_schedules');
    assert.deepEqual(
      schedules.rows.map((r) => r.environment),
      [ENV],
    );

    // The same push again (a redelivery): nothing left to terminate, nothing queued.
    const runsBefore = (
      await h.pool.query(
        `SELECT count(*)::int AS n FROM runs WHERE environment_id = (SELECT id FROM environments WHERE name = $1)`,
        [EXTRA],
      )
    ).rows[0].n;
    const again = await h.send('push', pushPayload(h.repo, { before: first, after: removal }));
    assert.equal(again.status, 202);
    await waitFor(
      'redelivery processed',
      async () =>
        (await h.pool.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE processed_at IS NULL`)).rows[0]
          .n === 0,
    );
    const runsAfter = (
      await h.pool.query(
        `SELECT count(*)::int AS n FROM runs WHERE environment_id = (SELECT id FROM environments WHERE name = $1)`,
        [EXTRA],
      )
    ).rows[0].n;
    assert.equal(runsAfter, runsBefore);
    assert.deepEqual(h.github.violations, []);
  });

  test('a push from a new branch (no previous head) terminates nothing', async () => {
    const head = await h.repo.head();
    await h.repo.git('checkout', '-q', '-b', 'other');
    const other = await h.repo.commit(
      { 'politburo.yml': description(h.ssh.hosts, { extra: `    branch: other` }) },
      'other branch',
    );
    await h.send('push', pushPayload(h.repo, { branch: 'other', before: '0'.repeat(40), after: other }));
    await waitFor(
      'push processed',
      async () =>
        (await h.pool.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE processed_at IS NULL`)).rows[0]
          .n === 0,
    );
    assert.deepEqual(await nodes(ENV), [
      ['db', 'ready'],
      ['web', 'ready'],
    ]);
    await h.repo.git('checkout', '-q', 'main');
    assert.equal(await h.repo.head(), head);
  });

  test('a later push that lands before the termination runs does not cancel it', async () => {
    const before = await h.repo.head();
    const again = await h.repo.commit({ 'politburo.yml': withExtra(h.ssh.hosts) }, `${EXTRA} again`);
    await h.send('push', pushPayload(h.repo, { before, after: again }));
    await waitFor(`${EXTRA} applied again`, () => h.checks(again).get(`politburo/${EXTRA}`)?.conclusion === 'success');
    assert.deepEqual(await nodes(EXTRA), [
      ['db', 'ready'],
      ['web', 'ready'],
    ]);

    // Two commits land before the controller hears of the first: the branch head has moved on when the termination
    // queued by the first push runs, and that head does not describe the environment either.
    const removal = await h.repo.commit(
      { 'politburo.yml': description(h.ssh.hosts, { extra: "    drift: { schedule: '*/5 * * * *' }" }) },
      `remove ${EXTRA} again`,
    );
    const later = await h.repo.commit({ 'README.md': 'unrelated\n' }, 'unrelated change');
    await h.send('push', pushPayload(h.repo, { before: again, after: removal }));
    await h.send('push', pushPayload(h.repo, { before: removal, after: later }));
    const check = await waitFor('termination finished', () => {
      const c = h.checks(removal).get(`politburo/${EXTRA}`);
      return c?.status === 'completed' ? c : undefined;
    });
    assert.equal(check.conclusion, 'success', `${check.title}: ${check.summary}`);
    assert.deepEqual(await nodes(EXTRA), []);
    assert.deepEqual(h.github.violations, []);
  });
});
