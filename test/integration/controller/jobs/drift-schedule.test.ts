/**
 * The drift scheduler: crons armed from the table, ticks queue one drift job, bad patterns skipped, removed rows
 * disarmed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { recordDriftSchedules, startDriftScheduler } from '../../../../controller/jobs/drift-schedule.js';
import { loadDescription } from '../../../../schema/load-description.js';
import { JOB_DRIFT } from '../../../../controller/ports.js';

import { startJobsHarness, type JobsHarness } from './jobs-harness.js';
import { waitFor } from '../../../helpers/wait-for.js';

describe('drift scheduler', () => {
  let h: JobsHarness;
  before(async () => {
    h = await startJobsHarness();
  });
  after(async () => {
    await h?.stop();
  });

  const insert = (env: string, schedule: string) =>
    h.pool.query(
      `INSERT INTO drift_schedules (repository, environment, schedule, heal, repo) VALUES ('acme/infra', $1, $2, true, $3::jsonb)`,
      [env, schedule, JSON.stringify({ owner: 'acme', name: 'infra', cloneUrl: '/nowhere', defaultBranch: 'main' })],
    );

  test('two replicas arm every schedule; each tick queues one drift job per environment', async () => {
    await insert('prod', '* * * * * *'); // every second (croner's 6-field form), to see ticks quickly
    await insert('bad', 'not a cron');
    const a = startDriftScheduler({ ...h.deps, refreshMs: 200 });
    const b = startDriftScheduler({ ...h.deps, refreshMs: 200 });
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
      const ticks = async () =>
        (await h.pool.query(`SELECT last_tick FROM drift_schedules WHERE environment = 'prod'`)).rows[0]
          .last_tick as Date;
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

  /** A real description whose environment `staging` has the given drift schedule. */
  const describedWith = async (schedule: string) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'politburo-drift-schedule-'));
    try {
      await writeFile(
        path.join(dir, 'politburo.yml'),
        `politburo: 1
blueprints:
  app:
    resources:
      box: { tasks: [{ name: noop, met: 'true', meet: 'true' }] }
environments:
  staging:
    blueprint: app
    hosts: { box: local }
    drift: { schedule: '${schedule}', heal: false }
`,
      );
      const loaded = await loadDescription({ dir });
      assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.errors));
      return loaded.description;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
  const repo = { kind: 'github' as const, owner: 'acme', name: 'web', cloneUrl: '/nowhere', defaultBranch: 'main' };
  const backends = async () =>
    (
      await h.pool.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'`,
        [new URL(h.db.url).pathname.slice(1)],
      )
    ).rows;

  test('a schedule recorded by an apply is armed on every replica at once, not at the next re-read; also after the listener is cut', async () => {
    // Re-reads an hour apart: only the announcement of the change can arm it in time.
    const a = startDriftScheduler({ ...h.deps, refreshMs: 3_600_000, relistenMs: 100 });
    const b = startDriftScheduler({ ...h.deps, refreshMs: 3_600_000, relistenMs: 100 });
    try {
      await recordDriftSchedules(h.deps.controllerStore, repo, await describedWith('*/5 * * * *'), ['staging']);
      await waitFor(
        'armed on both replicas',
        () =>
          a.armed().get('acme/web staging') === '*/5 * * * *' && b.armed().get('acme/web staging') === '*/5 * * * *',
        60_000,
      );

      // The listeners' connections are terminated (a failover, a pgbouncer restart): they listen again, and a change
      // announced while they were away is still picked up.
      await h.pool.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'LISTEN%'`,
        [new URL(h.db.url).pathname.slice(1)],
      );
      await recordDriftSchedules(h.deps.controllerStore, repo, await describedWith('*/7 * * * *'), ['staging']);
      await waitFor(
        'the change armed after the cut',
        () =>
          a.armed().get('acme/web staging') === '*/7 * * * *' && b.armed().get('acme/web staging') === '*/7 * * * *',
        60_000,
      );
      await waitFor('listening again', async () => (await backends()).length === 2);
      await recordDriftSchedules(h.deps.controllerStore, repo, await describedWith('*/9 * * * *'), ['staging']);
      await waitFor(
        'armed through the new listeners',
        () =>
          a.armed().get('acme/web staging') === '*/9 * * * *' && b.armed().get('acme/web staging') === '*/9 * * * *',
        60_000,
      );
    } finally {
      a.stop();
      b.stop();
    }
    await waitFor('listeners closed on stop', async () => (await backends()).length === 0);
  });
});
