/** Drift on real hosts: a hand-edited host makes `politburo drift` exit 2 naming that node and task; --heal fixes it. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { runLivePlan } from '../../../reconciler/drift-environment.js';
import type { PgStateStore } from '../../../reconciler/store/pg-store.js';
import type { HostConnection } from '../../../reconciler/types.js';
import type { TestDatabase } from '../../helpers/db.js';
import type { SshHosts } from '../../helpers/sshd.js';
import { applyOnce, cliInProcess, commitAll, engineInput, makeRepo, writeRepo, type RepoOptions, startEngineWorld, type EngineWorld } from './engine-harness.js';

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

const hosts = (): RepoOptions['hosts'] => ({ 'database/master': ssh.hosts[0], 'database/replica': ssh.hosts[1], web: [ssh.hosts[2], ssh.hosts[3]], lb: ssh.hosts[4] });

test('drift names exactly the changed node and task, --heal meets it, then no drift; live plans dry-run', async () => {
  const dir = await makeRepo({ hosts: hosts(), knownHosts: ssh.knownHosts, params: { web_seconds: '0' } });
  assert.equal((await applyOnce({ dir, store, privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] })).status, 'succeeded');
  const cli = (args: string[]) => cliInProcess([...args, '--database-url', db.url, '--ssh-key', ssh.privateKeyPath]);

  const clean = await cli(['drift', 'test', '--dir', dir, '--json']);
  assert.equal(clean.code, 0, clean.stderr);
  assert.deepEqual(JSON.parse(clean.stdout).summary, { ready: 5, drifted: 0, failed: 0, blocked: 0 });

  await conns[3].exec('echo tampered > ~/state/web.args'); // someone changed web-2 by hand
  const found = await cli(['drift', 'test', '--dir', dir, '--json']);
  assert.equal(found.code, 2, found.stderr);
  const doc = JSON.parse(found.stdout);
  const drifted = doc.nodes.filter((n: { state: string }) => n.state === 'drifted');
  assert.deepEqual(drifted.map((n: { path: string }) => n.path), ['web-2']);
  assert.equal(drifted[0].reason, 'unmet: stamped');
  assert.deepEqual(drifted[0].tasks.map((t: { name: string; outcome: string }) => [t.name, t.outcome]), [['stamped', 'unmet'], ['marker written', 'already met']]);
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
