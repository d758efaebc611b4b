/**
 * On-demand hosts through the provider's exec scripts (which hand out sshd hosts from a pool): create, reuse, destroy.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { driftEnvironment, runLivePlan } from '../../../reconciler/drift-environment.js';
import type { PgStateStore } from '../../../store/pg-store.js';
import type { HostConnection } from '../../../kernel/types.js';
import type { SshHosts } from '../../helpers/sshd.js';
import {
  applyOnce,
  byPath,
  commitAll,
  engineInput,
  makeRepo,
  writeRepo,
  type RepoOptions,
  startEngineWorld,
  type EngineWorld,
} from '../../helpers/engine-harness.js';

let ssh: SshHosts;
let store: PgStateStore;
let conns: HostConnection[];
let world: EngineWorld | undefined;

before(async () => {
  world = await startEngineWorld(5);
  ({ ssh, store, conns } = world);
});
after(() => world?.close());

const PROVIDER = '    provider: { exec: { create: provision/create.sh, destroy: provision/destroy.sh } }\n';
/** Only the database is pre-allocated: web-1, web-2 and lb come from the provider. */
const repoOptions = (extra = ''): RepoOptions => ({
  hosts: { 'database/master': ssh.hosts[0], 'database/replica': ssh.hosts[1] } as RepoOptions['hosts'],
  knownHosts: [ssh.hosts[0].knownHostsLine, ssh.hosts[1].knownHostsLine].join('\n') + '\n',
  params: { web_seconds: '0' },
  extra: PROVIDER + extra,
});
const poolLines = (n: number) =>
  ssh.hosts
    .slice(2, 2 + n)
    .map((h) => `${h.address} ${h.port} ${h.user} ${h.hostPublicKey}`)
    .join('\n') + '\n';
const calls = async (dir: string) =>
  (await readFile(path.join(dir, 'provision/calls.log'), 'utf8').catch(() => '')).trim().split('\n').filter(Boolean);

test('on-demand hosts: created once (host keys from create trusted), addresses substituted, reused, destroyed on removal', async () => {
  await Promise.all(conns.map((c) => c.exec('rm -rf ~/state')));
  const opts = repoOptions();
  const dir = await makeRepo(opts);
  await writeFile(path.join(dir, 'provision/pool'), poolLines(3));
  const first = await applyOnce({ dir, store, privateKey: ssh.privateKey, knownHosts: [opts.knownHosts] });
  assert.equal(first.status, 'succeeded', JSON.stringify(first.nodes, null, 1));
  assert.deepEqual((await calls(dir)).sort(), ['create lb', 'create web-1', 'create web-2']);
  const r = byPath(first);
  const pooled = new Set(ssh.hosts.slice(2).map((h) => h.address));
  for (const p of ['web-1', 'web-2', 'lb']) assert.ok(pooled.has(r[p].host!), `${p} got a pool host`);
  // lb's backends are `${addresses(web)}`: the provisioned addresses, filled in at execution.
  const lbConn = conns[ssh.hosts.findIndex((h) => h.address === r.lb.host)];
  assert.match(
    (await lbConn.exec('cat ~/state/lb.args')).stdout,
    new RegExp(`\\|${r['web-1'].host},${r['web-2'].host}$`),
  );
  const recorded = Object.fromEntries((await store.recordedNodes(dir, 'test')).map((n) => [n.path, n]));
  assert.equal(recorded.lb.host, r.lb.host);
  assert.equal(recorded.lb.port, ssh.hosts.find((h) => h.address === r.lb.host)!.port);

  // The recorded address is reused: no second create, and the recorded host key is trusted again.
  const again = await applyOnce({ dir, store, privateKey: ssh.privateKey, knownHosts: [opts.knownHosts], all: true });
  assert.equal(again.status, 'succeeded', JSON.stringify(again.nodes, null, 1));
  assert.equal((await calls(dir)).length, 3);
  assert.ok(again.nodes.every((n) => n.tasks.every((t) => t.outcome === 'already met')));

  // lb removed from the description: terminated through the provider's destroy, with its address.
  await writeRepo(dir, repoOptions('    remove: [lb]\n'));
  await commitAll(dir, 'no lb');
  const removed = await applyOnce({ dir, store, privateKey: ssh.privateKey, knownHosts: [opts.knownHosts] });
  assert.deepEqual(
    removed.nodes.map((n) => [n.path, n.action, n.state]),
    [['lb', 'terminate', 'terminated']],
  );
  assert.ok((await calls(dir)).includes(`destroy lb ${r.lb.host}`));
  assert.ok(!(await store.recordedNodes(dir, 'test')).some((n) => n.path === 'lb'));
});

