/**
 * Privilege escalation (docs/language.md, "Privilege escalation") with a real sudo on real sshd hosts and on the local
 * host: NOPASSWD rules, a password from a secret (never on a command line, in a log or a result), a password rule
 * without a password, a wrong password, a become_user other than root who cannot read the SSH user's home, and a
 * timeout that kills what runs as root. Babushka is the stand-in (test/helpers/babushka/).
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHostConnector } from '../../../hosts/ssh-connector.js';
import { createLocalConnection } from '../../../hosts/local-connection.js';
import { hashDepsDir } from '../../../kernel/deps-hash.js';
import { runNodeTasks, type RunNodeTasksOptions } from '../../../reconciler/tasks/run-node-tasks.js';
import { generateDep } from '../../../reconciler/tasks/generated-dep.js';
import type {
  BabushkaTask,
  BecomeSpec,
  HostConnection,
  ResolvedNode,
  ShellTask,
  TaskResult,
  TaskSpec,
} from '../../../kernel/types.js';
import { liveProcesses, startSshHosts, type SshHosts } from '../../helpers/sshd.js';
import { sudoFixture, type SudoFixture } from '../../helpers/sudo.js';

const src = { file: 'politburo.yml', line: 1, column: 1 };
const ROOT: BecomeSpec = { method: 'sudo', user: 'root' };
const bab = (dep: string, args: Record<string, string>, become?: BecomeSpec): BabushkaTask => ({
  kind: 'babushka',
  name: dep,
  dep,
  args,
  source: src,
  ...(become ? { become } : {}),
});
const sh = (name: string, met: string, meet: string, become?: BecomeSpec): ShellTask => ({
  kind: 'shell',
  name,
  met,
  meet,
  source: src,
  ...(become ? { become } : {}),
});
const node = (tasks: TaskSpec[]): ResolvedNode => ({
  path: 'web',
  name: 'web',
  host: { kind: 'static', address: 'x', port: 22, user: 'u', source: src },
  tasks,
  dependsOn: [],
  source: src,
  specHash: 'h',
});
const outcomes = (rs: TaskResult[]) => rs.map((r) => [r.name, r.outcome]);

/** Deps recording who ran their met? and meet, and with which HOME. */
const DEPS = `
dep 'who am i', :out do
  met? {
    File.open(out.to_s + '.met', 'a') { |f| f.puts "#{Process.uid} #{ENV['HOME']}" }
    File.exist?(out.to_s)
  }
  meet { File.write(out.to_s, "#{Process.uid} #{ENV['HOME']}\\n") }
end

dep 'who am i too', :out do
  met? { File.exist?(out.to_s) }
  meet { File.write(out.to_s, "#{Process.uid} #{ENV['HOME']}\\n") }
end
`;

let env: SshHosts;
let sudo: SudoFixture;
let connector: ReturnType<typeof createHostConnector>;
let conn: HostConnection;
let user: string;
let home: string;
let localDeps: string;
let remoteDeps: string;
let scratch: string;

const ROOT_LOGS = '/root/.babushka/logs';

before(async () => {
  sudo = await sudoFixture();
  env = await startSshHosts(1);
  connector = createHostConnector({ privateKey: env.privateKey, knownHosts: [env.knownHosts] });
  const h = env.hosts[0];
  user = h.user;
  home = h.home;
  conn = await connector.connect({ kind: 'ssh', address: h.address, port: h.port, user: h.user });
  localDeps = await mkdtemp(path.join(os.tmpdir(), 'politburo-become-deps-'));
  await writeFile(path.join(localDeps, 'become.rb'), DEPS);
  remoteDeps = await conn.ensureDeps(localDeps, await hashDepsDir(localDeps));
});
after(async () => {
  await connector?.close();
  await env?.stop();
  await sudo?.cleanup();
  if (localDeps) await rm(localDeps, { recursive: true, force: true });
  // Babushka's logs of the deps run as root.
  // Babushka's logs of the deps this file ran as root (only those: other tests may be logging there too).
  const batch = generateDep([bab('who am i', { out: '' }), bab('who am i too', { out: '' })]).name;
  for (const name of ['who am i', 'who am i too', batch]) await rm(path.join(ROOT_LOGS, name), { force: true });
});
beforeEach(async () => {
  await sudo.cleanup();
  // Files the tasks write, writable by every user they run as.
  scratch = await mkdtemp(path.join(os.tmpdir(), 'politburo-become-out-'));
  await chmod(scratch, 0o777);
});

