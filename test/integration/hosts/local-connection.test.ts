/** The `local` host: commands on this machine behind the HostConnection interface. */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLocalConnection, execLocal } from '../../../hosts/local-connection.js';
import { createHostConnector } from '../../../hosts/ssh-connector.js';
import { hashDepsDir } from '../../../kernel/deps-hash.js';
import { runNodeTasks } from '../../../reconciler/tasks/run-node-tasks.js';
import { PolitburoError } from '../../../kernel/types.js';
import { fixtureDepsDir, liveProcesses, realBabushka } from '../../helpers/sshd.js';

test('exec: output, exit code, stdin', async () => {
  const conn = createLocalConnection();
  assert.equal(conn.address, 'local');
  assert.deepEqual(await conn.exec('echo out; echo err >&2; exit 5'), {
    code: 5,
    stdout: 'out\n',
    stderr: 'err\n',
    timedOut: false,
  });
  assert.equal((await execLocal('wc -c', { stdin: 'abc' })).stdout.trim(), '3');
});

test('a timeout kills the command and what it started', async () => {
  const r = await execLocal('sleep 33.25 & sleep 33.5; echo never', { timeoutMs: 300 });
  assert.equal(r.timedOut, true);
  assert.equal(r.code, null);
  assert.equal(r.stdout, '', 'the command did not run to its end');
  // Gone well before they would have ended by themselves (33 s), however busy the machine.
  for (let i = 0; i < 100 && liveProcesses(/^sleep 33\./).length; i++) await new Promise((res) => setTimeout(res, 100));
  assert.deepEqual(liveProcesses(/^sleep 33\./), []);
});

test('abort rejects with Interrupted', async () => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  await assert.rejects(
    execLocal('sleep 5', { signal: ac.signal }),
    (e: unknown) => e instanceof PolitburoError && e.reason === 'Interrupted',
  );
});

test('ensureDeps copies once per content', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'local-deps-'));
  try {
    const conn = createLocalConnection({ depsRoot: root });
    const hash = await hashDepsDir(fixtureDepsDir);
    const [a, b] = await Promise.all([conn.ensureDeps(fixtureDepsDir, hash), conn.ensureDeps(fixtureDepsDir, hash)]);
    assert.equal(a, path.join(root, hash));
    assert.equal(b, a);
    assert.deepEqual((await readdir(path.join(a, 'babushka-deps'))).sort(), ['app.rb', 'web.rb']);
    assert.equal(await createLocalConnection({ depsRoot: root }).ensureDeps(fixtureDepsDir, hash), a);
    assert.deepEqual(await readdir(root), [hash]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('the connector gives one local connection; shell tasks run through it', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'local-tasks-'));
  const c = createHostConnector({ knownHosts: [] });
  try {
    const conn = await c.connect({ kind: 'local' });
    assert.equal(await c.connect({ kind: 'local' }), conn);
    assert.deepEqual(c.stats().connections, { local: 1 });
    const src = { file: 'f', line: 1, column: 1 };
    const file = path.join(dir, 'flag');
    const node = {
      path: 'ctl',
      name: 'ctl',
      host: { kind: 'local' as const, source: src },
      tasks: [
        { kind: 'shell' as const, name: 'flag', met: `test -f ${file}`, meet: `echo set > ${file}`, source: src },
      ],
      dependsOn: [],
      source: src,
      specHash: 'h',
    };
    const opts = { dryRun: false, remoteDepsDir: null, timeoutMs: 5000, secrets: {} };
    assert.equal((await runNodeTasks(conn, node, opts))[0].outcome, 'met');
    assert.equal(await readFile(file, 'utf8'), 'set\n');
    assert.equal((await runNodeTasks(conn, node, opts))[0].outcome, 'already met');
  } finally {
    await c.close();
    await rm(dir, { recursive: true, force: true });
  }
});

describe('babushka tasks on the local host follow its PATH', () => {
  const src = { file: 'f', line: 1, column: 1 };
  const node = (dep: string) => ({
    path: 'ctl',
    name: 'ctl',
    host: { kind: 'local' as const, source: src },
    tasks: [{ kind: 'babushka' as const, name: dep, dep, args: {}, source: src }],
    dependsOn: [],
    source: src,
    specHash: 'h',
  });
  const opts = (remoteDepsDir: string) => ({ dryRun: false, remoteDepsDir, timeoutMs: 30_000, secrets: {} });
  let home: string;
  let savedPath: string | undefined;
  let savedHome: string | undefined;
  beforeEach(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'local-babushka-'));
    [savedPath, savedHome] = [process.env.PATH, process.env.HOME];
  });
  afterEach(async () => {
    [process.env.PATH, process.env.HOME] = [savedPath, savedHome];
    await rm(home, { recursive: true, force: true });
  });

  test('a host without babushka on its PATH: the task says so', async () => {
    // Whatever this machine has installed: every PATH entry holding a `babushka` is left out.
    process.env.PATH = (savedPath ?? '')
      .split(':')
      .filter((d) => d && !existsSync(path.join(d, 'babushka')))
      .join(':');
    const r = await runNodeTasks(createLocalConnection(), node('base'), opts(home));
    assert.equal(r[0].outcome, 'failed');
    assert.match(r[0].message!, /babushka is not installed on the host/);
  });

  test('with a babushka first on its PATH, a real dep is met and then already met', async (t) => {
    const babushka = realBabushka();
    t.diagnostic(babushka.note);
    process.env.PATH = `${babushka.bin}:${savedPath}`;
    process.env.HOME = home; // the deps write ~/state, and Babushka its ~/.babushka
    const depsRoot = path.join(home, 'deps');
    const conn = createLocalConnection({ depsRoot });
    const deps = await conn.ensureDeps(fixtureDepsDir, await hashDepsDir(fixtureDepsDir));
    const first = await runNodeTasks(conn, node('base'), opts(deps));
    assert.equal(first[0].outcome, 'met', JSON.stringify(first));
    assert.equal(await readFile(path.join(home, 'state', 'base'), 'utf8'), 'ok');
    assert.equal((await runNodeTasks(conn, node('base'), opts(deps)))[0].outcome, 'already met');
    const failing = await runNodeTasks(conn, node('always fails'), opts(deps));
    assert.equal(failing[0].outcome, 'failed');
    assert.match(failing[0].message!, /babushka stopped with an error while meeting 'always fails'/);
    assert.match(failing[0].message!, /boom: disk on fire/);
  });
});
