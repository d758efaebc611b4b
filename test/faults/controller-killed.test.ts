/**
 * Fault: the controller (`politburo serve`) is killed with SIGKILL while an apply runs a task over SSH. The remote task
 * must stop with it, the next controller must close the dead run as interrupted (its unfinished node failed, not left
 * `configuring`), and the apply it runs again must not overlap anything of the dead one.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pushPayload, startHarness, type Harness } from '../e2e/harness.js';
import { spawnController, type ControllerProcess } from '../e2e/spawn-controller.js';
import { hostYaml } from '../helpers/engine-harness.js';
import { alive, assertNoOverlap, chainDescription, makeTaskDir, type TaskDir } from './task-log.js';
import { waitFor } from '../helpers/wait-for.js';

/** A busy machine can take long to start a controller: waiting for it asserts nothing about time. */
const STARTUP_MS = 120_000;

let h: Harness;
let tasks: TaskDir;
const procs: ControllerProcess[] = [];

before(async () => {
  tasks = await makeTaskDir();
  h = await startHarness({
    controllers: 0,
    hosts: 1,
    files: (hosts) => ({
      'politburo.yml': chainDescription(
        tasks,
        [{ name: 'a', seconds: 60, host: hostYaml(hosts[0]) }],
        '    known_hosts: known_hosts',
      ),
    }),
    env: { POLITBURO_RUN_HEARTBEAT: '1s', POLITBURO_RUN_LEASE: '20s' },
  });
});
after(async () => {
  for (const p of procs) await p.kill('SIGKILL');
  await h?.stop();
});

test(
  'SIGKILL of the controller while a task runs over SSH: the task stops, the next controller closes the run and applies alone',
  { timeout: 400_000 },
  async () => {
    const first = await spawnController({ ...h.env, POLITBURO_DATA_DIR: `${h.env.POLITBURO_DATA_DIR}/a` }, STARTUP_MS);
    procs.push(first);
    const sha = await h.repo.head();
    const res = await h.send('push', pushPayload(h.repo, { before: '0'.repeat(40), after: sha }), first.url);
    assert.equal(res.status, 202);
    const task = await waitFor(
      'the apply to meet a',
      async () => (await tasks.intervals()).find((i) => i.label === 'meet-a'),
      60_000,
    );
    await first.kill('SIGKILL');
    await waitFor('the remote task of the killed controller to end', () => !alive(task.pid), 30_000);
    assert.equal(
      (await tasks.intervals()).find((i) => i.pid === task.pid)?.killed,
      true,
      'the task was stopped, not left to finish',
    );

    await writeFile(path.join(tasks.dir, 'meet-a.seconds'), '0.5');
    const second = await spawnController({ ...h.env, POLITBURO_DATA_DIR: `${h.env.POLITBURO_DATA_DIR}/b` }, STARTUP_MS);
    procs.push(second);
    const runs = await waitFor(
      'the dead run closed and the apply run again',
      async () => {
        const { rows } = await h.pool.query<{ id: string; status: string }>(
          `SELECT id::text AS id, status FROM runs WHERE kind = 'apply' ORDER BY id`,
        );
        return rows.length === 2 && rows[1].status !== 'running' ? rows : null;
      },
      90_000,
    );
    assert.deepEqual(
      runs.map((r) => r.status),
      ['cancelled', 'succeeded'],
      second.log().slice(-3000),
    );
    const dead = await h.pool.query<{ state: string; reason: string }>(
      `SELECT state, reason FROM node_runs WHERE run_id = $1 AND path = 'a'`,
      [runs[0].id],
    );
    assert.equal(dead.rows[0].state, 'failed');
    assert.match(dead.rows[0].reason, /^Interrupted: the process running run \d+ \(pid \d+ on .+\) is gone/);
    assertNoOverlap(await tasks.intervals());
    const node = await h.pool.query<{ state: string }>(`SELECT state FROM nodes WHERE path = 'a'`);
    assert.equal(node.rows[0].state, 'ready');
  },
);
