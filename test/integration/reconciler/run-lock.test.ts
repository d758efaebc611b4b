/**
 * The environment lock: its session lock's connection may die without ending the process, and run records are leases
 * (a dead or silent owner's run is closed as interrupted, a live one keeps others waiting, a closed run's late writes
 * change nothing).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import pg from 'pg';
import { leaseSettings, ownerIsDead, withEnvironmentLock } from '../../../reconciler/run-lock.js';
import { createPgStore } from '../../../store/pg-store.js';
import type { RunClaim } from '../../../kernel/types.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';

let db: TestDatabase;
let pool: pg.Pool;
before(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 4, application_name: 'run-lock-test' });
  pool.on('error', () => {});
});
after(async () => {
  await pool?.end();
  await db?.drop();
});

test('a run whose lock connection is terminated by the server finishes, and the process lives on', async () => {
  const store = createPgStore(pool);
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  try {
    const result = await withEnvironmentLock(store, 'repo', 'production', async () => {
      // Someone (a failover, an administrator) cuts the connection that holds the advisory lock.
      const admin = new pg.Client({ connectionString: db.url });
      await admin.connect();
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'run-lock-test' AND pid <> pg_backend_pid() AND query LIKE '%advisory%'`,
      );
      await admin.end();
      await new Promise((r) => setTimeout(r, 200));
      return 'finished';
    });
    assert.equal(result, 'finished');
    assert.deepEqual(uncaught, []);
    // The lock is free again: the next run gets it at once.
    assert.equal(await withEnvironmentLock(store, 'repo', 'production', async () => 'again'), 'again');
  } finally {
    process.off('uncaughtException', onUncaught);
  }
});

const START = { repository: 'repo', commit: 'c1', kind: 'apply' as const, trigger: 'test' };

/** The pid of a process that has ended (spawned and reaped). */
function deadPid(): number {
  return Number(spawnSync('/bin/sh', ['-c', 'echo $$'], { encoding: 'utf8' }).stdout.trim());
}

function started(c: RunClaim): string {
  assert.ok('run' in c, `the run started: ${JSON.stringify(c)}`);
  return c.run.id;
}

test('a run whose owner is dead is closed by the next claim; its late writes change nothing', async () => {
  const store = createPgStore(pool);
  const locks = store.locks;
  const env = { ...START, environment: 'dead-owner' };
  const dead = { host: os.hostname(), pid: deadPid(), leaseMs: 60_000 };
  const first = started(await locks.claimRun(env, dead, ownerIsDead));
  await store.updateNode('repo', 'dead-owner', 'web', { state: 'configuring', host: 'h1', runId: first });

  const claim = await locks.claimRun(env, { host: os.hostname(), pid: process.pid, leaseMs: 60_000 }, ownerIsDead);
  const second = started(claim);
  assert.deepEqual(
    claim.closed.map((l) => l.id),
    [first],
  );
  const run = await store.getRun(first);
  assert.equal(run?.status, 'cancelled');
  assert.equal(run?.summary?.interrupted, 1);
  const [web] = await store.recordedNodes('repo', 'dead-owner');
  assert.equal(web.state, 'failed');
  assert.match(
    web.reason ?? '',
    new RegExp(`^Interrupted: the process running run ${first} \\(pid ${dead.pid} on .+\\) is gone`),
  );
  assert.equal((await store.nodeRuns(first))[0].state, 'failed');

  // The dead run's writes arriving late (a process that was only cut off) are fenced off.
  await store.updateNode('repo', 'dead-owner', 'web', { state: 'ready', runId: first });
  await store.finishRun(first, 'succeeded', { ready: 1 });
  assert.equal((await store.recordedNodes('repo', 'dead-owner'))[0].state, 'failed');
  assert.equal((await store.getRun(first))?.status, 'cancelled');
  assert.equal(await locks.renewRun(first), false, 'a closed run cannot be renewed');
  await store.finishRun(second, 'succeeded', {});
});

test('a live run keeps the next claim waiting until its lease expires unrenewed', async () => {
  const store = createPgStore(pool);
  const locks = store.locks;
  const env = { ...START, environment: 'silent-owner' };
  // Another machine's process: its pid says nothing here, only its heartbeat counts.
  const owner = { host: 'another-host', pid: 4242, leaseMs: 1500 };
  const first = started(await locks.claimRun(env, owner, ownerIsDead));
  const me = { host: os.hostname(), pid: process.pid, leaseMs: 60_000 };
  const waiting = await locks.claimRun(env, me, ownerIsDead);
  assert.ok('live' in waiting && waiting.live[0].id === first, 'the second claim waits for the live run');
  assert.equal(await locks.renewRun(first), true);
  let claim: RunClaim | undefined;
  for (let i = 0; i < 200 && !(claim && 'run' in claim); i++) {
    await new Promise((r) => setTimeout(r, 100));
    claim = await locks.claimRun(env, me, ownerIsDead);
  }
  started(claim!);
  assert.deepEqual(
    claim!.closed.map((l) => l.id),
    [first],
  );
  assert.equal((await store.getRun(first))?.status, 'cancelled');
});

test('lease settings come from POLITBURO_RUN_HEARTBEAT and POLITBURO_RUN_LEASE; bad values are refused by name', () => {
  assert.deepEqual(leaseSettings({}), { heartbeatMs: 5000, leaseMs: 30_000 });
  assert.deepEqual(leaseSettings({ POLITBURO_RUN_HEARTBEAT: '500ms', POLITBURO_RUN_LEASE: '2' }), {
    heartbeatMs: 500,
    leaseMs: 2000,
  });
  assert.throws(() => leaseSettings({ POLITBURO_RUN_LEASE: 'soon' }), /POLITBURO_RUN_LEASE: 'soon' is not a duration/);
  assert.throws(
    () => leaseSettings({ POLITBURO_RUN_HEARTBEAT: '10s', POLITBURO_RUN_LEASE: '20s' }),
    /at least three times POLITBURO_RUN_HEARTBEAT/,
  );
});
