// The contract of controller/store/graphile-queue.ts with graphile-worker's real tables: every query it issues runs
// against a schema installed by graphile-worker's own migrations, and a schema or package other than the one the module
// was written for is refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import {
  addJob,
  checkGraphileWorkerPackage,
  checkQueueSchema,
  countJobs,
  countJobsLockedBy,
  deleteAllJobs,
  ensureTask,
  forceUnlockWorkers,
  holdsLockedJob,
  insertJobSql,
  installedGraphileWorkerVersion,
  jobExistsForCommit,
  listJobs,
  lockWaitingJobPayload,
  markJobLocked,
  QueueSchemaMismatchError,
  queueSchemaProblem,
  queueSchemaRevision,
  queueStats,
  workerPoolsLockedFor,
  WRITTEN_FOR,
} from '../../../../controller/store/graphile-queue.js';
import { inTransaction } from '../../../../store/in-transaction.js';
import { ensureQueueSchema, startQueueWorker } from '../../../../controller/queue/queue-worker.js';
import { createReadinessCheck } from '../../../../controller/readiness.js';
import { createTestDatabase, type TestDatabase } from '../../../helpers/db.js';
import { queueDatabase, type QueueDb } from '../fixtures.js';

const repo = { owner: 'acme', name: 'infra', cloneUrl: 'https://github.com/acme/infra.git', defaultBranch: 'main' };

