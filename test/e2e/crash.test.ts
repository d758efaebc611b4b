/** kill -9 in the middle of an apply: another controller picks the job up, the run completes and the check is final. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { description, ENV, FULL_NAME, pushPayload, startHarness, type Harness } from './harness.js';
import { spawnController, type ControllerProcess } from './spawn-controller.js';
import { waitFor } from '../helpers/wait-for.js';

describe('e2e: crash mid-apply', () => {
  let h: Harness;
  const procs: ControllerProcess[] = [];
  before(async () => {
    // Each met check sleeps: the apply takes seconds, long enough to be killed in the middle.
    h = await startHarness({
      controllers: 0,
      files: (hosts) => ({ 'politburo.yml': description(hosts, { sleep: 2 }) }),
    });
  });
  after(async () => {
    for (const p of procs) await p.kill('SIGKILL');
    await h?.stop();
  });

  test('the job runs again after the restart and the check ends completed', async () => {
    const first = await spawnController({ ...h.env, POLITBURO_DATA_DIR: `${h.env.POLITBURO_DATA_DIR}/a` });
    procs.push(first);
    const sha = await h.repo.head();
    const res = await h.send('push', pushPayload(h.repo, { before: '0'.repeat(40), after: sha }), first.url);
    assert.equal(res.status, 202);
    await waitFor(
      'apply in progress',
      async () => (await h.pool.query(`SELECT 1 FROM runs WHERE status = 'running' AND kind = 'apply'`)).rowCount,
    );
    await first.kill('SIGKILL');
    assert.notEqual(h.checks(sha).get(`politburo/${ENV}`)?.status, 'completed', 'killed before the end');

    const second = await spawnController({ ...h.env, POLITBURO_DATA_DIR: `${h.env.POLITBURO_DATA_DIR}/b` });
    procs.push(second);
    const check = await waitFor(
      'check completed after the restart',
      () => {
        const c = h.checks(sha).get(`politburo/${ENV}`);
        return c?.status === 'completed' ? c : null;
      },
      60_000,
    );
    assert.equal(check.conclusion, 'success', check.summary ?? '');
    const { rows } = await h.pool.query<{ path: string; state: string }>(
      `SELECT n.path, n.state FROM nodes n JOIN environments e ON e.id = n.environment_id JOIN repositories r ON r.id = e.repository_id
        WHERE r.key = $1 AND e.name = $2 ORDER BY n.path`,
      [FULL_NAME, ENV],
    );
    assert.deepEqual(
      rows.map((r) => [r.path, r.state]),
      [
        ['db', 'ready'],
        ['web', 'ready'],
      ],
    );
    const runs = await h.pool.query<{ status: string }>(`SELECT status FROM runs WHERE kind = 'apply' ORDER BY id`);
    assert.deepEqual(
      runs.rows.map((r) => r.status),
      ['cancelled', 'succeeded'],
      'the killed run is closed, not left running',
    );
    assert.deepEqual(h.github.violations, []);
  });
});
