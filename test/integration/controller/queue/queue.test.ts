import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Task } from 'graphile-worker';
import pg from 'pg';
import { JOB_APPLY, JOB_DELIVERY, type ApplyEnvironmentJob } from '../../../../controller/ports.js';
import { enqueue, enqueueApply, environmentQueue } from '../../../../controller/queue/enqueue.js';
import { recoverStaleWorkers } from '../../../../controller/queue/heartbeat.js';
import { startQueueWorker, type QueueWorker } from '../../../../controller/queue/queue-worker.js';
import { TerminalError } from '../../../../controller/queue/terminal-error.js';
import { workerPoolRestarts } from '../../../../controller/metrics.js';
import { jobs, queueDatabase, type QueueDb } from '../fixtures.js';
import { deleteAllJobs, listJobs, markJobLocked } from '../../../../controller/store/graphile-queue.js';
import { type Repository } from '../../../../kernel/repository.js';
import { waitFor } from '../../../helpers/wait-for.js';

const repo: Repository = {
  kind: 'github',
  owner: 'acme',
  name: 'infra',
  cloneUrl: 'https://github.com/acme/infra.git',
  defaultBranch: 'main',
};
const apply = (sha: string, environment = 'production'): ApplyEnvironmentJob => ({
  repo,
  environment,
  sha,
  trigger: `push ${sha}`,
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function worker(
  q: QueueDb,
  tasks: Record<string, Task>,
  extra: { concurrency?: number; processId?: string; staleAfterMs?: number } = {},
): Promise<QueueWorker> {
  return startQueueWorker({
    pool: q.pool,
    taskList: tasks,
    concurrency: extra.concurrency ?? 2,
    logger: q.logger,
    heartbeatIntervalMs: 200,
    staleAfterMs: extra.staleAfterMs ?? 30_000,
    pollIntervalMs: 200,
    processId: extra.processId,
  });
}

describe('durable queue', () => {
  let q: QueueDb;
  before(async () => {
    q = await queueDatabase();
  });
  after(async () => q.close());

  test('a newer apply replaces a queued older one and reports every superseded sha', async () => {
    const first = await enqueueApply(q.pool, apply('aaa1'));
    assert.deepEqual(first.supersedes, []);
    assert.equal(first.queueName, environmentQueue('acme/infra', 'production'));
    assert.equal(first.key, 'apply:acme/infra:production');
    const second = await enqueueApply(q.pool, apply('bbb2'));
    assert.deepEqual(second.supersedes, ['aaa1']);
    const third = await enqueueApply(q.pool, apply('ccc3'));
    assert.deepEqual(third.supersedes, ['aaa1', 'bbb2']);
    // A redelivered push of the same commit does not supersede itself.
    const again = await enqueueApply(q.pool, apply('ccc3'));
    assert.deepEqual(again.supersedes, ['aaa1', 'bbb2']);
    // Another environment is untouched.
    assert.deepEqual((await enqueueApply(q.pool, apply('zzz9', 'staging'))).supersedes, []);

    const queued = await jobs(q.pool, JOB_APPLY);
    assert.equal(queued.length, 2);
    const prod = queued.find((j) => j.payload.environment === 'production')!;
    assert.equal(prod.payload.sha, 'ccc3');
    assert.deepEqual(prod.payload.supersedes, ['aaa1', 'bbb2']);

    // The worker runs only the newest commit per environment, carrying the superseded shas.
    const ran: ApplyEnvironmentJob[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const w = await worker(q, {
      [JOB_APPLY]: async (payload) => {
        ran.push(payload as ApplyEnvironmentJob);
        if ((payload as ApplyEnvironmentJob).sha === 'ccc3') await gate;
      },
    });
    try {
      await waitFor('the apply of ccc3 to start', async () => ran.some((p) => p.sha === 'ccc3'), 60_000);
      // While ccc3 runs, a newer push queues behind it and never supersedes the running apply.
      const fourth = await enqueueApply(q.pool, apply('ddd4'));
      assert.deepEqual(fourth.supersedes, []);
      const fifth = await enqueueApply(q.pool, apply('eee5'));
      assert.deepEqual(fifth.supersedes, ['ddd4']);
      release();
      await waitFor('the apply of eee5', async () => ran.some((p) => p.sha === 'eee5'), 60_000);
      await waitFor('the queue to drain', async () => (await jobs(q.pool, JOB_APPLY)).length === 0, 60_000);
      assert.deepEqual(ran.map((p) => [p.sha, p.supersedes ?? []]).sort(), [
        ['ccc3', ['aaa1', 'bbb2']],
        ['eee5', ['ddd4']],
        ['zzz9', []],
      ]);
    } finally {
      release();
      await w.stop(5000);
    }
  });

  test('a terminal error is recorded and not retried; a transient one is retried with backoff', async () => {
    await q.pool.query(
      `INSERT INTO webhook_deliveries (delivery_id, event, payload) VALUES ('term-1', 'push', '{}'), ('trans-1', 'push', '{}')`,
    );
    await enqueue(q.pool, JOB_DELIVERY, { deliveryId: 'term-1' }, { jobKey: 'term-1' });
    await enqueue(q.pool, JOB_DELIVERY, { deliveryId: 'trans-1' }, { jobKey: 'trans-1' });
    let calls = 0;
    const w = await worker(q, {
      [JOB_DELIVERY]: async (payload) => {
        calls++;
        if ((payload as { deliveryId: string }).deliveryId === 'term-1')
          throw new TerminalError('politburo.yml is invalid');
        throw new Error('GitHub unreachable');
      },
    });
    try {
      // Failures are recorded in batches, just after the handler returns: wait for the record, not only the call.
      const failed = async () =>
        (await listJobs(q.pool)).filter((j) => j.key === 'trans-1' && j.lastError !== null).length === 1;
      await waitFor(
        'both jobs to run once',
        async () => calls >= 2 && (await jobs(q.pool, JOB_DELIVERY)).length === 1 && (await failed()),
        60_000,
      );
      const left = await listJobs(q.pool, { task: JOB_DELIVERY });
      const now = new Date();
      assert.deepEqual(
        left.map((j) => [j.key, j.attempts, j.runAt > now]),
        [['trans-1', 1, true]],
      );
      assert.match(left[0].lastError ?? '', /GitHub unreachable/);
      const rec = await q.pool.query(
        `SELECT outcome, error, processed_at IS NOT NULL AS done FROM webhook_deliveries WHERE delivery_id = 'term-1'`,
      );
      assert.deepEqual(rec.rows[0], { outcome: 'failed', error: 'politburo.yml is invalid', done: true });
      await sleep(300);
      assert.equal(calls, 2, 'neither job ran again straight away');
    } finally {
      await w.stop(5000);
      await deleteAllJobs(q.pool);
    }
  });

  test('a job of several deliveries runs each in order; only the transiently failed one is retried, the terminal one is recorded', async () => {
    await q.pool.query(
      `INSERT INTO webhook_deliveries (delivery_id, event, payload) VALUES ('b-ok', 'push', '{}'), ('b-term', 'push', '{}'), ('b-trans', 'push', '{}'), ('b-ok2', 'push', '{}')`,
    );
    const batch = ['b-ok', 'b-term', 'b-trans', 'b-ok2'].map((deliveryId) => ({ deliveryId }));
    await enqueue(q.pool, JOB_DELIVERY, batch);
    const seen: string[] = [];
    const w = await worker(q, {
      [JOB_DELIVERY]: async (payload) => {
        const id = (payload as { deliveryId: string }).deliveryId;
        seen.push(id);
        if (id === 'b-term') throw new TerminalError('politburo.yml is invalid');
        if (id === 'b-trans') throw new Error('GitHub unreachable');
        await q.pool.query(
          `UPDATE webhook_deliveries SET processed_at = now(), outcome = 'ok' WHERE delivery_id = $1`,
          [id],
        );
      },
    });
    try {
      await waitFor(
        'the batch to run once',
        async () => (await listJobs(q.pool, { task: JOB_DELIVERY })).some((j) => j.attempts === 1 && !j.lockedBy),
        60_000,
      );
      assert.deepEqual(seen, ['b-ok', 'b-term', 'b-trans', 'b-ok2'], 'in order, one failure does not stop the rest');
      const left = await jobs(q.pool, JOB_DELIVERY);
      assert.deepEqual(
        left.map((j) => j.payload),
        [[{ deliveryId: 'b-trans' }]],
        'only the transient failure is re-queued',
      );
      const rec = await q.pool.query(
        `SELECT delivery_id, outcome, error FROM webhook_deliveries WHERE delivery_id LIKE 'b-%' ORDER BY delivery_id`,
      );
      assert.deepEqual(rec.rows, [
        { delivery_id: 'b-ok', outcome: 'ok', error: null },
        { delivery_id: 'b-ok2', outcome: 'ok', error: null },
        { delivery_id: 'b-term', outcome: 'failed', error: 'politburo.yml is invalid' },
        { delivery_id: 'b-trans', outcome: null, error: null },
      ]);
    } finally {
      await w.stop(5000);
      await deleteAllJobs(q.pool);
    }
  });

  test('jobs of a dead process (stale heartbeat) are unlocked and run by another process', async () => {
    const job = await enqueue(
      q.pool,
      JOB_DELIVERY,
      { deliveryId: 'orphaned-1' },
      { queueName: 'env:acme/infra:production' },
    );
    // A process that died mid-job: its pool holds the job and the queue, its heartbeat stopped 2 minutes ago.
    await markJobLocked(q.pool, job.id, {
      workerPoolId: 'pool-dead',
      lockedForMs: 120_000,
      attempts: 1,
      queueToo: true,
    });
    await q.pool.query(
      `INSERT INTO controller_processes (id, worker_pool_id, hostname, pid, heartbeat_at) VALUES ('dead', 'pool-dead', 'h', 1, now() - interval '2 minutes')`,
    );
    // A live process's fresh heartbeat protects its jobs, however long they have been running.
    const live = await enqueue(q.pool, JOB_DELIVERY, { deliveryId: 'running-1' });
    await markJobLocked(q.pool, live.id, { workerPoolId: 'pool-live', lockedForMs: 3_600_000, attempts: 1 });
    await q.pool.query(
      `INSERT INTO controller_processes (id, worker_pool_id, hostname, pid) VALUES ('live', 'pool-live', 'h', 2)`,
    );

    const ran: string[] = [];
    const w = await worker(q, { [JOB_DELIVERY]: async (p) => void ran.push((p as { deliveryId: string }).deliveryId) });
    try {
      await waitFor('the orphaned job to run', async () => ran.includes('orphaned-1'), 60_000);
      assert.deepEqual(ran, ['orphaned-1']);
      const procs = await q.pool.query(`SELECT id FROM controller_processes ORDER BY id`);
      assert.deepEqual(
        procs.rows.map((r) => r.id).filter((id) => id !== w.processId),
        ['live'],
      );
      const [still] = await listJobs(q.pool, { id: live.id });
      assert.equal(still.lockedBy, 'pool-live');
    } finally {
      await w.stop(5000);
      await deleteAllJobs(q.pool);
      await q.pool.query(`DELETE FROM controller_processes`);
    }
  });

  test('a job locked by a pool no process ever registered is unlocked once older than the stale limit', async () => {
    const job = await enqueue(q.pool, JOB_DELIVERY, { deliveryId: 'x' });
    await markJobLocked(q.pool, job.id, { workerPoolId: 'pool-ghost', lockedForMs: 5_000 });
    assert.deepEqual(await recoverStaleWorkers(q.pool, 30_000), [], 'not yet stale');
    assert.deepEqual(await recoverStaleWorkers(q.pool, 2_000), ['pool-ghost']);
    const [unlocked] = await listJobs(q.pool, { id: job.id });
    assert.equal(unlocked.lockedBy, null);
    await deleteAllJobs(q.pool);
  });

  test('three replicas: each job runs once, and one environment never runs two jobs at once', async () => {
    const spans: { queue: string; id: string; start: number; end: number; worker: string }[] = [];
    const make = (name: string): Record<string, Task> => ({
      [JOB_APPLY]: async (payload) => {
        const p = payload as ApplyEnvironmentJob & { n: number };
        const start = performance.now();
        await sleep(40);
        spans.push({
          queue: p.environment,
          id: `${p.environment}-${p.n}`,
          start,
          end: performance.now(),
          worker: name,
        });
      },
    });
    const workers = await Promise.all(
      ['r1', 'r2', 'r3'].map((n) => worker(q, make(n), { concurrency: 3, processId: n })),
    );
    try {
      const burst = [];
      for (let n = 0; n < 12; n++) {
        for (const env of ['production', 'staging']) {
          burst.push(
            enqueue(
              q.pool,
              JOB_APPLY,
              { ...apply(`s${n}`, env), n },
              { queueName: environmentQueue('acme/infra', env) },
            ),
          );
        }
      }
      await Promise.all(burst);
      await waitFor('all 24 jobs', async () => spans.length === 24, 60_000);
      await waitFor('an empty queue', async () => (await jobs(q.pool)).length === 0, 60_000);
      assert.equal(new Set(spans.map((s) => s.id)).size, 24, 'each job ran exactly once');
      for (const env of ['production', 'staging']) {
        const mine = spans.filter((s) => s.queue === env).sort((a, b) => a.start - b.start);
        for (let i = 1; i < mine.length; i++) {
          assert.ok(mine[i].start >= mine[i - 1].end, `${env}: ${mine[i].id} started before ${mine[i - 1].id} ended`);
        }
      }
      assert.ok(new Set(spans.map((s) => s.worker)).size >= 2, 'the work was shared between replicas');
      const prod = spans.filter((s) => s.queue === 'production');
      const staging = spans.filter((s) => s.queue === 'staging');
      assert.ok(
        prod.some((p) => staging.some((s) => s.start < p.end && p.start < s.end)),
        'different environments ran in parallel',
      );
    } finally {
      await Promise.all(workers.map((w) => w.stop(5000)));
    }
  });

  test('a graceful stop lets a running job finish; past the grace period the job is released, not lost', async () => {
    let finished = 0;
    const slowTask: Task = async () => {
      await sleep(300);
      finished++;
    };
    await enqueue(q.pool, JOB_DELIVERY, { deliveryId: 'g1' });
    const w1 = await worker(q, { [JOB_DELIVERY]: slowTask });
    await waitFor('the job to start', async () => (await listJobs(q.pool)).some((j) => j.lockedBy !== null), 60_000);
    await w1.stop(5000);
    assert.equal(finished, 1);
    assert.deepEqual(await listJobs(q.pool), []);

    let hung = 0;
    await enqueue(q.pool, JOB_DELIVERY, { deliveryId: 'g2' });
    const w2 = await worker(q, { [JOB_DELIVERY]: () => new Promise<void>(() => void hung++) });
    await waitFor('the hanging job to start', async () => hung === 1, 60_000);
    await w2.stop(200);
    const left = await listJobs(q.pool);
    assert.equal(left.length, 1, 'the job is still queued');
    assert.equal(left[0].lockedBy, null, 'and released for another process');
    assert.equal((await q.pool.query(`SELECT count(*)::int AS n FROM controller_processes`)).rows[0].n, 0);
    await deleteAllJobs(q.pool);
  });

  test(
    'connections terminated while jobs complete: the worker pool is replaced, and every job runs to completion',
    { timeout: 300_000 },
    async () => {
      await deleteAllJobs(q.pool);
      const done = new Map<string, number>();
      const w = await worker(q, {
        [JOB_DELIVERY]: async (payload) => {
          await sleep(20);
          const id = (payload as { deliveryId: string }).deliveryId;
          done.set(id, (done.get(id) ?? 0) + 1);
        },
      });
      const killer = new pg.Client({ connectionString: q.db.url });
      await killer.connect();
      const dbName = new URL(q.db.url).pathname.slice(1);
      const ids: string[] = [];
      try {
        // Jobs keep coming and connections keep being cut until graphile-worker gives up on a pool at least once.
        for (let round = 0; w.generations < 2 && round < 100; round++) {
          for (let i = 0; i < 10; i++) {
            const id = `cut-${round}-${i}`;
            await retry(() => enqueue(q.pool, JOB_DELIVERY, { deliveryId: id }));
            ids.push(id);
          }
          await sleep(40 + (round % 5) * 15);
          await killer.query(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
            [dbName],
          );
        }
        assert.ok(w.generations >= 2, 'a lost completion made graphile-worker shut a pool down, and it was replaced');
        assert.ok((await workerPoolRestarts.get()).values[0].value >= 1, 'and /metrics counts it');
        await waitFor(
          'every job to run and the queue to drain',
          async () => ids.every((id) => done.has(id)) && (await retry(() => jobs(q.pool))).length === 0,
          180_000,
        );
        // The replaced pools are gone from controller_processes once they have finished: only this process is left.
        await waitFor(
          'one process row',
          async () => (await retry(() => q.pool.query(`SELECT id FROM controller_processes`))).rows.length === 1,
          60_000,
        );
      } finally {
        await killer.end();
        await w.stop(5000);
        await deleteAllJobs(q.pool);
      }
    },
  );
});

/** Runs fn again while the database is away (its connections were just terminated). */
async function retry<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 20) throw err;
      await sleep(100);
    }
  }
}
