/**
 * Fault: the database connection holding an environment's lock dies while an apply runs (a failover, a pgbouncer
 * restart, an administrator), or the applying process loses the database altogether. Applies of one environment must
 * still never overlap, and every run must end recorded as what happened. Real PostgreSQL backends are terminated with
 * pg_terminate_backend (only this test's database), tasks run on the real local host, and overlap is judged from the
 * start and end times the tasks log, never from durations.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { applyEnvironment } from '../../reconciler/apply-environment.js';
import { createHostConnector } from '../../hosts/ssh-connector.js';
import type { EngineInput } from '../../reconciler/run-engine.js';
import { closeDeadRuns, type LeaseSettings } from '../../reconciler/run-lock.js';
import { createPgStore, type PgStateStore } from '../../store/pg-store.js';
import type { RunResult } from '../../kernel/types.js';
import { loadDescription } from '../../schema/load-description.js';

import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { assertNoOverlap, chainDescription, gitRepo, makeTaskDir } from './task-log.js';
import { waitFor } from '../helpers/wait-for.js';

const run = promisify(execFile);
/**
 * Short enough for the cut-off apply's lease to expire within the test, long enough that a busy machine never loses
 * one.
 */
const LEASE: LeaseSettings = { heartbeatMs: 300, leaseMs: 8000 };

let db: TestDatabase;
let admin: pg.Client;
const stores: PgStateStore[] = [];

before(async () => {
  db = await createTestDatabase();
  admin = new pg.Client({ connectionString: db.url });
  admin.on('error', () => {}); // never its own backend that is terminated; a failed query still throws
  await admin.connect();
});
after(async () => {
  for (const s of stores) await s.close().catch(() => undefined);
  await admin?.end().catch(() => undefined);
  await db?.drop();
});

function storeAt(url: string, name: string): PgStateStore {
  const pool = new pg.Pool({ connectionString: url, max: 6, application_name: name });
  pool.on('error', () => {}); // idle connections are cut by the test
  const store = createPgStore(pool);
  stores.push(store);
  return store;
}

/** Terminates every backend of this test's database but the admin's own. */
async function terminateBackends(): Promise<number> {
  const { rowCount } = await admin.query(
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [dbName()],
  );
  return rowCount ?? 0;
}

function dbName(): string {
  return new URL(db.url).pathname.slice(1);
}

async function engineInput(dir: string, store: PgStateStore, log: string[]): Promise<EngineInput> {
  const loaded = await loadDescription({ dir });
  if (!loaded.ok) throw new Error(`fixture invalid: ${JSON.stringify(loaded.errors)}`);
  const commit = (await run('git', ['-C', dir, 'rev-parse', 'HEAD'])).stdout.trim();
  return {
    description: loaded.description,
    environment: 'p',
    repository: dir,
    commit,
    store,
    connector: createHostConnector({ knownHosts: [] }),
    secrets: {},
    all: true,
    // One task at a time within an apply, so tasks that overlap belong to two applies: with --all, nodes recorded ready
    // are otherwise checked in parallel (docs/architecture.md), their `met` commands at once.
    concurrency: 1,
    trigger: 'fault test',
    lease: LEASE,
    log: (line) => log.push(line),
  };
}

async function runsOf(dir: string): Promise<{ id: string; status: string; started: Date; finished: Date | null }[]> {
  const { rows } = await admin.query(
    `SELECT r.id::text AS id, r.status, r.started_at AS started, r.finished_at AS finished
       FROM runs r JOIN repositories p ON p.id = r.repository_id WHERE p.key = $1 ORDER BY r.id`,
    [dir],
  );
  return rows;
}

async function nodeState(
  dir: string,
  node: string,
): Promise<{ state: string; reason: string | null; last_run_id: string }> {
  const { rows } = await admin.query(
    `SELECT n.state, n.reason, n.last_run_id::text AS last_run_id FROM nodes n JOIN environments e ON e.id = n.environment_id
       JOIN repositories p ON p.id = e.repository_id WHERE p.key = $1 AND n.path = $2`,
    [dir, node],
  );
  return rows[0];
}

