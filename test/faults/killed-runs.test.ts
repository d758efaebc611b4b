/**
 * Fault: `politburo apply` is killed with SIGKILL in the middle of a run (while a task runs on the local host or over
 * SSH, or between nodes). No task of the dead run may keep running, and the next start (`politburo status`, the next
 * apply) closes the dead run as interrupted, with no node left `configuring`; the next apply then runs alone. The real
 * CLI runs as a child process on a test database; overlap is judged from the times the tasks log.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';

import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startSshHosts, type SshHosts } from '../helpers/sshd.js';
import { cli, hostYaml, repoRoot } from '../helpers/engine-harness.js';
import { alive, assertNoOverlap, chainDescription, gitRepo, makeTaskDir, type TaskDir } from './task-log.js';
import { waitFor } from '../helpers/wait-for.js';

let ssh: SshHosts;
const databases: TestDatabase[] = [];
const pools: pg.Pool[] = [];
const children: ChildProcess[] = [];

before(async () => {
  ssh = await startSshHosts(1);
});
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const p of pools) await p.end().catch(() => undefined);
  for (const d of databases) await d.drop().catch(() => undefined);
  await ssh?.stop();
});

interface World {
  db: TestDatabase;
  pool: pg.Pool;
  tasks: TaskDir;
  dir: string;
  env: Record<string, string>;
}

async function world(
  nodes: { name: string; seconds: number; host: string }[],
  extra = '',
  files: Record<string, string> = {},
): Promise<World> {
  const db = await createTestDatabase();
  databases.push(db);
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  pool.on('error', () => {});
  pools.push(pool);
  const tasks = await makeTaskDir();
  const dir = await gitRepo({ 'politburo.yml': chainDescription(tasks, nodes, extra), ...files });
  const env = {
    DATABASE_URL: db.url,
    POLITBURO_SSH_KEY: ssh.privateKeyPath,
    POLITBURO_RUN_HEARTBEAT: '1s',
    POLITBURO_RUN_LEASE: '20s',
  };
  return { db, pool, tasks, dir, env };
}

/** Starts `politburo apply p` as a child process. */
function startApply(w: World): { child: ChildProcess; output(): string } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, 'cli/bin.ts'), 'apply', 'p', '--dir', w.dir],
    {
      cwd: repoRoot,
      env: { ...process.env, ...w.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

async function runs(w: World): Promise<{ id: string; status: string; summary: Record<string, number> | null }[]> {
  return (await w.pool.query(`SELECT id::text AS id, status, summary FROM runs ORDER BY id`)).rows;
}

async function nodeRuns(w: World, runId: string): Promise<Record<string, { state: string; reason: string | null }>> {
  const { rows } = await w.pool.query(`SELECT path, state, reason FROM node_runs WHERE run_id = $1`, [runId]);
  return Object.fromEntries(
    rows.map((r: { path: string; state: string; reason: string | null }) => [
      r.path,
      { state: r.state, reason: r.reason },
    ]),
  );
}

/**
 * Kills the CLI while `label` runs; returns the pid of that task's process, which must then end (it is not waited for).
 */
async function killDuring(w: World, label: string): Promise<number> {
  const apply = startApply(w);
  const started = await waitFor(
    `${label} to start`,
    async () => (await w.tasks.intervals()).find((i) => i.label === label && i.end === null),
    60_000,
  );
  await kill9(apply.child);
  return started.pid;
}

test(
  'SIGKILL while a local task runs: the task is stopped, status closes the run as interrupted, the next apply runs alone',
  { timeout: 120_000 },
  async () => {
    const w = await world([
      { name: 'a', seconds: 60, host: 'local' },
      { name: 'b', seconds: 0.2, host: 'local' },
    ]);
    const pid = await killDuring(w, 'meet-a');
    await waitFor('the killed run’s task to end', () => !alive(pid), 60_000);
    assert.equal(
      (await w.tasks.intervals()).find((i) => i.pid === pid)?.killed,
      true,
      'the task was stopped, not left to finish',
    );

    const status = await cli(['status', 'p', '--dir', w.dir, '--json'], w.env);
    assert.equal(status.code, 0, status.stderr);
    const nodes = Object.fromEntries(
      (JSON.parse(status.stdout) as { nodes: { path: string; state: string; reason: string | null }[] }).nodes.map(
        (n) => [n.path, n],
      ),
    );
    assert.equal(nodes.a.state, 'failed');
    assert.match(nodes.a.reason ?? '', /^Interrupted: the process running run \d+ \(pid \d+ on .+\) is gone/);
    assert.equal(nodes.b, undefined, 'b was never started and is not recorded');
    const [dead] = await runs(w);
    assert.equal(dead.status, 'cancelled');
    assert.equal(dead.summary?.interrupted, 1);
    assert.deepEqual(Object.keys(await nodeRuns(w, dead.id)), ['a']);

    await writeFile(path.join(w.tasks.dir, 'meet-a.seconds'), '0.5');
    const next = await cli(['apply', 'p', '--dir', w.dir], w.env);
    assert.equal(next.code, 0, next.stdout + next.stderr);
    assertNoOverlap(await w.tasks.intervals());
    assert.deepEqual(
      (await runs(w)).map((r) => r.status),
      ['cancelled', 'succeeded'],
    );
  },
);

test(
  'SIGKILL between nodes: the next apply closes the dead run with truthful node states and finishes the work',
  { timeout: 120_000 },
  async () => {
    const w = await world([
      { name: 'a', seconds: 0.5, host: 'local' },
      { name: 'b', seconds: 60, host: 'local' },
    ]);
    const apply = startApply(w);
    // a's meet has ended: the CLI is recording a as ready and moving on to b.
    await waitFor(
      'a to be met',
      async () => (await w.tasks.intervals()).some((i) => i.label === 'meet-a' && i.end !== null),
      60_000,
    );
    await kill9(apply.child);
    await waitFor(
      'no task of the killed run still running',
      async () => (await w.tasks.intervals()).every((i) => !alive(i.pid)),
      60_000,
    );

    await writeFile(path.join(w.tasks.dir, 'meet-b.seconds'), '0.5');
    const next = await cli(['apply', 'p', '--dir', w.dir], w.env);
    assert.equal(next.code, 0, next.stdout + next.stderr);
    const [dead, done] = await runs(w);
    assert.equal(dead.status, 'cancelled');
    assert.equal(done.status, 'succeeded');
    for (const [node, nr] of Object.entries(await nodeRuns(w, dead.id))) {
      assert.ok(['ready', 'failed'].includes(nr.state), `${node} is left ${nr.state} by the dead run`);
      if (nr.state === 'failed') assert.match(nr.reason ?? '', /^Interrupted: /);
    }
    assertNoOverlap(await w.tasks.intervals());
    const { rows } = await w.pool.query(`SELECT path, state FROM nodes ORDER BY path`);
    assert.deepEqual(rows, [
      { path: 'a', state: 'ready' },
      { path: 'b', state: 'ready' },
    ]);
  },
);

test(
  'SIGKILL while a task runs over SSH: the remote task is stopped, and the next apply closes the run and runs alone',
  { timeout: 120_000 },
  async () => {
    const host = ssh.hosts[0];
    const w = await world([{ name: 'a', seconds: 60, host: hostYaml(host) }], '    known_hosts: known_hosts', {
      known_hosts: ssh.knownHosts,
    });
    const pid = await killDuring(w, 'meet-a');
    // sshd sees the connection close; the remote task's lifeline (its channel's stdin) ends it.
    await waitFor('the remote task to end', () => !alive(pid), 60_000);
    assert.equal(
      (await w.tasks.intervals()).find((i) => i.pid === pid)?.killed,
      true,
      'the remote task was stopped, not left to finish',
    );

    await writeFile(path.join(w.tasks.dir, 'meet-a.seconds'), '0.5');
    const next = await cli(['apply', 'p', '--dir', w.dir], w.env);
    assert.equal(next.code, 0, next.stdout + next.stderr);
    assertNoOverlap(await w.tasks.intervals());
    const [dead, done] = await runs(w);
    assert.equal(dead.status, 'cancelled');
    assert.equal(done.status, 'succeeded');
    assert.equal((await nodeRuns(w, dead.id)).a.state, 'failed');
  },
);

test(
  'SIGKILL while a provider script creates a host: the script is stopped with the CLI, and the run is closed as interrupted',
  { timeout: 120_000 },
  async () => {
    const w = await world([{ name: 'a', seconds: 0.2, host: 'local' }]);
    // The same environment, its node's host from a provider whose create takes a minute.
    const description = [
      'politburo: 1',
      'defaults: { timeout: 120s }',
      'provider:',
      '  exec: { create: provision/create.sh, destroy: provision/destroy.sh }',
      'blueprints:',
      '  app:',
      '    resources:',
      '      a:',
      '        tasks:',
      `          - { name: a task, met: 'true', meet: 'true' }`,
      'environments:',
      '  p:',
      '    blueprint: app',
      '',
    ].join('\n');
    await mkdir(path.join(w.dir, 'provision'));
    await writeFile(path.join(w.dir, 'politburo.yml'), description);
    await writeFile(
      path.join(w.dir, 'provision/create.sh'),
      `#!/bin/sh\ncat >/dev/null\nsh ${w.tasks.dir}/task.sh create 60\necho '{"address":"127.0.0.1"}'\n`,
      { mode: 0o755 },
    );
    await writeFile(path.join(w.dir, 'provision/destroy.sh'), '#!/bin/sh\ncat >/dev/null\n', { mode: 0o755 });
    await gitCommit(w.dir);

    const pid = await killDuring(w, 'create');
    await waitFor('the provider script of the killed run to end', () => !alive(pid), 60_000);
    assert.equal(
      (await w.tasks.intervals()).find((i) => i.pid === pid)?.killed,
      true,
      'the script was stopped, not left to finish',
    );
    const status = await cli(['status', 'p', '--dir', w.dir, '--json'], w.env);
    assert.equal(status.code, 0, status.stderr);
    const [dead] = await runs(w);
    assert.equal(dead.status, 'cancelled');
    const a = (await nodeRuns(w, dead.id)).a;
    assert.equal(a.state, 'failed');
    assert.match(a.reason ?? '', /^Interrupted: /);
  },
);

async function gitCommit(dir: string): Promise<void> {
  const git = (...args: string[]) =>
    new Promise<void>((resolve, reject) =>
      spawn('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
        stdio: 'ignore',
      }).once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`git ${args[0]}: ${code}`)))),
    );
  await git('add', '-A');
  await git('commit', '-q', '-m', 'provider');
}
