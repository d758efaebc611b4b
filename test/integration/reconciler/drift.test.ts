/**
 * Drift on real hosts: a hand-edited host makes `politburo drift` exit 2 naming that node and task; --heal fixes it.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { driftEnvironment, runLivePlan } from '../../../reconciler/drift-environment.js';
import type { PgStateStore } from '../../../store/pg-store.js';
import type { EngineInput } from '../../../reconciler/run-engine.js';
import type { HostConnection, HostConnector, RunEvent } from '../../../kernel/types.js';
import type { TestDatabase } from '../../helpers/db.js';
import type { SshHosts } from '../../helpers/sshd.js';
import {
  applyOnce,
  byPath,
  cliInProcess,
  commitAll,
  engineInput,
  makeRepo,
  writeRepo,
  type RepoOptions,
  startEngineWorld,
  type EngineWorld,
} from '../../helpers/engine-harness.js';

let ssh: SshHosts;
let db: TestDatabase;
let store: PgStateStore;
let conns: HostConnection[];
let world: EngineWorld | undefined;

before(async () => {
  world = await startEngineWorld(5);
  ({ ssh, db, store, conns } = world);
});
after(() => world?.close());

const hosts = (): RepoOptions['hosts'] => ({
  'database/master': ssh.hosts[0],
  'database/replica': ssh.hosts[1],
  web: [ssh.hosts[2], ssh.hosts[3]],
  lb: ssh.hosts[4],
});

test('drift names exactly the changed node and task, --heal meets it, then no drift; live plans dry-run', async () => {
  const dir = await makeRepo({ hosts: hosts(), knownHosts: ssh.knownHosts, params: { web_seconds: '0' } });
  assert.equal(
    (await applyOnce({ dir, store, privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] })).status,
    'succeeded',
  );
  const cli = (args: string[]) => cliInProcess([...args, '--database-url', db.url, '--ssh-key', ssh.privateKeyPath]);

  const clean = await cli(['drift', 'test', '--dir', dir, '--json']);
  assert.equal(clean.code, 0, clean.stderr);
  assert.deepEqual(JSON.parse(clean.stdout).summary, { ready: 5, drifted: 0, failed: 0, blocked: 0 });

  await conns[3].exec('echo tampered > ~/state/web.args'); // someone changed web-2 by hand
  const found = await cli(['drift', 'test', '--dir', dir, '--json']);
  assert.equal(found.code, 2, found.stderr);
  const doc = JSON.parse(found.stdout);
  const drifted = doc.nodes.filter((n: { state: string }) => n.state === 'drifted');
  assert.deepEqual(
    drifted.map((n: { path: string }) => n.path),
    ['web-2'],
  );
  assert.equal(drifted[0].reason, 'unmet: stamped');
  assert.deepEqual(
    drifted[0].tasks.map((t: { name: string; outcome: string }) => [t.name, t.outcome]),
    [
      ['stamped', 'unmet'],
      ['marker written', 'already met'],
    ],
  );
  assert.equal((await conns[3].exec('cat ~/state/web.args')).stdout, 'tampered\n', 'a dry run changes nothing');
  const recorded = Object.fromEntries((await store.recordedNodes(dir, 'test')).map((n) => [n.path, n]));
  assert.equal(recorded['web-2'].state, 'drifted');

  const healed = await cli(['drift', 'test', '--dir', dir, '--heal']);
  assert.equal(healed.code, 2, healed.stderr);
  assert.match(healed.stdout, /web-2 .* ready .*healed \(unmet: stamped\)/);
  assert.notEqual((await conns[3].exec('cat ~/state/web.args')).stdout, 'tampered\n');
  const after = await cli(['drift', 'test', '--dir', dir]);
  assert.equal(after.code, 0, after.stdout + after.stderr);

  // A live plan: the static plan, plus a dry-run of every node with a host.
  await writeRepo(dir, { hosts: hosts(), knownHosts: ssh.knownHosts, params: { web_seconds: '0', app_ref: 'v9' } });
  await commitAll(dir, 'v9');
  const { input, close } = await engineInput({ dir, store, privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] });
  const live = await runLivePlan(input).finally(close);
  assert.equal(live.plan.summary.update, 2);
  assert.equal(live.result.kind, 'plan-live');
  const web1 = live.result.nodes.find((n) => n.path === 'web-1')!;
  assert.deepEqual([web1.action, web1.state, web1.reason], ['update', 'drifted', 'unmet: stamped']);
  assert.equal(live.result.nodes.find((n) => n.path === 'lb')!.state, 'ready');
  const rec = Object.fromEntries((await store.recordedNodes(dir, 'test')).map((n) => [n.path, n.state]));
  assert.equal(rec['web-1'], 'ready', 'a pending change is not drift: the recorded state stays');
});

const git = (dir: string, ...args: string[]) => promisify(execFile)('git', ['-C', dir, ...args]);

test('after a partly failed apply, drift checks every node at the commit it was applied from; heal meets it there', async () => {
  const dir = await makeRepo({ hosts: hosts(), knownHosts: ssh.knownHosts, params: { web_seconds: '0' } });
  const first = (await git(dir, 'rev-parse', 'HEAD')).stdout.trim();
  assert.equal(
    (await applyOnce({ dir, store, privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] })).status,
    'succeeded',
  );
  // Commit X changes the web nodes; web-1's host is broken, so X applies to web-2 only.
  await conns[2].exec('touch ~/break');
  await writeRepo(dir, { hosts: hosts(), knownHosts: ssh.knownHosts, params: { web_seconds: '0', app_ref: 'v2' } });
  const x = await commitAll(dir, 'v2');
  const partial = await applyOnce({ dir, store, privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] });
  assert.deepEqual(
    [partial.status, byPath(partial)['web-1'].state, byPath(partial)['web-2'].state],
    ['failed', 'failed', 'ready'],
  );
  await conns[2].exec('rm -f ~/break');
  await conns[3].exec('echo tampered > ~/state/web.args'); // someone changed web-2 by hand
  const cli = (args: string[]) => cliInProcess([...args, '--database-url', db.url, '--ssh-key', ssh.privateKeyPath]);

  // Checked from the last fully applied commit (as the controller's schedule does): web-2 is still checked, at X.
  await git(dir, 'checkout', '-q', first);
  try {
    const found = await cli(['drift', 'test', '--dir', dir, '--json']);
    assert.equal(found.code, 2, found.stdout + found.stderr);
    const doc = JSON.parse(found.stdout);
    const at = Object.fromEntries(doc.nodes.map((n: { path: string; commit: string }) => [n.path, n.commit]));
    assert.deepEqual(
      at,
      { 'database/master': first, 'database/replica': first, 'web-1': first, 'web-2': x, lb: first },
      'every node, each at its own commit',
    );
    assert.deepEqual(doc.unchecked, []);
    const web2 = doc.nodes.find((n: { path: string }) => n.path === 'web-2');
    assert.deepEqual([web2.state, web2.reason], ['drifted', 'unmet: stamped']);
    const web1 = doc.nodes.find((n: { path: string }) => n.path === 'web-1');
    assert.match(web1.reason, /recorded failed, left to the next apply/);
    const recorded = Object.fromEntries((await store.recordedNodes(dir, 'test')).map((n) => [n.path, n]));
    assert.equal(recorded['web-1'].state, 'failed', 'a failed node stays failed: the next apply retries it');
    assert.equal(recorded['web-2'].state, 'drifted');

    // Heal meets web-2 as applied from X (ref v2), not as the older commit describes it.
    const healed = await cli(['drift', 'test', '--dir', dir, '--heal', '--json']);
    assert.equal(healed.code, 2, healed.stdout + healed.stderr);
    assert.match((await conns[3].exec('cat ~/state/web.args')).stdout, /\|v2\|/);
    const after = Object.fromEntries((await store.recordedNodes(dir, 'test')).map((n) => [n.path, n]));
    assert.deepEqual([after['web-2'].state, after['web-2'].lastAppliedCommit], ['ready', x]);
    assert.equal(after['web-1'].state, 'failed');
  } finally {
    await git(dir, 'checkout', '-q', 'main');
  }
});

test('a node that cannot be checked is named with why, and the check is never "no drift"', async () => {
  const dir = await makeRepo({ hosts: hosts(), knownHosts: ssh.knownHosts, params: { web_seconds: '0' } });
  assert.equal(
    (await applyOnce({ dir, store, privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] })).status,
    'succeeded',
  );
  // lb was applied from a commit this repository does not have (a re-created or force-pushed repository).
  const gone = 'f'.repeat(40);
  await store.pool.query(`UPDATE nodes SET last_applied_commit = $1 WHERE path = 'lb'`, [gone]);
  const cli = (args: string[]) => cliInProcess([...args, '--database-url', db.url, '--ssh-key', ssh.privateKeyPath]);
  const res = await cli(['drift', 'test', '--dir', dir, '--json']);
  assert.equal(res.code, 1, 'not every node could be checked: not "no drift"');
  const doc = JSON.parse(res.stdout);
  assert.equal(doc.status, 'failed');
  assert.deepEqual(
    doc.unchecked.map((u: { path: string }) => u.path),
    ['lb'],
  );
  assert.match(
    doc.unchecked[0].reason,
    /applied from fffffff, whose description cannot be loaded: commit fffffff is not in this repository/,
  );
  assert.equal(doc.summary.unchecked, 1);
  assert.equal(doc.nodes.length, 4);
  const human = await cli(['drift', 'test', '--dir', dir]);
  assert.equal(human.code, 1);
  assert.match(human.stdout, /Not checked \(1\):\n {2}lb .*cannot be loaded/);
  const runs = await store.listRuns({ repository: dir, environment: 'test' });
  assert.equal(runs[0].kind, 'drift');
  assert.equal(runs[0].status, 'failed');
  assert.equal(runs[0].summary?.unchecked, 1);
});

/**
 * The real connector, counting per host the calls of ensureDeps (the deps command of its own, `cd && pwd && test -d …`,
 * run inside the connector) on the connections it hands out: the port's boundary.
 */