const run = (tasks: TaskSpec[], o: Partial<RunNodeTasksOptions> = {}, c: HostConnection = conn) =>
  runNodeTasks(c, node(tasks), { dryRun: false, remoteDepsDir: remoteDeps, timeoutMs: 60_000, secrets: {}, ...o });
const out = (name: string) => path.join(scratch, name);
const read = (name: string) => readFile(out(name), 'utf8');

describe('a NOPASSWD rule', () => {
  test('shell tasks and Babushka deps (met? and meet, alone and batched) run as root with root’s HOME', async () => {
    await sudo.allow(user, { nopasswd: true });
    const tasks = [
      sh('root shell', `test -s ${out('sh')}`, `{ id -u; echo "$HOME"; } > ${out('sh')}`, ROOT),
      bab('who am i', { out: out('one') }, ROOT),
      bab('who am i too', { out: out('two') }, ROOT),
      sh('plain', 'true', 'true'),
      bab('who am i', { out: out('alone') }, ROOT),
    ];
    const dry = await run(tasks, { dryRun: true });
    assert.deepEqual(
      outcomes(dry).slice(0, 3),
      [
        ['root shell', 'unmet'],
        ['who am i', 'unmet'],
        ['who am i too', 'unmet'],
      ],
      JSON.stringify(dry),
    );
    const logs: string[] = [];
    const rs = await run(tasks, { onLog: (t) => logs.push(t) });
    assert.deepEqual(
      outcomes(rs),
      [
        ['root shell', 'met'],
        ['who am i', 'met'],
        ['who am i too', 'met'],
        ['plain', 'already met'],
        ['who am i', 'met'],
      ],
      JSON.stringify(rs) + logs.join(''),
    );
    assert.equal(await read('sh'), '0\n/root\n');
    assert.equal(await read('one'), '0 /root\n');
    assert.equal(await read('two'), '0 /root\n');
    assert.equal(await read('alone'), '0 /root\n');
    assert.match(await read('one.met'), /^(0 \/root\n)+$/, 'met? ran as root too');
    // Babushka's own state is root's: its log is in root's home.
    assert.match(logs.join(''), /who am i/);
    assert.ok(await stat('/root/.babushka/logs/who am i').catch(() => null), 'babushka logged in /root/.babushka');
    assert.deepEqual(outcomes(await run(tasks)).slice(0, 3), [
      ['root shell', 'already met'],
      ['who am i', 'already met'],
      ['who am i too', 'already met'],
    ]);
  });

  test('a task over its timeout is killed, including what it started as root', async () => {
    await sudo.allow(user, { nopasswd: true });
    const rs = await run([sh('slow', 'false', 'sleep 41.5', ROOT), sh('after', 'true', 'true')], { timeoutMs: 1500 });
    assert.deepEqual(outcomes(rs), [
      ['slow', 'failed'],
      ['after', 'skipped'],
    ]);
    assert.equal((rs[0] as { reason?: string }).reason, 'TaskTimeout');
    const deadline = Date.now() + 30_000;
    while (liveProcesses(/^sleep 41\.5$/).length > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(liveProcesses(/^sleep 41\.5$/), [], 'the root sleep was killed');
  });
});

describe('cancelling', () => {
  test('a cancelled run stops what its task started as root', async () => {
    await sudo.allow(user, { nopasswd: true });
    const ac = new AbortController();
    const started = (async () => {
      while (liveProcesses(/^sleep 43\.5$/).length === 0) await new Promise((r) => setTimeout(r, 50));
      ac.abort();
    })();
    const rs = await run([sh('slow', 'false', 'sleep 43.5', ROOT)], { signal: ac.signal });
    await started;
    assert.deepEqual(outcomes(rs), [['slow', 'failed']]);
    assert.equal((rs[0] as { reason?: string }).reason, 'Interrupted');
    const deadline = Date.now() + 30_000;
    while (liveProcesses(/^sleep 43\.5$/).length > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(liveProcesses(/^sleep 43\.5$/), [], 'the root sleep was stopped');
  });
});

describe('a password rule', () => {
  const password = 'pw-for-sudo-5f2c9a';

  test('with become_password from a secret: runs as root; the password is in no command line, log or result', async () => {
    await sudo.setPassword(user, password);
    await sudo.allow(user, { nopasswd: false });
    const b: BecomeSpec = { ...ROOT, password: '${secret.sudo_pw}' };
    const logs: string[] = [];
    const seen = { sleep: false, leaks: [] as string[] };
    let running = true;
    const watch = (async () => {
      while (running) {
        seen.leaks.push(...liveProcesses(new RegExp(password)));
        if (liveProcesses(/^sleep 2\.7$/).length > 0) seen.sleep = true;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const rs = await run(
      [
        sh('slow as root', `test -s ${out('pw')}`, `sleep 2.7; { id -u; echo "$HOME"; } > ${out('pw')}`, b),
        bab('who am i', { out: out('bab') }, b),
        bab('who am i too', { out: out('bab2') }, b),
        sh('echo', 'false', 'echo "stdin: $(cat)"; exit 3', b),
      ],
      { secrets: { sudo_pw: password }, onLog: (t) => logs.push(t) },
    ).finally(() => (running = false));
    await watch;
    assert.deepEqual(outcomes(rs), [
      ['slow as root', 'met'],
      ['who am i', 'met'],
      ['who am i too', 'met'],
      ['echo', 'failed'],
    ]);
    assert.equal(await read('pw'), '0\n/root\n');
    assert.equal(await read('bab'), '0 /root\n');
    assert.ok(seen.sleep, 'the slow task was watched while it ran');
    assert.deepEqual(seen.leaks, [], 'no process had the password on its command line');
    // The escalated command's stdin is empty: it cannot read the password sudo was given.
    assert.match(rs[3].message!, /\nstdin:$/);
    const everything = JSON.stringify(rs) + logs.join('');
    assert.ok(!everything.includes(password), everything);
  });

  test('without a password: a clear failure, no hang', async () => {
    await sudo.setPassword(user, password);
    await sudo.allow(user, { nopasswd: false });
    const rs = await run([sh('needs root', 'false', 'true', ROOT), bab('who am i', { out: out('x') }, ROOT)]);
    assert.deepEqual(outcomes(rs), [
      ['needs root', 'failed'],
      ['who am i', 'skipped'],
    ]);
    assert.match(
      rs[0].message!,
      new RegExp(
        `^become: sudo on .* asks ${user} for a password and none was given: set \`become_password: \\$\\{secret\\.NAME\\}\` .* or give ${user} a NOPASSWD rule`,
      ),
    );
    const lone = await run([bab('who am i', { out: out('x') }, ROOT)]);
    assert.match(lone[0].message!, /asks .* for a password and none was given/);
  });

  test('a wrong password: a clear failure; a missing secret names it', async () => {
    await sudo.setPassword(user, password);
    await sudo.allow(user, { nopasswd: false });
    const b: BecomeSpec = { ...ROOT, password: '${secret.sudo_pw}' };
    const rs = await run([bab('who am i', { out: out('x') }, b), bab('who am i too', { out: out('y') }, b)], {
      secrets: { sudo_pw: 'not-the-password' },
    });
    assert.deepEqual(outcomes(rs), [
      ['who am i', 'failed'],
      ['who am i too', 'skipped'],
    ]);
    assert.match(rs[0].message!, new RegExp(`refused the password of become_password for ${user}`));
    assert.ok(!JSON.stringify(rs).includes('not-the-password'));
    const missing = await run([sh('t', 'false', 'true', b)]);
    assert.match(missing[0].message!, /^become_password: secret 'sudo_pw' is not set: set POLITBURO_SECRET_SUDO_PW/);
  });
});

describe('become_user other than root', () => {
  test('runs as that user with its HOME and its own copy of the deps, though it cannot read the SSH user’s home', async () => {
    const other = await sudo.addUser();
    await sudo.allow(user, { nopasswd: true, runAs: other.name });
    await chmod(home, 0o700);
    try {
      const b: BecomeSpec = { method: 'sudo', user: other.name };
      const rs = await run([
        sh('who', `test -s ${out('sh')}`, `{ id -un; echo "$HOME"; } > ${out('sh')}`, b),
        bab('who am i', { out: out('one') }, b),
        bab('who am i too', { out: out('two') }, b),
      ]);
      assert.deepEqual(
        outcomes(rs),
        [
          ['who', 'met'],
          ['who am i', 'met'],
          ['who am i too', 'met'],
        ],
        JSON.stringify(rs),
      );
      const uid = (await stat(other.home)).uid;
      assert.equal(await read('sh'), `${other.name}\n${other.home}\n`);
      assert.equal(await read('one'), `${uid} ${other.home}\n`);
      assert.equal(await read('two'), `${uid} ${other.home}\n`);
      const hash = path.basename(remoteDeps);
      const copy = await stat(path.join(other.home, '.politburo/deps', hash, 'babushka-deps/become.rb'));
      assert.equal(copy.uid, uid, 'the deps copy belongs to the become user');
      const logs = await readdir(path.join(other.home, '.babushka/logs'));
      assert.ok(
        logs.length > 0 && logs.every((f) => /^politburo node /.test(f)),
        "Babushka's state is the become user's",
      );
      assert.equal(await stat(path.join(home, '.babushka')).catch(() => null), null, 'and not the SSH user’s');
      // Root may not be become: the rule only allows the other user.
      const root = await run([sh('as root', 'false', 'true', ROOT)]);
      assert.match(root[0].message!, /become: sudo on .* asks .* for a password and none was given/);
      const unknown = await run([sh('nobody', 'false', 'true', { method: 'sudo', user: 'no-such-user-x' })]);
      assert.match(unknown[0].message!, /become: (become_user 'no-such-user-x' does not exist|sudo on .* asks)/);
    } finally {
      await chmod(home, 0o755);
    }
  });
});

describe('become_user with a password rule', () => {
  test('the deps are copied through sudo after the password line; the password stays out of every output', async () => {
    const password = 'pw-for-other-31c7e2';
    const other = await sudo.addUser();
    await sudo.setPassword(user, password);
    await sudo.allow(user, { nopasswd: false, runAs: other.name });
    await chmod(home, 0o700);
    try {
      const b: BecomeSpec = { method: 'sudo', user: other.name, password: '${secret.sudo_pw}' };
      const logs: string[] = [];
      const rs = await run([bab('who am i', { out: out('one') }, b), bab('who am i too', { out: out('two') }, b)], {
        secrets: { sudo_pw: password },
        onLog: (t) => logs.push(t),
      });
      assert.deepEqual(
        outcomes(rs),
        [
          ['who am i', 'met'],
          ['who am i too', 'met'],
        ],
        JSON.stringify(rs),
      );
      const uid = (await stat(other.home)).uid;
      assert.equal(await read('two'), `${uid} ${other.home}\n`);
      const copied = path.join(other.home, '.politburo/deps', path.basename(remoteDeps), 'babushka-deps/become.rb');
      assert.equal((await stat(copied)).uid, uid);
      assert.ok(!(JSON.stringify(rs) + logs.join('')).includes(password));
    } finally {
      await chmod(home, 0o755);
    }
  });
});

describe('the local host', () => {
  test('runs become tasks through sudo on this machine, as root or another user', async () => {
    const other = await sudo.addUser();
    const depsRoot = await mkdtemp(path.join(os.tmpdir(), 'politburo-become-local-'));
    try {
      const local = createLocalConnection({ depsRoot });
      const dir = await local.ensureDeps(localDeps, await hashDepsDir(localDeps));
      const rs = await run(
        [
          sh('as root', `test -s ${out('root')}`, `id -u > ${out('root')}`, ROOT),
          sh('as other', `test -s ${out('other')}`, `id -un > ${out('other')}`, { method: 'sudo', user: other.name }),
        ],
        { remoteDepsDir: dir },
        local,
      );
      assert.deepEqual(outcomes(rs), [
        ['as root', 'met'],
        ['as other', 'met'],
      ]);
      assert.equal(await read('root'), '0\n');
      assert.equal(await read('other'), `${other.name}\n`);
    } finally {
      await rm(depsRoot, { recursive: true, force: true });
    }
  });
});
