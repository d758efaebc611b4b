/**
 * Drift schedule decisions over in-memory ports: which schedules a push records, the scheduler arming and disarming
 * crons as schedules change, and a tick claimed once (one drift job per environment).
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  claimDriftTick,
  startDriftScheduler,
  type DriftScheduler,
} from '../../../../controller/jobs/drift-schedule.js';
import { queueApplies } from '../../../../controller/jobs/queue-applies.js';
import { JOB_DRIFT } from '../../../../controller/ports.js';
import { inMemoryJobs, type InMemoryJobs } from '../../../helpers/in-memory-controller.js';
import { repo, yaml } from './fixtures.js';

describe('drift schedules', () => {
  let m: InMemoryJobs;
  let scheduler: DriftScheduler | undefined;
  beforeEach(() => {
    m = inMemoryJobs();
  });
  afterEach(async () => {
    scheduler?.stop();
    scheduler = undefined;
    await m.close();
  });
  const push = (sha: string, branch = 'main') => queueApplies(m.deps, repo, branch, sha, 'push', m.deps.logger);

  test('a push records the schedule of every environment following its branch, and only those', async () => {
    const sha = m.git.commit({
      'politburo.yml': yaml({
        prod: { schedule: '*/5 * * * *', heal: true },
        qa: { schedule: '0 3 * * *' },
        staging: { branch: 'develop', schedule: '0 4 * * *' },
      }),
    });
    await push(sha);
    const recorded = [...m.controllerStore.schedules().values()].map((s) => [s.environment, s.schedule, s.heal]);
    assert.deepEqual(recorded, [
      ['prod', '*/5 * * * *', true],
      ['qa', '0 3 * * *', false],
    ]);
  });

  test('the scheduler arms a cron per schedule as it is recorded, skips invalid patterns, disarms removed ones', async () => {
    scheduler = startDriftScheduler({ ...m.deps, refreshMs: 3_600_000 });
    await m.controllerStore.recordDriftSchedules([
      { repo, environment: 'prod', schedule: '*/5 * * * *', heal: false },
      { repo, environment: 'bad', schedule: 'not a cron', heal: false },
    ]);
    await scheduler.refresh();
    assert.deepEqual([...scheduler.armed()], [['acme/infra prod', '*/5 * * * *']]);
    await m.controllerStore.recordDriftSchedules([{ repo, environment: 'prod', schedule: '0 * * * *', heal: false }]);
    await scheduler.refresh();
    assert.equal(scheduler.armed().get('acme/infra prod'), '0 * * * *');
    await m.controllerStore.forgetDriftSchedule(repo, 'prod');
    await scheduler.refresh();
    assert.equal(scheduler.armed().size, 0);
  });

  test('a tick is claimed once and queues one drift job per environment, with the schedule’s heal setting', async () => {
    await m.controllerStore.recordDriftSchedules([{ repo, environment: 'prod', schedule: '0 * * * *', heal: true }]);
    const at = new Date('2030-01-01T10:00:00Z');
    const claims = await Promise.all([1, 2, 3].map(() => claimDriftTick(m.deps, 'acme/infra', 'prod', at)));
    assert.equal(claims.filter(Boolean).length, 1);
    assert.equal(await claimDriftTick(m.deps, 'acme/infra', 'prod', new Date('2030-01-01T11:00:00Z')), true);
    const jobs = m.queue.jobs(JOB_DRIFT);
    assert.equal(jobs.length, 1, 'a waiting drift job is kept, not duplicated');
    assert.deepEqual([jobs[0].payload.environment, jobs[0].payload.heal], ['prod', true]);
    assert.equal(jobs[0].payload.trigger, 'schedule 2030-01-01T10:00:00.000Z');
    assert.equal(await claimDriftTick(m.deps, 'acme/infra', 'gone', at), false, 'no schedule, no job');
  });
});
