/**
 * Hosts that cannot be reached or trusted, tasks that hang, and Ctrl-C: failures are recorded truthfully and block only
 * dependents.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyEnvironment } from '../../../reconciler/apply-environment.js';
import type { PgStateStore } from '../../../store/pg-store.js';
import type { HostConnection, RunEvent } from '../../../kernel/types.js';
import type { TestDatabase } from '../../helpers/db.js';
import { refusingPort, silentServer, wrongKnownHostsLine, type SshHosts } from '../../helpers/sshd.js';
import {
  applyOnce,
  byPath,
  engineInput,
  makeRepo,
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
beforeEach(async () => {
  await Promise.all(conns.map((c) => c.exec('rm -rf ~/state ~/break')));
});

const hosts = (over: Partial<RepoOptions['hosts']> = {}): RepoOptions['hosts'] => ({
  'database/master': ssh.hosts[0],
  'database/replica': ssh.hosts[1],
  web: [ssh.hosts[2], ssh.hosts[3]],
  lb: ssh.hosts[4],
  ...over,
});

test('unreachable hosts (refused port, port that never answers) fail with HostUnreachable; lb is blocked', async () => {
  const refused = await refusingPort();
  const silent = await silentServer();
  try {
    const user = ssh.hosts[2].user;
    const dir = await makeRepo({
      hosts: hosts({
        web: [
          { ...refused, user },
          { ...silent, user },
        ],
      }),
      knownHosts: ssh.knownHosts,
    });
    // The silent port needs a connect timeout to fail at all; one short enough to keep the test quick, long enough for
    // the real hosts' handshakes on a busy machine.
    const connector = { connectTimeoutMs: 8000 };
    const r = byPath(
      await applyOnce({ dir, store, privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts], connector }),
    );
    assert.match(r['web-1'].reason!, /^HostUnreachable: .*connection refused/);
    assert.match(r['web-2'].reason!, /^HostUnreachable: .*no SSH answer within 8s/);
    assert.deepEqual(
      r['web-1'].tasks.map((t) => t.outcome),
      ['skipped', 'skipped'],
    );
    assert.equal(r.lb.state, 'blocked');
    assert.match(r.lb.reason!, /^depends on web-1, which failed|^depends on web-2, which failed/);
    assert.equal(r['database/replica'].state, 'ready', 'independent nodes carry on');
  } finally {
    await silent.close();
  }
});

test('a wrong host key is refused and nothing runs on that host; everything depending on it is blocked', async () => {
  const h = ssh.hosts[0];
  const wrong = await wrongKnownHostsLine(h.address, h.port);
  const knownHosts = ssh.knownHosts
    .split('\n')
    .map((l) => (l.startsWith(`[${h.address}]:${h.port} `) ? wrong : l))
    .join('\n');
  const dir = await makeRepo({ hosts: hosts(), knownHosts });
  const r = byPath(await applyOnce({ dir, store, privateKey: ssh.privateKey, knownHosts: [knownHosts] }));
  assert.equal(r['database/master'].state, 'failed');
  assert.match(r['database/master'].reason!, /^HostKeyMismatch: /);
  for (const p of ['database/replica', 'web-1', 'web-2'])
    assert.equal(r[p].reason, 'depends on database/master, which failed');
  assert.equal(r.lb.reason, 'depends on web-1, which is blocked (database/master failed)');
  assert.equal((await conns[0].exec('test -e ~/state')).code, 1, 'nothing ran on the host');
});

test('a task that hangs past its timeout fails with TaskTimeout', async () => {
  // 4s leaves the other tasks room on a loaded machine; the webs' sleep of 30s never fits.
  const dir = await makeRepo({
    hosts: hosts(),
    knownHosts: ssh.knownHosts,
    timeout: '4s',
    params: { web_seconds: '30' },
  });
  const r = byPath(await applyOnce({ dir, store, privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] }));
  assert.match(r['web-1'].reason!, /^TaskTimeout: task 'stamped' failed: task 'stamped' exceeded the timeout of 4s/);
  assert.equal(r.lb.state, 'blocked');
  assert.equal(r['database/master'].state, 'ready');
});

test('Ctrl-C: nothing new starts, running tasks are stopped after the grace period, the rest keeps its state', async () => {
  const dir = await makeRepo({ hosts: hosts(), knownHosts: ssh.knownHosts, params: { web_seconds: '20' } });
  const abort = new AbortController();
  const events: RunEvent[] = [];
  const { input, close } = await engineInput({
    dir,
    store,
    privateKey: ssh.privateKey,
    knownHosts: [ssh.knownHosts],
    signal: abort.signal,
  });
  input.graceMs = 300;
  input.onEvent = (e) => {
    events.push(e);
    if (e.type === 'task-started' && e.path === 'web-1') setTimeout(() => abort.abort(), 200);
  };
  const result = await applyEnvironment(input).finally(close);
  assert.equal(result.status, 'cancelled');
  const r = byPath(result);
  assert.equal(r['database/master'].state, 'ready');
  assert.equal(r['web-1'].state, 'failed');
  assert.match(r['web-1'].reason!, /^Interrupted/);
  assert.equal(r.lb.state, 'defined', 'never started: keeps its (absent) recorded state');
  assert.match(r.lb.reason!, /^Interrupted/);
  assert.ok(!events.some((e) => e.type === 'node-started' && e.path === 'lb'));
  const recorded = Object.fromEntries((await store.recordedNodes(dir, 'test')).map((n) => [n.path, n.state]));
  assert.equal(recorded.lb, undefined);
  assert.equal(recorded['web-1'], 'failed');
  assert.equal((await store.getRun(result.runId!))!.status, 'cancelled');
});

test('applies of one environment never overlap: the second waits for the first', async () => {
  const dir = await makeRepo({ hosts: hosts(), knownHosts: ssh.knownHosts });
  const logs: string[] = [];
  const a = engineInput({ dir, store, privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] });
  const b = engineInput({ dir, store, privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] });
  const [ia, ib] = await Promise.all([a, b]);
  ib.input.log = (l) => logs.push(l);
  const first = applyEnvironment(ia.input);
  await new Promise((r) => setTimeout(r, 100));
  const second = applyEnvironment(ib.input);
  const [r1, r2] = await Promise.all([first, second]);
  await Promise.all([ia.close(), ib.close()]);
  assert.equal(r1.nodes.length, 5);
  assert.equal(r2.nodes.length, 0, 'the second apply planned after the first recorded everything');
  assert.ok(logs.some((l) => /another run of test is in progress/.test(l)));
});

test(
  'Ctrl-C on `politburo apply`: exits non-zero, the run is recorded cancelled, never-started nodes untouched',
  { timeout: 90_000 },
  async () => {
    const { spawn } = await import('node:child_process');
    const { repoRoot } = await import('../../helpers/engine-harness.js');
    const dir = await makeRepo({ hosts: hosts(), knownHosts: ssh.knownHosts, params: { web_seconds: '30' } });
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        `${repoRoot}/cli/bin.ts`,
        'apply',
        'test',
        '--dir',
        dir,
        '--json',
        '--ssh-key',
        ssh.privateKeyPath,
        '--database-url',
        db.url,
      ],
      { cwd: repoRoot },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Wait until web-1's task is running on its host (--json prints no progress on a non-terminal stderr).
    while ((await conns[2].exec('test -e ~/state/web.start')).code !== 0) {
      assert.equal(child.exitCode, null, stderr);
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    assert.equal(code, 1, stderr);
    assert.match(stderr, /interrupted: starting nothing new/);
    const doc = JSON.parse(stdout);
    assert.equal(doc.status, 'cancelled');
    const lb = doc.nodes.find((n: { path: string }) => n.path === 'lb');
    assert.equal(lb.state, 'defined');
    assert.match(lb.reason, /^Interrupted/);
    assert.match(doc.nodes.find((n: { path: string }) => n.path === 'web-1').reason, /^Interrupted/);
    const runs = await store.listRuns({ repository: dir });
    assert.equal(runs[0].status, 'cancelled');
  },
);
