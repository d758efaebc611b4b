/**
 * Fault: every database connection of the controller (`politburo serve`, a real process) is terminated again and again
 * while it applies pushes over SSH. The process must stay up, no two applies of the environment may ever run a task at
 * the same time (judged from the intervals the tasks log, never from durations), every run must end in a final state
 * that tells the truth, and the environment must end applied at the last pushed commit.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { pushPayload, startHarness, type Harness } from '../e2e/harness.js';
import { spawnController, type ControllerProcess } from '../e2e/spawn-controller.js';
import { hostYaml } from '../helpers/engine-harness.js';
import { listJobs } from '../../controller/store/graphile-queue.js';
import { assertNoOverlap, chainDescription, makeTaskDir, type TaskDir } from './task-log.js';
import { waitFor } from '../helpers/wait-for.js';

let h: Harness;
let tasks: TaskDir;
let controller: ControllerProcess | undefined;
const description = (bSeconds: number) =>
  chainDescription(
    tasks,
    [
      { name: 'a', seconds: 2, host: hostYaml(h.ssh.hosts[0]) },
      { name: 'b', seconds: bSeconds, host: hostYaml(h.ssh.hosts[0]) },
    ],
    '    known_hosts: known_hosts',
  );

before(async () => {
  tasks = await makeTaskDir();
  h = await startHarness({
    controllers: 0,
    hosts: 1,
    files: (hosts) => ({
      'politburo.yml': chainDescription(
        tasks,
        [
          { name: 'a', seconds: 2, host: hostYaml(hosts[0]) },
          { name: 'b', seconds: 2, host: hostYaml(hosts[0]) },
        ],
        '    known_hosts: known_hosts',
      ),
    }),
    // A lease a busy machine never loses by accident; a worker considered dead only after a real silence.
    env: {
      POLITBURO_RUN_HEARTBEAT: '1s',
      POLITBURO_RUN_LEASE: '20s',
      POLITBURO_WORKER_STALE_AFTER: '30s',
      POLITBURO_WORKER_HEARTBEAT: '1s',
    },
  });
});
after(async () => {
  await controller?.kill('SIGKILL');
  await h?.stop();
});

test(
  'connections terminated again and again while the controller applies two pushes: it stays up, applies never overlap, runs end truthfully',
  { timeout: 400_000 },
  async () => {
    controller = await spawnController({ ...h.env, POLITBURO_DATA_DIR: `${h.env.POLITBURO_DATA_DIR}/a` }, 120_000);
    const first = await h.repo.head();
    assert.equal(
      (await h.send('push', pushPayload(h.repo, { before: '0'.repeat(40), after: first }), controller.url)).status,
      202,
    );
    await waitFor('the first apply to start a task', async () => (await tasks.intervals()).length > 0, 90_000);

    // Terminate every backend of this test's database (and only this one's) while the applies run.
    const maintenance = new URL(h.db.url);
    maintenance.pathname = '/postgres';
    const killer = new pg.Client({ connectionString: maintenance.toString() });
    await killer.connect();
    const dbName = new URL(h.db.url).pathname.slice(1);
    let terminations = 0;
    let stopped = false;
    const terminating = (async () => {
      while (!stopped && terminations < 12) {
        await new Promise((r) => setTimeout(r, 1500));
        await killer.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [dbName],
        );
        terminations++;
      }
    })();
    try {
      // A second push while the first applies: b's task changes, so b is updated at the new commit.
      const second = await h.repo.commit({ 'politburo.yml': description(1) }, 'b: shorter');
      const sent = await waitFor('the second push to be stored', async () => {
        const res = await h
          .send('push', pushPayload(h.repo, { before: first, after: second }), controller!.url)
          .catch(() => null);
        return res && res.status === 202 ? res : null; // 503 while the database is away: GitHub would redeliver
      });
      assert.equal(sent.status, 202);
      await terminating;
      stopped = true;

      const settled = await waitFor(
        'b applied at the second commit, every node ready, no run still running',
        async () => {
          const nodes = await h.pool
            .query<{ path: string; state: string; last_applied_commit: string }>(
              `SELECT path, state, last_applied_commit FROM nodes ORDER BY path`,
            )
            .catch(() => null);
          const running = await h.pool.query(`SELECT 1 FROM runs WHERE status = 'running'`).catch(() => null);
          if (!nodes || !running || running.rowCount) return null;
          // a is unchanged by the second commit: it keeps the commit it was applied from.
          const b = nodes.rows.find((n) => n.path === 'b');
          return nodes.rows.length === 2 &&
            nodes.rows.every((n) => n.state === 'ready') &&
            b?.last_applied_commit === second
            ? nodes.rows
            : null;
        },
        240_000,
      ).catch(async (err: Error) => {
        const runs = await h.pool
          .query(`SELECT id, kind, status, commit, summary FROM runs ORDER BY id`)
          .catch((e: Error) => ({ rows: e.message }));
        const nodes = await h.pool
          .query(`SELECT path, state, reason, last_applied_commit FROM nodes`)
          .catch((e: Error) => ({ rows: e.message }));
        const jobs = await listJobs(h.pool)
          .then((rows) => ({
            rows: rows.map(({ task, attempts, lastError, lockedBy }) => ({ task, attempts, lastError, lockedBy })),
          }))
          .catch((e: Error) => ({ rows: e.message }));
        throw new Error(
          `${err.message}\nruns ${JSON.stringify(runs.rows)}\nnodes ${JSON.stringify(nodes.rows)}\njobs ${JSON.stringify(jobs.rows)}\n${controller!.log().slice(-4000)}`,
        );
      });
      assert.deepEqual(
        settled.map((n) => n.path),
        ['a', 'b'],
      );
    } finally {
      stopped = true;
      await terminating.catch(() => undefined);
      await killer.end().catch(() => undefined);
    }

    assert.ok(terminations >= 3, `backends were terminated while the applies ran (${terminations} times)`);
    assert.equal(controller.child.exitCode, null, `the controller is still running:\n${controller.log().slice(-3000)}`);
    assert.equal(controller.child.signalCode, null);
    assertNoOverlap(await tasks.intervals());
    // Every run ended, and what it says is what its nodes say.
    const runs = await h.pool.query<{ id: string; status: string }>(
      `SELECT id::text AS id, status FROM runs WHERE kind = 'apply' ORDER BY id`,
    );
    assert.ok(runs.rows.length >= 2, JSON.stringify(runs.rows));
    for (const run of runs.rows) {
      assert.ok(['succeeded', 'failed', 'cancelled'].includes(run.status), `run ${run.id}: ${run.status}`);
      const states = (
        await h.pool.query<{ path: string; state: string }>(`SELECT path, state FROM node_runs WHERE run_id = $1`, [
          run.id,
        ])
      ).rows;
      assert.ok(
        !states.some((s) => ['configuring', 'provisioning', 'terminating'].includes(s.state)),
        `run ${run.id} left a node in progress: ${JSON.stringify(states)}`,
      );
      if (run.status === 'succeeded')
        assert.ok(
          states.every((s) => s.state === 'ready'),
          `run ${run.id} succeeded with ${JSON.stringify(states)}`,
        );
    }
  },
);
