/** `politburo plan ENV --live`: the static plan plus a dry-run on every host, through the CLI. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHostConnector } from '../../../reconciler/hosts/ssh-connector.js';
import type { PgStateStore } from '../../../reconciler/store/pg-store.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { startSshHosts, type SshHosts } from '../../helpers/sshd.js';
import { applyOnce, cliInProcess, makeRepo, storeFor, type RepoOptions } from '../engine/engine-harness.js';

let ssh: SshHosts;
let db: TestDatabase;
let store: PgStateStore;
let closeStore: () => Promise<void>;

before(async () => {
  [ssh, db] = await Promise.all([startSshHosts(5), createTestDatabase()]);
  ({ store, close: closeStore } = storeFor(db.url));
});
after(async () => {
  await closeStore?.();
  await db?.drop();
  await ssh?.stop();
});

const hosts = (): RepoOptions['hosts'] => ({ 'database/master': ssh.hosts[0], 'database/replica': ssh.hosts[1], web: [ssh.hosts[2], ssh.hosts[3]], lb: ssh.hosts[4] });

test('plan --live exits 0 when nothing changed or drifted, 2 naming the drifted node and its unmet task', async () => {
  const dir = await makeRepo({ hosts: hosts(), knownHosts: ssh.knownHosts, params: { web_seconds: '0' } });
  assert.equal((await applyOnce({ dir, store, privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] })).status, 'succeeded');
  const cli = (args: string[]) => cliInProcess([...args, '--database-url', db.url, '--ssh-key', ssh.privateKeyPath]);

  const clean = await cli(['plan', 'test', '--live', '--dir', dir, '--json']);
  assert.equal(clean.code, 0, clean.stderr);
  const cleanDoc = JSON.parse(clean.stdout);
  assert.equal(cleanDoc.environment, 'test');
  assert.ok(cleanDoc.nodes.every((n: { action: string; state: string }) => n.action === 'unchanged' && n.state === 'ready'));

  const admin = createHostConnector({ privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] });
  try {
    const web2 = ssh.hosts[3];
    const conn = await admin.connect({ kind: 'ssh', address: web2.address, port: web2.port, user: web2.user });
    await conn.exec('echo tampered > ~/state/web.args');
  } finally {
    await admin.close();
  }
  const found = await cli(['plan', 'test', '--live', '--dir', dir, '--json']);
  assert.equal(found.code, 2, found.stderr);
  const doc = JSON.parse(found.stdout);
  const drifted = doc.nodes.filter((n: { state: string }) => n.state === 'drifted');
  assert.deepEqual(drifted.map((n: { path: string }) => n.path), ['web-2']);
  assert.deepEqual(drifted[0].tasks.map((t: { name: string; outcome: string }) => [t.name, t.outcome]), [['stamped', 'unmet'], ['marker written', 'already met']]);
  assert.equal(doc.summary.drifted, 1);

  const human = await cli(['plan', 'test', '--live', '--dir', dir]);
  assert.equal(human.code, 2, human.stderr);
  assert.match(human.stdout, /Live check on the hosts:/);
  assert.match(human.stdout, /web-2.*drifted/);
});
