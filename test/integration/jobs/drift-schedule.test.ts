/** The drift scheduler: crons armed from the table, ticks queue one drift job, bad patterns skipped, removed rows disarmed. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDriftScheduler } from '../../../controller/jobs/drift-schedule.js';
import { JOB_DRIFT } from '../../../controller/ports.js';
import { waitFor } from '../../e2e/harness.js';
import { startJobsHarness, type JobsHarness } from './jobs-harness.js';

describe('drift scheduler', () => {
  let h: JobsHarness;
  before(async () => {
    h = await startJobsHarness();
  });
  after(async () => {
    await h?.stop();
  });

  const insert = (env: string, schedule: string) =>
    h.pool.query(`INSERT INTO drift_schedules (repository, environment, schedule, heal, repo) VALUES ('acme/infra', $1, $2, true, $3::jsonb)`, [
      env,
      schedule,
      JSON.stringify({ owner: 'acme', name: 'infra', cloneUrl: '/nowhere', defaultBranch: 'main' }),
    ]);

  test('two replicas arm every schedule; each tick queues one drift job per environment', async () => {
    await insert('prod', '* * * * * *'); // every second (croner's 6-field form), to see ticks quickly
    await insert('bad', 'not a cron');
    const a = startDriftScheduler({ pool: h.pool, logger: h.deps.logger, refreshMs: 200 });
    const b = startDriftScheduler({ pool: h.pool, logger: h.deps.logger, refreshMs: 200 });
    try {
      await waitFor('armed', () => a.armed().get('acme/infra prod') && b.armed().get('acme/infra prod'));
      assert.equal(a.armed().has('acme/infra bad'), false, 'an invalid pattern is not armed');
      const jobs = await waitFor('a drift job', async () => {
        const j = await h.jobs(JOB_DRIFT);
        return j.length ? j : null;
      });
      assert.equal(jobs.length, 1, 'one job per environment, whatever the number of replicas and ticks');
      assert.equal(jobs[0].key, 'drift:acme/infra:prod');
      assert.equal(jobs[0].payload.heal, true);
      const ticks = async () => (await h.pool.query(`SELECT last_tick FROM drift_schedules WHERE environment = 'prod'`)).rows[0].last_tick as Date;
      const first = await ticks();
      await waitFor('the next tick claimed', async () => (await ticks()) > first);

      await h.pool.query(`DELETE FROM drift_schedules WHERE environment = 'prod'`);
      await a.refresh();
      assert.equal(a.armed().size, 0, 'a removed schedule is disarmed');
    } finally {
      a.stop();
      b.stop();
    }
  });
});
