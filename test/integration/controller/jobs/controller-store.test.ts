/**
 * The ControllerStore port (controller/jobs/job-ports.ts): the same contract checked against PostgreSQL
 * (controller/store/controller-store.ts) and the in-memory implementation the unit tests of the jobs use
 * (test/helpers/in-memory-controller.ts), so a decision unit-tested in memory holds over the database.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { ControllerStore } from '../../../../controller/jobs/job-ports.js';
import { createPgControllerStore } from '../../../../controller/store/controller-store.js';
import type { GitHubRepository } from '../../../../kernel/repository.js';
import type { StateStore } from '../../../../kernel/types.js';
import { createPgStore } from '../../../../store/pg-store.js';
import { createTestDatabase, type TestDatabase } from '../../../helpers/db.js';
import { createInMemoryControllerStore } from '../../../helpers/in-memory-controller.js';
import { createInMemoryStateStore } from '../../../helpers/in-memory-state-store.js';
import { waitFor } from '../../../helpers/wait-for.js';

const repo: GitHubRepository = {
  kind: 'github',
  owner: 'acme',
  name: 'infra',
  cloneUrl: 'https://github.example/acme/infra.git',
  defaultBranch: 'main',
};
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

function contract(name: string, open: () => Promise<{ store: ControllerStore; state: StateStore }>) {
  describe(`controller store: ${name}`, () => {
    let store: ControllerStore;
    let state: StateStore;
    before(async () => {
      ({ store, state } = await open());
    });

    test('a polled head is claimed once; a claim that was not handled is released back', async () => {
      assert.equal(await store.claimPollHead('/r', 'main', A), null, 'first time: no previous head');
      assert.equal(await store.claimPollHead('/r', 'main', A), false, 'the same head again');
      assert.equal(await store.claimPollHead('/r', 'main', B), A);
      await store.releasePollHead('/r', 'main', B, A);
      assert.equal(await store.claimPollHead('/r', 'main', B), A, 'released: the move is seen again');
      await store.releasePollHead('/r', 'other', C, null);
      assert.equal(await store.claimPollHead('/r', 'other', C), null);
      await store.releasePollHead('/r', 'other', C, null);
      assert.equal(await store.claimPollHead('/r', 'other', C), null, 'released to no head at all');
    });

    test('pull requests are remembered as last delivered', async () => {
      assert.equal(await store.knownPullRequest(repo, 7), null);
      await store.rememberPullRequest(repo, 7, { headSha: A, baseSha: B, headRepository: 'fork/infra' });
      await store.rememberPullRequest(repo, 7, { headSha: C, baseSha: B, headRepository: 'acme/infra' });
      assert.deepEqual(await store.knownPullRequest(repo, 7), { headSha: C, baseSha: B, headRepository: 'acme/infra' });
    });

    test('a pending release is recorded once per commit and released once, by whom and when', async () => {
      assert.equal(await store.release(repo, 'prod', A), null);
      assert.equal(await store.markReleased(repo, 'prod', A, 'boss'), false, 'nothing to release');
      await store.recordPendingRelease({ repo, environment: 'prod', sha: A, planSummary: '1 to create' });
      await store.recordPendingRelease({ repo, environment: 'prod', sha: A, planSummary: '2 to create' });
      const pending = await store.release(repo, 'prod', A);
      assert.deepEqual(
        { ...pending, createdAt: typeof pending?.createdAt },
        {
          repo,
          environment: 'prod',
          sha: A,
          planSummary: '2 to create',
          createdAt: 'string',
          releasedBy: null,
          releasedAt: null,
          supersededBy: null,
        },
      );
      // Two releases at once: one wins.
      const won = await Promise.all([
        store.markReleased(repo, 'prod', A, 'boss'),
        store.markReleased(repo, 'prod', A, 'dev'),
      ]);
      assert.deepEqual([...won].sort(), [false, true]);
      const released = await store.release(repo, 'prod', A);
      assert.equal(released?.releasedBy, won[0] ? 'boss' : 'dev');
      assert.ok(released?.releasedAt && !Number.isNaN(Date.parse(released.releasedAt)));
      // A redelivered push does not make it pending again.
      await store.recordPendingRelease({ repo, environment: 'prod', sha: A, planSummary: '2 to create' });
      assert.equal((await store.release(repo, 'prod', A))?.releasedBy, released?.releasedBy);
      assert.equal(await store.release(repo, 'staging', A), null, 'per environment');
      // A newer waiting commit supersedes the pending ones (not the released one); a superseded one is not released.
      await store.recordPendingRelease({ repo, environment: 'prod', sha: B, planSummary: '1 to update' });
      await store.recordPendingRelease({ repo, environment: 'prod', sha: C, planSummary: '1 to update' });
      assert.deepEqual(await store.supersedePendingReleases(repo, 'prod', C), [B]);
      assert.deepEqual(await store.supersedePendingReleases(repo, 'prod', C), []);
      assert.equal((await store.release(repo, 'prod', B))?.supersededBy, C);
      assert.equal((await store.release(repo, 'prod', A))?.supersededBy, null);
      assert.equal(await store.markReleased(repo, 'prod', B, 'boss'), false);
      assert.equal(await store.markReleased(repo, 'prod', C, 'boss'), true);
    });

    test("a new head's plans supersede the older heads' plans, once", async () => {
      const plan = (headSha: string, environments: string[]) =>
        store.recordPlannedHead({ repo, pullNumber: 9, baseSha: B, headSha, environments });
      assert.deepEqual(await plan(A, ['prod', 'qa']), []);
      const superseded = await plan(C, ['prod']);
      assert.deepEqual(
        superseded.sort((x, y) => x.environment.localeCompare(y.environment)),
        [
          { environment: 'prod', headSha: A },
          { environment: 'qa', headSha: A },
        ],
      );
      assert.deepEqual(await plan(C, ['prod']), [], 'planned again at the same head: nothing new superseded');
    });

    test("the plan a pull request's comment shows: its base, head and hash, the newest head only", async () => {
      assert.equal(await store.plannedHead(repo, 10, 'prod'), null);
      await store.recordPlannedHead({
        repo,
        pullNumber: 10,
        baseSha: B,
        headSha: A,
        environments: ['prod', 'qa'],
        planHashes: { prod: 'sha256:1' },
      });
      assert.deepEqual(await store.plannedHead(repo, 10, 'prod'), { baseSha: B, headSha: A, planHash: 'sha256:1' });
      assert.deepEqual(await store.plannedHead(repo, 10, 'qa'), { baseSha: B, headSha: A, planHash: null });
      await store.recordPlannedHead({
        repo,
        pullNumber: 10,
        baseSha: C,
        headSha: C,
        environments: ['prod'],
        planHashes: { prod: 'sha256:2' },
      });
      assert.deepEqual(await store.plannedHead(repo, 10, 'prod'), { baseSha: C, headSha: C, planHash: 'sha256:2' });
      assert.equal(await store.plannedHead(repo, 10, 'qa'), null, 'superseded by the newer head');
      assert.equal(await store.plannedHead(repo, 11, 'prod'), null);
    });

    test('the applied policy keeps apply_from_pull_request', async () => {
      await store.recordAppliedPolicy(repo, 'pr-env', A, {
        apply: 'manual',
        suspend: false,
        applyFromPullRequest: true,
      });
      assert.deepEqual(await store.appliedPolicy(repo, 'pr-env'), {
        sha: A,
        policy: { apply: 'manual', suspend: false, applyFromPullRequest: true },
      });
    });

    test('a drift alert is sent once per change of what drifted, and its resolution once', async () => {
      assert.equal(await store.driftAlertChanged(repo, 'prod', 'x'), true);
      assert.equal(await store.driftAlertChanged(repo, 'prod', 'x'), false);
      assert.equal(await store.driftAlertChanged(repo, 'prod', 'y'), true);
      assert.equal(await store.driftAlertChanged(repo, 'prod', null), true);
      assert.equal(await store.driftAlertChanged(repo, 'prod', null), false);
    });

    test('drift schedules: recorded and announced, a tick claimed once, the applied source, forgotten', async () => {
      let announced = 0;
      const listener = store.onDriftSchedulesChanged(() => announced++, { retryMs: 100 });
      try {
        await waitFor('listening', () => announced > 0, 60_000);
        const seen = announced;
        await store.recordDriftSchedules([{ repo, environment: 'prod', schedule: '*/5 * * * *', heal: true }]);
        await waitFor('the change announced', () => announced > seen, 60_000);
        assert.deepEqual(await store.driftSchedules(), [
          { repository: 'acme/infra', environment: 'prod', schedule: '*/5 * * * *' },
        ]);
        const tick = new Date('2030-01-01T00:05:00Z');
        assert.deepEqual(await store.claimDriftTick('acme/infra', 'prod', tick), { repo, heal: true });
        assert.equal(await store.claimDriftTick('acme/infra', 'prod', tick), null, 'claimed already');
        assert.equal(await store.claimDriftTick('acme/infra', 'nope', tick), null);

        assert.equal(await store.appliedEnvironmentSource('acme/infra', 'prod'), null, 'nothing applied yet');
        const run = await state.startRun({
          repository: 'acme/infra',
          environment: 'prod',
          commit: A,
          kind: 'apply',
          trigger: 'test',
        });
        await state.finishRun(run.id, 'succeeded', {});
        assert.deepEqual(await store.appliedEnvironmentSource('acme/infra', 'prod'), { repo, sha: A });

        await store.forgetDriftSchedule(repo, 'prod');
        assert.deepEqual(await store.driftSchedules(), []);
        assert.equal(await store.appliedEnvironmentSource('acme/infra', 'prod'), null);
      } finally {
        listener.stop();
      }
    });
  });
}

let db: TestDatabase;
let pool: pg.Pool;
before(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  pool.on('error', () => {}); // idle connections are cut when the test database is dropped
});
after(async () => {
  await pool?.end();
  await db?.drop();
});

contract('PostgreSQL', async () => ({ store: createPgControllerStore(pool), state: createPgStore(pool) }));
contract('in memory', async () => {
  const state = createInMemoryStateStore();
  return { store: createInMemoryControllerStore(state), state };
});