function countingEnsureDeps(connector: HostConnector, counts: Record<string, number>): HostConnector {
  return {
    async connect(target) {
      const conn = await connector.connect(target);
      const key = target.kind === 'local' ? 'local' : `${target.address}:${target.port}`;
      return {
        ...conn,
        ensureDeps: (localDir, hash) => {
          counts[key] = (counts[key] ?? 0) + 1;
          return conn.ensureDeps(localDir, hash);
        },
      };
    },
    stats: () => connector.stats(),
    close: () => connector.close(),
  };
}

/** A drift (or, with `live`, a live plan) of `dir` through the engine: its result, node records, events, deps commands. */
async function dryRunCounting(dir: string, live = false) {
  const events: RunEvent[] = [];
  const { input, close } = await engineInput({
    dir,
    store,
    privateKey: ssh.privateKey,
    knownHosts: [ssh.knownHosts],
    events,
  });
  const ensured: Record<string, number> = {};
  const counted: EngineInput = { ...input, connector: countingEnsureDeps(input.connector, ensured) };
  try {
    const r = live ? (await runLivePlan(counted)).result : await driftEnvironment({ ...counted, heal: false });
    const runs = Object.fromEntries((await store.nodeRuns(r.runId!)).map((n) => [n.path, n]));
    return { r, runs, events, ensured };
  } finally {
    await close();
  }
}

