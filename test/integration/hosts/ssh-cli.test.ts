/**
 * `politburo apply` as a real process reaching hosts the way an operator's OpenSSH would: the environment's
 * `ssh_config` (a file of the repository) and `jump`, the operator's `--ssh-config`, keys only in the ssh-agent of
 * SSH_AUTH_SOCK, no user anywhere in the description. The hosts are reachable only through the bastion.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { GitRepo } from '../../helpers/git-repo.js';
import { startAgent, startFleet, type Fleet } from '../../helpers/ssh-fleet.js';
import { keptConnections } from '../../../hosts/keeper-client.js';

const repoRoot = path.resolve(import.meta.dirname, '../../..');
let db: TestDatabase;
let fleet: Fleet;
let agent: { socket: string; stop(): Promise<void> };
let dir: string;
let home: string;
let operatorConfig: string;

before(async () => {
  db = await createTestDatabase();
  fleet = await startFleet({ inner: 3 });
  agent = await startAgent(fleet.dir, [fleet.privateKeyPath]);
  dir = await mkdtemp(path.join(os.tmpdir(), 'pb-ssh-cli-'));
  home = await mkdtemp(path.join(os.tmpdir(), 'pb-ssh-cli-home-'));
  const [a, b, c] = fleet.inner;
  const b0 = fleet.bastion;
  await mkdir(path.join(dir, 'ssh'));
  // The repository's ssh_config: which hosts go through the bastion, and where they are.
  await writeFile(
    path.join(dir, 'ssh', 'config'),
    [
      'Host web-* !web-none',
      '  ProxyJump bastion',
      'Host web-a',
      `  HostName ${a.address}`,
      'Host web-b',
      `  HostName ${b.address}`,
      `  Port ${b.port}`,
      '',
    ].join('\n'),
  );
  await writeFile(path.join(dir, 'known_hosts'), fleet.knownHosts);
  await writeFile(
    path.join(dir, 'politburo.yml'),
    `politburo: 1
environments:
  fleet:
    ssh_config: ssh/config
    known_hosts: known_hosts
    resources:
      web: { count: 2, tasks: [ { name: mark, met: 'test -f ~/mark-\${self.name}', meet: 'touch ~/mark-\${self.name}' } ] }
      db: { tasks: [ { name: mark, met: 'test -f ~/mark-db', meet: 'touch ~/mark-db' } ] }
    hosts:
      web: [web-a, web-b]
      db: { address: ${c.address}, port: ${c.port}, jump: 'bastion' }
`,
  );
  await (await GitRepo.init(dir)).commitAll('fleet');
  // The operator's own configuration: the bastion's address and the user for every host.
  operatorConfig = path.join(home, 'operator_ssh_config');
  await writeFile(
    operatorConfig,
    `Host bastion\n  HostName ${b0.address}\n  Port ${b0.port}\nHost *\n  User ${fleet.user}\n`,
  );
});
after(async () => {
  if (home) await keptConnections(path.join(home, 'keeper'), { close: true }).catch(() => null);
  await db?.drop();
  await agent?.stop();
  await fleet?.stop();
  await rm(dir, { recursive: true, force: true });
  await rm(home, { recursive: true, force: true });
});

function politburo(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    SSH_AUTH_SOCK: agent.socket,
    POLITBURO_SSH_PERSIST_DIR: path.join(home, 'keeper'),
  };
  delete env.POLITBURO_SSH_KEY;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(repoRoot, 'cli/bin.ts'),
        ...args,
        // `connections` reads no description and no state.
        ...(args[0] === 'connections' ? [] : ['--dir', dir, '--database-url', db.url]),
      ],
      { cwd: repoRoot, env },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('without --ssh-config the bastion is unknown (~/.ssh/config is absent): the nodes fail naming it', async () => {
  const r = await politburo('apply', 'fleet', '--json');
  assert.notEqual(r.code, 0);
  const result = JSON.parse(r.stdout) as { nodes: { path: string; state: string; reason: string | null }[] };
  for (const n of result.nodes) {
    assert.equal(n.state, 'failed', n.path);
    assert.match(
      n.reason ?? '',
      /via \S+@bastion:22: jump host \S+@bastion:22: the host name could not be resolved/,
      n.path,
    );
  }
});

test('apply through the bastion with ssh_config, --ssh-config and the agent: one bastion connection per run', async () => {
  const before = fleet.bastionConnections();
  const r = await politburo('apply', 'fleet', '--ssh-config', operatorConfig, '--json');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const result = JSON.parse(r.stdout) as { nodes: { path: string; state: string }[] };
  assert.deepEqual(
    result.nodes.map((n) => `${n.path} ${n.state}`).sort(),
    ['db ready', 'web-1 ready', 'web-2 ready'],
    r.stdout,
  );
  assert.deepEqual((await readdir(fleet.home)).filter((f) => f.startsWith('mark-')).sort(), [
    'mark-db',
    'mark-web-1',
    'mark-web-2',
  ]);
  assert.equal(fleet.bastionConnections() - before, 1, 'three hosts behind one bastion connection');
});

test('--ssh-persist: the next run uses the connections the last one kept; `connections --close` ends them', async () => {
  const persist = ['--ssh-config', operatorConfig, '--ssh-persist', '60s'];
  const first = await politburo('apply', 'fleet', '--all', ...persist, '--json');
  assert.equal(first.code, 0, first.stderr + first.stdout);
  const listed = await politburo('connections', '--json');
  assert.equal(listed.code, 0, listed.stderr);
  const kept = JSON.parse(listed.stdout) as { keeper: boolean; connections: { label: string; persistMs: number }[] };
  assert.equal(kept.keeper, true);
  assert.equal(kept.connections.length, 3, listed.stdout);
  assert.ok(kept.connections.every((c) => c.persistMs === 60_000));

  const before = fleet.bastionConnections();
  const second = await politburo('apply', 'fleet', '--all', ...persist, '--json');
  assert.equal(second.code, 0, second.stderr + second.stdout);
  const result = JSON.parse(second.stdout) as { nodes: { path: string; state: string }[] };
  assert.deepEqual(result.nodes.map((n) => `${n.path} ${n.state}`).sort(), ['db ready', 'web-1 ready', 'web-2 ready']);
  assert.equal(fleet.bastionConnections() - before, 0, 'no new connection: the kept ones carried the run');

  const closed = await politburo('connections', '--close');
  assert.equal(closed.code, 0, closed.stderr);
  assert.match(closed.stdout, /3 connections closed; the keeper has ended\./);
  assert.match((await politburo('connections')).stdout, /No connection keeper is running: nothing is kept\./);
  // Without --ssh-persist a run connects on its own again.
  const third = await politburo('apply', 'fleet', '--all', '--ssh-config', operatorConfig, '--json');
  assert.equal(third.code, 0, third.stderr + third.stdout);
  assert.equal(fleet.bastionConnections() - before, 1);
});

test('a bad --ssh-persist is a usage error saying what it takes', async () => {
  const r = await politburo('apply', 'fleet', '--ssh-persist', 'forever');
  assert.equal(r.code, 64, r.stderr);
  assert.match(r.stderr, /--ssh-persist: 'forever' is not a time to keep connections: use a duration such as '60s'/);
});