test(
  'the lock connection of a running apply is terminated: a second apply still waits until the first has ended',
  { timeout: 90_000 },
  async () => {
    const tasks = await makeTaskDir();
    const dir = await gitRepo({ 'politburo.yml': chainDescription(tasks, [{ name: 'a', seconds: 4, host: 'local' }]) });
    const logA: string[] = [];
    const logB: string[] = [];
    const first = applyEnvironment(await engineInput(dir, storeAt(db.url, 'apply-a'), logA));
    await waitFor('the first apply to meet a', async () => (await tasks.intervals()).some((i) => i.label === 'meet-a'));
    assert.ok((await terminateBackends()) > 0, 'the lock connection was terminated');
    const second = applyEnvironment(await engineInput(dir, storeAt(db.url, 'apply-b'), logB));
    const [r1, r2] = await Promise.all([first, second]);

    assertNoOverlap(await tasks.intervals());
    assert.equal(r1.status, 'succeeded', logA.join('\n'));
    assert.equal(r2.status, 'succeeded', logB.join('\n'));
    assert.match(logA.join('\n'), /lock's database connection was lost/);
    assert.match(logB.join('\n'), /still running: waiting/);
    const runs = await runsOf(dir);
    assert.deepEqual(
      runs.map((r) => r.status),
      ['succeeded', 'succeeded'],
    );
    assert.ok(runs[1].started >= runs[0].finished!, 'the second run started after the first finished');
    assert.equal((await nodeState(dir, 'a')).state, 'ready');
  },
);

test(
  'an apply that loses the database stops its task before its lease expires; the next apply closes it and runs alone',
  { timeout: 120_000 },
  async () => {
    const tasks = await makeTaskDir();
    const dir = await gitRepo({
      'politburo.yml': chainDescription(tasks, [{ name: 'a', seconds: 60, host: 'local' }]),
    });
    const proxy = await startProxy(new URL(db.url));
    const viaProxy = new URL(db.url);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    const logA: string[] = [];
    const logB: string[] = [];
    const first = applyEnvironment(await engineInput(dir, storeAt(viaProxy.toString(), 'partitioned'), logA));
    await waitFor('the first apply to meet a', async () => (await tasks.intervals()).some((i) => i.label === 'meet-a'));
    // The first apply's process is cut off from the database: every connection dies and none can be made.
    proxy.cut();
    await writeFile(path.join(tasks.dir, 'meet-a.seconds'), '1');
    let r2: RunResult;
    try {
      r2 = await applyEnvironment(await engineInput(dir, storeAt(db.url, 'apply-b'), logB));
    } finally {
      proxy.restore();
    }
    const r1 = await first;
    await proxy.close();

    const intervals = await tasks.intervals();
    assertNoOverlap(intervals);
    const meets = intervals.filter((i) => i.label === 'meet-a');
    assert.equal(
      meets.length,
      2,
      JSON.stringify(intervals, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
    );
    assert.equal(meets[0].killed, true, 'the partitioned apply stopped its task');
    assert.equal(r1.status, 'cancelled', logA.join('\n'));
    assert.match(logA.join('\n'), /could not renew its lease/);
    assert.equal(r2.status, 'succeeded', logB.join('\n'));
    assert.match(logB.join('\n'), /closed as interrupted/);

    const runs = await runsOf(dir);
    assert.deepEqual(
      runs.map((r) => r.status),
      ['cancelled', 'succeeded'],
    );
    const { rows } = await admin.query(`SELECT state, reason FROM node_runs WHERE run_id = $1 AND path = 'a'`, [
      runs[0].id,
    ]);
    assert.equal(rows[0].state, 'failed');
    assert.match(rows[0].reason, /^Interrupted: /);
    // The partitioned apply's late writes (after the database came back) changed nothing the second one recorded.
    assert.deepEqual({ ...(await nodeState(dir, 'a')) }, { state: 'ready', reason: null, last_run_id: runs[1].id });
  },
);

test(
  'database backends terminated again and again while two applies contend: no overlap, every run ends truthfully',
  { timeout: 150_000 },
  async () => {
    const tasks = await makeTaskDir();
    const nodes = ['a', 'b', 'c'].map((name) => ({ name, seconds: 1.5, host: 'local' }));
    const dir = await gitRepo({ 'politburo.yml': chainDescription(tasks, nodes) });
    let terminating = true;
    let terminations = 0;
    const terminator = (async () => {
      while (terminating) {
        terminations += await terminateBackends().then(
          () => 1,
          () => 0,
        );
        await new Promise((r) => setTimeout(r, 400));
      }
    })();
    const logs: string[][] = [[], [], []];
    const applies: Promise<RunResult>[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const apply = applyEnvironment(await engineInput(dir, storeAt(db.url, `contender-${i}`), logs[i]));
        let settled = false;
        apply.then(
          () => (settled = true),
          () => (settled = true), // looked at below
        );
        applies.push(apply);
        // The next contender starts once this one runs a task, or has ended: a first write cut by a termination fails
        // the apply before any task (truthfully: "could not record a as configuring, so it was not started").
        await waitFor('a task to run or the apply to end', async () => settled || (await tasks.intervals()).length > i);
      }
      await Promise.allSettled(applies);
    } finally {
      terminating = false;
      await terminator;
    }
    assert.ok(terminations >= 3, 'backends were terminated while the applies ran');
    const outcomes = await Promise.allSettled(applies);
    assertNoOverlap(await tasks.intervals());

    // A run whose start could not be confirmed (its connection died at that moment) is closed when its lease expires.
    const sweeper = storeAt(db.url, 'sweeper');
    await waitFor(
      'no run left running',
      async () => {
        await closeDeadRuns(sweeper, { repository: dir });
        return (await runsOf(dir)).every((r) => r.status !== 'running');
      },
      60_000,
    );
    const runs = await runsOf(dir);
    for (const [i, o] of outcomes.entries()) {
      if (o.status === 'rejected') continue; // could not start: the error says why
      const recorded = runs.find((r) => r.id === o.value.runId);
      assert.equal(
        recorded?.status,
        o.value.status,
        `run ${o.value.runId} is recorded as it ended:\n${logs[i].join('\n')}`,
      );
    }
    assert.ok(
      outcomes.some((o) => o.status === 'fulfilled'),
      'at least one apply ran',
    );
    for (const node of ['a', 'b', 'c']) {
      const n = await nodeState(dir, node);
      if (!n) continue; // never started
      assert.ok(['ready', 'failed', 'blocked', 'defined'].includes(n.state), `${node} is left ${n.state}`);
      if (n.state === 'failed') assert.ok(n.reason, `${node} failed with a reason`);
    }
  },
);

/** A TCP proxy to PostgreSQL that can cut every connection and refuse new ones (a network partition). */
async function startProxy(
  target: URL,
): Promise<{ port: number; cut(): void; restore(): void; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let open = true;
  const server = net.createServer((client) => {
    if (!open) return client.destroy();
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
    },
    restore() {
      open = true;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