describe('graphile-queue against the schema graphile-worker installs', () => {
  let q: QueueDb;
  before(async () => {
    q = await queueDatabase();
  });
  after(async () => q.close());

  test('the installed package and the migrated schema are the ones the module was written for', async () => {
    const installed = installedGraphileWorkerVersion();
    assert.match(installed, new RegExp(`^${WRITTEN_FOR.version.major}\\.${WRITTEN_FOR.version.minor}\\.\\d+`));
    assert.doesNotThrow(() => checkGraphileWorkerPackage());
    assert.equal(await queueSchemaRevision(q.pool), WRITTEN_FOR.schemaRevision);
    assert.equal(await queueSchemaProblem(q.pool), null);
    await checkQueueSchema(q.pool);
  });

  test('addJob queues with every option; listJobs and countJobs read it back', async () => {
    await deleteAllJobs(q.pool);
    const runAt = new Date(Date.now() + 3_600_000);
    const added = await addJob(
      q.pool,
      'contract-task',
      { hello: 'world' },
      { queueName: 'env:acme/infra:production', jobKey: 'k-1', runAt, maxAttempts: 3, priority: 5 },
    );
    assert.equal(added.key, 'k-1');
    assert.equal(added.queueName, 'env:acme/infra:production');
    const [job] = await listJobs(q.pool, { id: added.id });
    assert.deepEqual(
      { ...job, runAt: job.runAt.getTime() },
      {
        id: added.id,
        task: 'contract-task',
        queueName: 'env:acme/infra:production',
        key: 'k-1',
        payload: { hello: 'world' },
        priority: 5,
        runAt: runAt.getTime(),
        attempts: 0,
        maxAttempts: 3,
        lastError: null,
        lockedBy: null,
        lockedAt: null,
      },
    );
    // The same key replaces the waiting job; another task is counted apart.
    await addJob(q.pool, 'contract-task', { hello: 'again' }, { jobKey: 'k-1' });
    await addJob(q.pool, 'other-task', {});
    assert.deepEqual(
      (await listJobs(q.pool, { task: 'contract-task' })).map((j) => j.payload),
      [{ hello: 'again' }],
    );
    assert.equal(await countJobs(q.pool), 2);
    assert.equal(await countJobs(q.pool, { task: 'contract-task' }), 1);
    assert.equal(await countJobs(q.pool, { task: 'no-such-task' }), 0);
    assert.deepEqual(await listJobs(q.pool, { task: 'no-such-task' }), []);
  });

  test('lockWaitingJobPayload reads the waiting job of a key inside a transaction, never a running one', async () => {
    await deleteAllJobs(q.pool);
    const added = await addJob(q.pool, 'contract-task', { sha: 'aaa1' }, { jobKey: 'apply:acme/infra:production' });
    const read = (key: string) => inTransaction(q.pool, (client) => lockWaitingJobPayload(client, key));
    assert.deepEqual(await read('apply:acme/infra:production'), { sha: 'aaa1' });
    assert.equal(await read('apply:acme/infra:staging'), undefined);
    await markJobLocked(q.pool, added.id, { workerPoolId: 'pool-a', lockedForMs: 0, attempts: 1 });
    assert.equal(await read('apply:acme/infra:production'), undefined, 'a running job is not waiting');
  });

  test('insertJobSql inserts one job for the rows of the caller statement, and none for no rows', async () => {
    await deleteAllJobs(q.pool);
    await ensureTask(q.pool, 'batch-task');
    await ensureTask(q.pool, 'batch-task'); // idempotent
    const statement = (from: string) =>
      `WITH input AS (SELECT * FROM (VALUES ('d1', 1), ('d2', 2)) AS v(id, n)), job AS (
         ${insertJobSql({
           task: '$1',
           payload: "json_agg(json_build_object('deliveryId', input.id) ORDER BY input.n)",
           maxAttempts: '$2',
           from,
         })}
       ) SELECT id::text FROM job`;
    const { rows } = await q.pool.query<{ id: string }>(statement('input'), ['batch-task', 7]);
    assert.equal(rows.length, 1);
    const [job] = await listJobs(q.pool, { id: rows[0].id });
    assert.equal(job.task, 'batch-task');
    assert.equal(job.maxAttempts, 7);
    assert.deepEqual(job.payload, [{ deliveryId: 'd1' }, { deliveryId: 'd2' }]);
    const none = await q.pool.query(statement('input WHERE false'), ['batch-task', 7]);
    assert.equal(none.rowCount, 0);
    assert.equal(await countJobs(q.pool), 1);
    // A task graphile-worker does not know yet: the documented not-null failure (the caller then runs ensureTask).
    await assert.rejects(q.pool.query(statement('input'), ['unknown-task', 7]), { code: '23502' });
  });

  test('queueStats counts waiting and running jobs per task, a batch job as many as it carries', async () => {
    await deleteAllJobs(q.pool);
    await addJob(q.pool, 'github-delivery', [{ deliveryId: 'a' }, { deliveryId: 'b' }, { deliveryId: 'c' }]);
    const running = await addJob(q.pool, 'github-delivery', { deliveryId: 'd' });
    await markJobLocked(q.pool, running.id, { workerPoolId: 'pool-a', lockedForMs: 0, attempts: 1 });
    await addJob(q.pool, 'apply-environment', { sha: 'x' });
    assert.deepEqual(await queueStats(q.pool), [
      { task: 'apply-environment', waiting: 1, running: 0 },
      { task: 'github-delivery', waiting: 3, running: 1 },
    ]);
  });

  test('jobExistsForCommit finds an apply or plan job by repository and commit', async () => {
    await deleteAllJobs(q.pool);
    await addJob(q.pool, 'apply-environment', { repo, environment: 'production', sha: 'aaa1' });
    await addJob(q.pool, 'plan-pull-request', { repo, pullNumber: 1, headSha: 'bbb2', baseSha: 'ccc3' });
    const tasks = ['apply-environment', 'plan-pull-request'];
    assert.equal(await jobExistsForCommit(q.pool, { tasks, sha: 'aaa1', repository: 'acme/infra' }), true);
    assert.equal(await jobExistsForCommit(q.pool, { tasks, sha: 'bbb2', repository: 'acme/infra' }), true);
    assert.equal(await jobExistsForCommit(q.pool, { tasks, sha: 'ccc3', repository: 'acme/infra' }), false);
    assert.equal(await jobExistsForCommit(q.pool, { tasks, sha: 'aaa1', repository: 'acme/other' }), false);
    assert.equal(
      await jobExistsForCommit(q.pool, { tasks: ['drift-environment'], sha: 'aaa1', repository: 'acme/infra' }),
      false,
    );
  });

  test('locks of worker pools: found by age, counted per pool, released by force_unlock_workers', async () => {
    await deleteAllJobs(q.pool);
    const old = await addJob(q.pool, 'contract-task', { n: 1 }, { queueName: 'env:acme/infra:production' });
    const fresh = await addJob(q.pool, 'contract-task', { n: 2 });
    const queueOnly = await addJob(q.pool, 'contract-task', { n: 3 }, { queueName: 'env:acme/infra:staging' });
    await markJobLocked(q.pool, old.id, {
      workerPoolId: 'pool-old',
      lockedForMs: 120_000,
      attempts: 1,
      queueToo: true,
    });
    await markJobLocked(q.pool, fresh.id, { workerPoolId: 'pool-fresh', lockedForMs: 0, attempts: 1 });
    // A named queue held by a pool that holds no job any more: found through the queues table alone.
    await markJobLocked(q.pool, queueOnly.id, { workerPoolId: 'pool-queue', lockedForMs: 120_000, queueToo: true });
    await markJobLocked(q.pool, queueOnly.id, { workerPoolId: 'pool-fresh', lockedForMs: 0 });
    assert.equal(await holdsLockedJob(q.pool, 'pool-queue'), false);
    assert.deepEqual(await workerPoolsLockedFor(q.pool, 60_000), ['pool-old', 'pool-queue']);
    assert.deepEqual(await workerPoolsLockedFor(q.pool, 3_600_000), []);
    assert.equal(await holdsLockedJob(q.pool, 'pool-old'), true);
    assert.equal(await holdsLockedJob(q.pool, 'pool-nobody'), false);
    assert.equal(await countJobsLockedBy(q.pool, 'pool-fresh'), 2);
    assert.equal(await countJobsLockedBy(q.pool, 'pool-nobody'), 0);

    await forceUnlockWorkers(q.pool, []); // nothing to do
    await forceUnlockWorkers(q.pool, ['pool-old', 'pool-queue']);
    assert.deepEqual(await workerPoolsLockedFor(q.pool, 0), ['pool-fresh'], 'jobs and queues of both released');
    const [released] = await listJobs(q.pool, { id: old.id });
    assert.equal(released.lockedBy, null);
    assert.equal(await holdsLockedJob(q.pool, 'pool-old'), false);

    await deleteAllJobs(q.pool);
    assert.equal(await countJobs(q.pool), 0);
  });
});