const key = (h: { address: string; port: number }) => `${h.address}:${h.port}`;

/** The lamp repository with lb's tasks in one Babushka process (two babushka tasks in a row: a batch), applied. */
async function appliedWithBatch(): Promise<string> {
  const dir = await makeRepo({ hosts: hosts(), knownHosts: ssh.knownHosts, params: { web_seconds: '0' } });
  const file = path.join(dir, 'politburo.yml');
  const yml = await readFile(file, 'utf8');
  assert.ok(yml.includes('roles: [lb]'));
  await writeFile(file, yml.replace('roles: [lb]', 'roles: [lb, db]'));
  await commitAll(dir, 'lb: two babushka tasks');
  assert.equal(
    (await applyOnce({ dir, store, privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] })).status,
    'succeeded',
  );
  return dir;
}

test('a drift with every deps directory in place runs no deps command: one dry run per host', async () => {
  const dir = await appliedWithBatch();
  const { r, ensured } = await dryRunCounting(dir);
  assert.equal(r.status, 'succeeded', JSON.stringify(r.nodes, null, 1));
  assert.deepEqual(r.summary, { ready: 5, drifted: 0, failed: 0, blocked: 0 });
  assert.deepEqual(ensured, {}, 'no host was asked for its deps first');
  const live = await dryRunCounting(dir, true);
  assert.equal(live.r.status, 'succeeded', JSON.stringify(live.r.nodes, null, 1));
  assert.deepEqual(live.ensured, {}, 'nor by a live plan');
});