test('provided host keys are recorded: a later update, drift and live plan reach the hosts without them in known_hosts', async () => {
  await Promise.all(conns.map((c) => c.exec('rm -rf ~/state')));
  const opts = repoOptions();
  const dir = await makeRepo(opts);
  await writeFile(path.join(dir, 'provision/pool'), poolLines(3));
  const pinned = { dir, store, privateKey: ssh.privateKey, knownHosts: [opts.knownHosts] }; // database hosts only
  const first = await applyOnce(pinned);
  assert.equal(first.status, 'succeeded', JSON.stringify(first.nodes, null, 1));
  const recorded = Object.fromEntries((await store.recordedNodes(dir, 'test')).map((n) => [n.path, n]));
  for (const p of ['web-1', 'web-2', 'lb']) {
    const h = ssh.hosts.find((x) => x.address === recorded[p].host && x.port === recorded[p].port)!;
    assert.equal(recorded[p].hostKey, `[${h.address}]:${h.port} ${h.hostPublicKey}`, `${p}'s provided key is recorded`);
  }
  assert.equal(recorded['database/master'].hostKey, undefined, 'pre-allocated hosts have no recorded key');

  // An argument of web changes: both web nodes are updated on their recorded hosts, with no second create.
  await writeRepo(dir, { ...opts, params: { web_seconds: '0', app_ref: 'v2' } });
  await commitAll(dir, 'v2');
  const updated = await applyOnce(pinned);
  assert.equal(updated.status, 'succeeded', JSON.stringify(updated.nodes, null, 1));
  assert.equal((await calls(dir)).length, 3);
  const u = byPath(updated);
  for (const p of ['web-1', 'web-2']) {
    assert.deepEqual([u[p].action, u[p].state, u[p].host], ['update', 'ready', recorded[p].host]);
    assert.equal(u[p].tasks.find((t) => t.name === 'stamped')?.outcome, 'met');
  }
  const web1 =
    conns[ssh.hosts.findIndex((h) => h.address === recorded['web-1'].host && h.port === recorded['web-1'].port)];
  assert.match((await web1.exec('cat ~/state/web.args')).stdout, /v2/);

  // Drift and a live plan connect through the recorded keys as well.
  const drift = await engineInput(pinned);
  const drifted = await driftEnvironment({ ...drift.input, heal: false }).finally(drift.close);
  assert.equal(drifted.status, 'succeeded', JSON.stringify(drifted.nodes, null, 1));
  assert.deepEqual(drifted.summary, { ready: 5, drifted: 0, failed: 0, blocked: 0 });
  const live = await engineInput(pinned);
  const planned = await runLivePlan(live.input).finally(live.close);
  assert.ok(
    planned.result.nodes.every((n) => n.state === 'ready'),
    JSON.stringify(planned.result.nodes, null, 1),
  );
});

test('a failing create fails the node with ProvisionFailed and the script stderr; dependents are blocked', async () => {
  const dir = await makeRepo(repoOptions());
  await writeFile(path.join(dir, 'provision/pool'), poolLines(2));
  const result = await applyOnce({ dir, store, privateKey: ssh.privateKey, knownHosts: [repoOptions().knownHosts] });
  const failed = result.nodes.filter((n) => n.state === 'failed');
  assert.equal(failed.length, 1);
  assert.match(
    failed[0].reason!,
    /^ProvisionFailed: provider script provision\/create\.sh for \S+ exited with status 3: no free host left/,
  );
  if (failed[0].path !== 'lb') assert.equal(byPath(result).lb.state, 'blocked');
  assert.equal(result.status, 'failed');
});