describe('graphile-queue refuses a graphile-worker it was not written for', () => {
  test('another minor or major version of the installed package', () => {
    for (const other of ['0.18.0', '0.16.6', '1.0.0', 'not-a-version']) {
      assert.throws(
        () => checkGraphileWorkerPackage(other),
        (err: unknown) =>
          err instanceof QueueSchemaMismatchError &&
          err.found === other &&
          err.expected === '0.17.x' &&
          err.message.includes(`graphile-worker ${other} is installed`) &&
          err.message.includes('written for graphile-worker 0.17.x'),
      );
    }
    assert.doesNotThrow(() => checkGraphileWorkerPackage('0.17.0'));
    assert.doesNotThrow(() => checkGraphileWorkerPackage('0.17.99'));
  });

  test('a database migrated further by a newer graphile-worker: no start, not ready, a clear error', async () => {
    const q = await queueDatabase();
    try {
      // What a newer replica's migrations leave behind: one more migration row than this version knows.
      await q.pool.query(`INSERT INTO graphile_worker.migrations (id, breaking) VALUES ($1, false)`, [
        WRITTEN_FOR.schemaRevision + 1,
      ]);
      const refused = (err: unknown) =>
        err instanceof QueueSchemaMismatchError &&
        err.found === `revision ${WRITTEN_FOR.schemaRevision + 1}` &&
        err.expected === `revision ${WRITTEN_FOR.schemaRevision}` &&
        err.message.includes(`at revision ${WRITTEN_FOR.schemaRevision + 1}`) &&
        err.message.includes(`written for revision ${WRITTEN_FOR.schemaRevision} (graphile-worker 0.17.x)`);
      await assert.rejects(checkQueueSchema(q.pool), refused);
      // The start-up path: migrations (graphile-worker only warns about the newer revision), then the refusal.
      await assert.rejects(ensureQueueSchema(q.pool, q.logger), refused);
      await assert.rejects(
        startQueueWorker({
          pool: q.pool,
          taskList: {},
          concurrency: 1,
          logger: q.logger,
          heartbeatIntervalMs: 1000,
          staleAfterMs: 30_000,
        }),
        refused,
      );
      assert.equal(
        (await q.pool.query(`SELECT count(*)::int AS n FROM controller_processes`)).rows[0].n,
        0,
        'no worker registered',
      );
      const readiness = await createReadinessCheck(q.pool)();
      assert.equal(readiness.ready, false);
      assert.match(readiness.ready ? '' : readiness.reason, /job queue schema \(graphile_worker\) is at revision 20/);
    } finally {
      await q.close();
    }
  });

  test('an expected revision other than the one installed', async () => {
    const q = await queueDatabase();
    try {
      const expected = { ...WRITTEN_FOR, schemaRevision: WRITTEN_FOR.schemaRevision + 5 };
      await assert.rejects(checkQueueSchema(q.pool, expected), (err: unknown) => {
        assert.ok(err instanceof QueueSchemaMismatchError);
        assert.equal(err.found, `revision ${WRITTEN_FOR.schemaRevision}`);
        assert.equal(err.expected, `revision ${expected.schemaRevision}`);
        return true;
      });
    } finally {
      await q.close();
    }
  });

  test('a database without the queue schema: reported as not installed, and no job is found', async () => {
    let db: TestDatabase | undefined;
    const pool = await (async () => {
      db = await createTestDatabase();
      const p = new pg.Pool({ connectionString: db.url, max: 2 });
      p.on('error', () => {});
      return p;
    })();
    try {
      assert.equal(await queueSchemaRevision(pool), null);
      assert.equal(await queueSchemaProblem(pool), 'the job queue schema is not installed yet');
      await assert.rejects(checkQueueSchema(pool), (err: unknown) => {
        assert.ok(err instanceof QueueSchemaMismatchError);
        assert.equal(err.found, 'no graphile_worker schema');
        return true;
      });
      assert.equal(
        await jobExistsForCommit(pool, { tasks: ['apply-environment'], sha: 'a', repository: 'acme/infra' }),
        false,
      );
    } finally {
      await pool.end();
      await db?.drop();
    }
  });
});