test('deps gone from hosts: drift finds them missing with its own cd, ships them and dry-runs again, leaving no trace', async () => {
  const dir = await appliedWithBatch();
  // web-1 (one babushka task, then a shell task) and lb (a batch) lose their deps.
  await Promise.all([conns[2].exec('rm -rf ~/.politburo/deps'), conns[4].exec('rm -rf ~/.politburo/deps')]);
  const { r, runs, events, ensured } = await dryRunCounting(dir);
  assert.equal(r.status, 'succeeded', JSON.stringify(r.nodes, null, 1));
  assert.deepEqual(r.summary, { ready: 5, drifted: 0, failed: 0, blocked: 0 }, 'the missing deps are no drift');
  assert.deepEqual(ensured, { [key(ssh.hosts[2])]: 1, [key(ssh.hosts[4])]: 1 }, 'shipped where missing, only there');
  const note = /^--- the deps were not on the host \(\.politburo\/deps\/[A-Za-z0-9_-]+\): shipped, then checked\n/;
  const rows = (p: string) => runs[p].tasks.map((t) => [t.name, t.outcome]);
  const finished = (p: string) =>
    events.flatMap((e) => (e.type === 'task-finished' && e.path === p ? [[e.result.name, e.result.outcome]] : []));
  for (const [p, tasks] of [
    ['web-1', ['stamped', 'marker written']],
    ['lb', ['stamped', 'stamped']],
  ] as const) {
    const byName = r.nodes.find((n) => n.path === p)!;
    assert.deepEqual([byName.state, byName.reason], ['ready', undefined], p);
    assert.match(runs[p].log, note, p);
    assert.match(runs[p].log, /\n *stamped \{\n/, `${p}: the dry run's output follows`);
    assert.doesNotMatch(runs[p].log, /No such file|can't cd|cd: /, `${p}: the failed cd is not in the log`);
    const met = tasks.map((t) => [t, 'already met']);
    assert.deepEqual(rows(p), met, `${p}: one record per task, none failed`);
    assert.deepEqual(finished(p), met, `${p}: one task-finished event per task, none failed`);
  }
  for (const p of ['database/master', 'database/replica', 'web-2']) assert.doesNotMatch(runs[p].log, /deps were not/);
  for (const c of [conns[2], conns[4]]) {
    const shipped = await c.exec('ls ~/.politburo/deps');
    assert.equal(shipped.stdout.trim().split('\n').length, 1, 'one deps directory, shipped once');
  }
  const recorded = Object.fromEntries((await store.recordedNodes(dir, 'test')).map((n) => [n.path, n.state]));
  assert.deepEqual(new Set(Object.values(recorded)), new Set(['ready']));

  // A live plan does the same.
  await conns[3].exec('rm -rf ~/.politburo/deps');
  const live = await dryRunCounting(dir, true);
  assert.equal(live.r.status, 'succeeded', JSON.stringify(live.r.nodes, null, 1));
  assert.deepEqual(live.ensured, { [key(ssh.hosts[3])]: 1 });
  assert.match(live.runs['web-2'].log, note);
  assert.doesNotMatch(live.runs['web-2'].log, /No such file|can't cd|cd: /);
  assert.deepEqual(
    live.runs['web-2'].tasks.map((t) => [t.name, t.outcome]),
    [
      ['stamped', 'already met'],
      ['marker written', 'already met'],
    ],
  );
});
