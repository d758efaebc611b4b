/**
 * Drift on real hosts: a hand-edited host makes `politburo drift` exit 2 naming that node and task; --heal fixes it.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { runLivePlan } from '../../../reconciler/drift-environment.js';
import type { PgStateStore } from '../../../store/pg-store.js';
import type { HostConnection } from '../../../kernel/types.js';
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
