/** `politburo plan ENV --live`: the static plan plus a dry-run on every host, through the CLI. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTarget } from '../../../reconciler/target.js';
import type { PgStateStore } from '../../../store/pg-store.js';
import type { TestDatabase } from '../../helpers/db.js';
import type { SshHosts } from '../../helpers/sshd.js';
import type { HostConnection } from '../../../kernel/types.js';
import {
  applyOnce,
  cliInProcess,
  makeRepo,
  startEngineWorld,
  type EngineWorld,
  type RepoOptions,
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

test('plan --live --detailed-exitcode exits 0 when nothing changed or drifted, 2 naming the drifted node and its unmet task', async () => {
  const dir = await makeRepo({ hosts: hosts(), knownHosts: ssh.knownHosts, params: { web_seconds: '0' } });
  assert.equal(
    (await applyOnce({ dir, store, privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] })).status,
    'succeeded',
  );
  const cli = (args: string[]) => cliInProcess([...args, '--database-url', db.url, '--ssh-key', ssh.privateKeyPath]);

  const clean = await cli(['plan', 'test', '--live', '--detailed-exitcode', '--dir', dir, '--json']);
  assert.equal(clean.code, 0, clean.stderr);
  const cleanDoc = JSON.parse(clean.stdout);
  assert.equal(cleanDoc.environment, 'test');
  assert.ok(
    cleanDoc.nodes.every((n: { action: string; state: string }) => n.action === 'unchanged' && n.state === 'ready'),
  );

  await conns[3].exec('echo tampered > ~/state/web.args'); // someone changed web-2 by hand
  const found = await cli(['plan', 'test', '--live', '--detailed-exitcode', '--dir', dir, '--json']);
  assert.equal(found.code, 2, found.stderr);
  const doc = JSON.parse(found.stdout);
  const drifted = doc.nodes.filter((n: { state: string }) => n.state === 'drifted');
  assert.deepEqual(
    drifted.map((n: { path: string }) => n.path),
    ['web-2'],
  );
  assert.deepEqual(
    drifted[0].tasks.map((t: { name: string; outcome: string }) => [t.name, t.outcome]),
    [
      ['stamped', 'unmet'],
      ['marker written', 'already met'],
    ],
  );
  assert.equal(doc.summary.drifted, 1);

  const human = await cli(['plan', 'test', '--live', '--dir', dir]);
  assert.equal(human.code, 0, 'without --detailed-exitcode drift is not an error');
  assert.match(human.stdout, /Live check on the hosts:/);
  assert.match(human.stdout, /web-2.*drifted/);
});

test('plan --live records nothing for never-applied nodes: they stay unrecorded, never "configuring"', async () => {
  const dir = await makeRepo({ hosts: hosts(), knownHosts: ssh.knownHosts, params: { web_seconds: '0' } });
  // Only the master is applied; the other four nodes were never applied.
  const applied = await applyOnce({
    dir,
    store,
    privateKey: ssh.privateKey,
    knownHosts: [ssh.knownHosts],
    target: parseTarget('test:database/master'),
  });
  assert.equal(applied.status, 'succeeded');
  const cli = (args: string[]) => cliInProcess([...args, '--database-url', db.url, '--ssh-key', ssh.privateKeyPath]);
  const live = await cli(['plan', 'test', '--live', '--detailed-exitcode', '--dir', dir, '--json']);
  assert.equal(live.code, 2, live.stderr);
  const doc = JSON.parse(live.stdout);
  assert.deepEqual(
    doc.nodes.map((n: { path: string; action: string }) => [n.path, n.action]),
    [
      ['database/master', 'unchanged'],
      ['database/replica', 'create'],
      ['web-1', 'create'],
      ['web-2', 'create'],
      ['lb', 'create'],
    ],
  );
  // What the dry run found is reported...
  assert.deepEqual(
    doc.nodes.find((n: { path: string }) => n.path === 'web-1').tasks.map((t: { name: string }) => t.name),
    ['stamped', 'marker written'],
  );
  // ...but the records only hold what it found for the applied node.
  const recorded = await store.recordedNodes(dir, 'test');
  assert.deepEqual(
    recorded.map((n) => [n.path, n.state]),
    [['database/master', 'ready']],
  );
  const run = (await store.listRuns({ repository: dir, environment: 'test' })).find((r) => r.kind === 'plan-live')!;
  assert.equal(run.status, 'succeeded');
  const nodeRuns = await store.nodeRuns(run.id);
  assert.deepEqual(
    nodeRuns.map((n) => [n.path, n.state, n.finishedAt !== null]),
    [['database/master', 'ready', true]],
  );
});
