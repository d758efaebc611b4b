/**
 * The real Babushka lane: applies and a drift check through the engine on real sshd hosts whose `babushka` is the real
 * Babushka 0.19.2 (POLITBURO_BABUSHKA_BIN, or the copy CI places beside the checkout), checking the results read from
 * its output; then
 * the same scenario on the stand-in must give the same results. Then the two compared line by line (stdout and stderr
 * apart) and through the engine on failures. Without the real one beside the repository, the lane runs on the stand-in
 * and says so in its output.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { applyEnvironment } from '../../../reconciler/apply-environment.js';
import { createHostConnector } from '../../../hosts/ssh-connector.js';
import { driftEnvironment } from '../../../reconciler/drift-environment.js';
import { hashDepsDir } from '../../../kernel/deps-hash.js';
import { runNodeTasks } from '../../../reconciler/tasks/run-node-tasks.js';
import type { BabushkaTask, ResolvedNode, RunResult, TaskResult } from '../../../kernel/types.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { fixtureDepsDir, realBabushka, standInBin, startSshHosts, type SshHosts } from '../../helpers/sshd.js';
import { loadTranscripts, standInInstallDir, substitute } from '../../helpers/babushka/transcripts.js';
import { commitAll, engineInput, hostYaml, storeFor } from '../../helpers/engine-harness.js';
import { GitRepo } from '../../helpers/git-repo.js';

const babushka = realBabushka();
let db: TestDatabase;
let store: ReturnType<typeof storeFor>;

before(async () => {
  db = await createTestDatabase();
  store = storeFor(db.url);
});
after(async () => {
  await store?.close();
  await db?.drop();
});

/**
 * Three nodes on three hosts: a dep met through what it requires, a batch whose second dep raises, an unmeetable dep.
 */
function description(ssh: SshHosts, ref: string): string {
  const [app, broken, stubborn] = ssh.hosts;
  return `politburo: 1
defaults: { timeout: 60s }
roles:
  app: { tasks: [ { babushka: 'app deployed', args: { ref: '\${params.ref}' } } ] }
  broken: { tasks: [ { babushka: base }, { babushka: 'always fails' } ] }
  stubborn: { tasks: [ { babushka: unmeetable } ] }
blueprints:
  lane:
    params: { ref: v1 }
    resources:
      app: { roles: [app] }
      broken: { roles: [broken] }
      stubborn: { roles: [stubborn] }
environments:
  test:
    blueprint: lane
    params: { ref: ${ref} }
    hosts: { app: ${hostYaml(app)}, broken: ${hostYaml(broken)}, stubborn: ${hostYaml(stubborn)} }
    known_hosts: known_hosts
`;
}

/** What a run says of each node and task (paths and timings left out, so two Babushkas can be compared). */
function outcomes(r: RunResult): Record<string, string[]> {
  return Object.fromEntries(r.nodes.map((n) => [n.path, [n.state, ...n.tasks.map((t) => `${t.name}: ${t.outcome}`)]]));
}

/** The scenario on hosts whose PATH leads to `bin`; returns every run's outcomes and checks what both must say. */
async function lane(bin: string): Promise<Record<string, Record<string, string[]>>> {
  const ssh = await startSshHosts(3, { babushkaBin: bin });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pb-real-babushka-'));
  const admin = createHostConnector({ privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] });
  try {
    const appHost = ssh.hosts[0];
    const appConn = await admin.connect({
      kind: 'ssh',
      address: appHost.address,
      port: appHost.port,
      user: appHost.user,
    });
    assert.equal((await appConn.exec('babushka --version')).stdout.trim(), '0.19.2');
    await cp(fixtureDepsDir, path.join(dir, 'babushka-deps'), { recursive: true });
    await writeFile(path.join(dir, 'known_hosts'), ssh.knownHosts);
    await writeFile(path.join(dir, 'politburo.yml'), description(ssh, 'v1'));
    await (await GitRepo.init(dir)).commitAll('v1');
    const o = { dir, store: store.store, privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] };
    const apply = async (all = false) => {
      const { input, close } = await engineInput({ ...o, all });
      return applyEnvironment(input).finally(close);
    };
    const drift = async () => {
      const { input, close } = await engineInput(o);
      return driftEnvironment({ ...input, heal: false }).finally(close);
    };

    const first = await apply();
    const broken = first.nodes.find((n) => n.path === 'broken')!;
    assert.match(
      broken.tasks[1].message ?? '',
      /boom: disk on fire/,
      'the exception of the failing dep is in its message',
    );
    const stubborn = first.nodes.find((n) => n.path === 'stubborn')!;
    assert.match(stubborn.tasks[0].message ?? '', /'unmeetable' could not be met/);
    assert.equal((await appConn.exec('cat ~/state/app')).stdout, 'v1', 'the dep really ran on the host');
    const again = await apply(true);
    const clean = await drift();
    await appConn.exec('printf v0 > ~/state/app'); // a hand-made change on the host
    const drifted = await drift();
    await writeFile(path.join(dir, 'politburo.yml'), description(ssh, 'v2'));
    await commitAll(dir, 'v2');
    const updated = await apply();
    assert.equal((await appConn.exec('cat ~/state/app')).stdout, 'v2');
    return {
      first: outcomes(first),
      again: outcomes(again),
      clean: outcomes(clean),
      drifted: { ...outcomes(drifted), reason: [drifted.nodes.find((n) => n.path === 'app')?.reason ?? ''] },
      updated: outcomes(updated),
    };
  } finally {
    await admin.close();
    await ssh.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

let real: Awaited<ReturnType<typeof lane>> | undefined;

test('apply and drift on the real Babushka: met, unmet then met, failed, drifted, read from its own output', async (t) => {
  t.diagnostic(babushka.note);
  real = await lane(babushka.bin);
  assert.deepEqual(real.first, {
    app: ['ready', 'app deployed: met'],
    broken: ['failed', 'base: met', 'always fails: failed'],
    stubborn: ['failed', 'unmeetable: failed'],
  });
  assert.deepEqual(real.again.app, ['ready', 'app deployed: already met']);
  assert.deepEqual(real.again.broken, ['failed', 'base: already met', 'always fails: failed']);
  assert.deepEqual(real.clean.app, ['ready', 'app deployed: already met'], 'a dry run on an untouched host: no drift');
  assert.deepEqual(real.drifted.app, ['drifted', 'app deployed: unmet']);
  assert.match(real.drifted.reason[0], /app deployed/);
  assert.deepEqual(real.updated.app, ['ready', 'app deployed: met'], 'a changed argument: unmet, then met');
});

test('the stand-in gives the same results as the real Babushka', async (t) => {
  if (!babushka.real) t.diagnostic(`${babushka.note}: this comparison is of the stand-in with itself`);
  real ??= await lane(babushka.bin);
  assert.deepEqual(await lane(standInBin), real);
});

test("docs/babushka.md's transcripts, byte for byte, on the Babushka of this lane", async (t) => {
  t.diagnostic(babushka.note);
  const ssh = await startSshHosts(1, { babushkaBin: babushka.bin });
  const h = ssh.hosts[0];
  const admin = createHostConnector({ privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] });
  try {
    const conn = await admin.connect({ kind: 'ssh', address: h.address, port: h.port, user: h.user });
    const deps = await conn.ensureDeps(fixtureDepsDir, await hashDepsDir(fixtureDepsDir));
    const up = await conn.exec(`cp -R ${deps} ~/work`); // the transcripts print ~/work/babushka-deps/...
    assert.equal(up.code, 0, up.stderr);
    const installDir = babushka.real
      ? realpathSync(path.join(babushka.bin, '..', 'babushka'))
      : realpathSync(standInInstallDir);
    for (const transcript of loadTranscripts()) {
      // The transcripts are what a terminal shows: stdout and stderr together (the real one writes the exception, the
      // detailed log line and an undefined dep's line on stderr).
      const r = await conn.exec(`cd ~/work && ${transcript.command} 2>&1`);
      assert.equal(r.stdout, substitute(transcript.output, h.home, installDir), `output of: ${transcript.command}`);
      assert.equal(r.code, transcript.exitStatus, `exit status of: ${transcript.command}`);
    }
  } finally {
    await admin.close();
    await ssh.stop();
  }
});

test('a method a deps file defines with def is not callable from its deps; a lambda is (both Babushkas)', async (t) => {
  t.diagnostic(babushka.note);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pb-babushka-def-'));
  try {
    await cp(fixtureDepsDir, path.join(dir, 'babushka-deps'), { recursive: true }); // not needed by the deps below; a realistic directory
    await writeFile(
      path.join(dir, 'babushka-deps', 'helpers.rb'),
      "def helper_def = 'from def'\nhelper_lambda = -> { 'from lambda' }\n" +
        "dep 'uses def' do\n  met? { log helper_def; true }\nend\n" +
        "dep 'uses lambda' do\n  met? { log helper_lambda.(); true }\nend\n",
    );
    const meet = (bin: string, dep: string) => meetHere(bin, dir, [dep]);
    for (const bin of new Set([babushka.bin, standInBin])) {
      const viaDef = await meet(bin, 'uses def');
      assert.match(viaDef.out, /undefined (local variable or )?method `helper_def'/, `${bin}: ${viaDef.out}`);
      assert.doesNotMatch(viaDef.out, /from def/);
      const viaLambda = await meet(bin, 'uses lambda');
      assert.equal(viaLambda.out, 'uses lambda {\n  from lambda\n} \u2713 uses lambda\n', bin);
      assert.equal(viaLambda.code, 0);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** `babushka meet ARGS --defaults --no-color` on this machine in `dir` (HOME too), with `bin` first on the PATH. */
function meetHere(bin: string, dir: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, HOME: dir, PATH: `${bin}:${process.env.PATH}` };
    execFile('babushka', ['meet', ...args, '--defaults', '--no-color'], { cwd: dir, env }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

test('parameters: a .default answered by --defaults prints its prompt, given values do not; a log line loses trailing spaces', async (t) => {
  t.diagnostic(babushka.note);
  const outputs = new Map<string, string[]>();
  for (const bin of new Set([babushka.bin, standInBin])) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pb-babushka-params-'));
    try {
      await cp(fixtureDepsDir, path.join(dir, 'babushka-deps'), { recursive: true });
      const runs = [['echo args', 'other=x'], ['echo args', 'value=a', 'other=b'], ['echo args']];
      const outs: string[] = [];
      for (const args of runs) outs.push((await meetHere(bin, dir, args)).out);
      outputs.set(bin, outs);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const stand = outputs.get(standInBin)!;
  assert.deepEqual(stand, [
    'echo args {\n  meet {\n    value [].\n    got\n  }\n} \u2713 echo args\n',
    'echo args {\n  meet {\n    got a\n  }\n} \u2713 echo args\n',
    // The state of the run before exists: met? reads value (its prompt at the dep's level) and fails, meet reads other.
    'echo args {\n  value [].\n  meet {\n    other [].\n    got\n  }\n} \u2713 echo args\n',
  ]);
  assert.deepEqual(outputs.get(babushka.bin), stand, 'the real one prints the same');
});

const src = { file: 'politburo.yml', line: 1, column: 1 };
const bab = (dep: string): BabushkaTask => ({ kind: 'babushka', name: dep, dep, args: {}, source: src });
const nodeBase: ResolvedNode = {
  path: 'n',
  name: 'n',
  index: 1,
  host: { kind: 'static', address: 'x', port: 22, user: 'u', source: src },
  tasks: [],
  dependsOn: [],
  source: src,
  specHash: 'h',
};

/**
 * Through the engine, alone (the dep run directly) and after a met dep (a generated dep), on hosts whose PATH leads to
 * `bin`: an undefined dep and a dep that raises, alone
 * and after a met dep. Messages with the host's home, the deps directory and Babushka's install directory made
 * symbolic.
 */
async function failures(bin: string, installDir: string): Promise<Record<string, string[][]>> {
  const ssh = await startSshHosts(1, { babushkaBin: bin });
  const h = ssh.hosts[0];
  const admin = createHostConnector({ privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] });
  try {
    const conn = await admin.connect({ kind: 'ssh', address: h.address, port: h.port, user: h.user });
    const depsDir = await conn.ensureDeps(fixtureDepsDir, await hashDepsDir(fixtureDepsDir));
    const symbolic = (m: string) =>
      m.split(depsDir).join('DEPS').split(installDir).join('BABUSHKA').split(h.home).join('~');
    const result: Record<string, string[][]> = {};
    const runs: string[][] = [
      ['nope'],
      ['always fails'],
      ['base', 'nope'],
      ['base', 'always fails'],
      ['base', 'shell fails'],
    ];
    for (const deps of runs) {
      await conn.exec('rm -rf ~/state ~/.babushka/logs');
      const node: ResolvedNode = { ...nodeBase, tasks: deps.map(bab) };
      const rs: TaskResult[] = await runNodeTasks(conn, node, {
        dryRun: false,
        remoteDepsDir: depsDir,
        timeoutMs: 60_000,
        secrets: {},
      });
      result[deps.join(', ')] = rs.map((r) => [r.name, r.outcome, symbolic(r.message ?? '')]);
    }
    return result;
  } finally {
    await admin.close();
    await ssh.stop();
  }
}

test('an undefined dep and a dep that raises fail with the same messages through the engine on both Babushkas', async (t) => {
  t.diagnostic(babushka.note);
  const realInstall = babushka.real
    ? realpathSync(path.join(babushka.bin, '..', 'babushka'))
    : realpathSync(standInInstallDir);
  const onReal = await failures(babushka.bin, realInstall);
  for (const [key, rs] of Object.entries(onReal)) {
    const last = rs[rs.length - 1];
    assert.equal(last[1], 'failed', key);
    if (key.endsWith('nope')) assert.match(last[2], /^dep 'nope' isn't defined in the deps directory\n/, key);
    if (key.endsWith('always fails'))
      assert.match(last[2], /web\.rb:14:in `block \(2 levels\) in <top \(required\)>': boom: disk on fire/, key);
    if (key.endsWith('shell fails'))
      assert.match(last[2], /BABUSHKA\/lib\/babushka\/shell\.rb:53:in `run': Shell command failed: 'exit 3'/, key);
    if (rs.length === 2) assert.deepEqual(rs[0].slice(0, 2), ['base', 'met'], key);
  }
  assert.deepEqual(
    await failures(standInBin, realpathSync(standInInstallDir)),
    onReal,
    'the stand-in gives the same messages',
  );
});

/** `command` through sh on this machine in `dir` (HOME too), with `bin` first on the PATH: each stream apart. */
function runHere(bin: string, dir: string, command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, HOME: dir, PATH: `${bin}:${process.env.PATH}` };
    execFile('sh', ['-c', command], { cwd: dir, env }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('each line of the transcripts on the stream the real Babushka writes it to: the stand-in writes the same stdout and stderr', async (t) => {
  t.diagnostic(babushka.note);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pb-babushka-streams-'));
  const realInstall = babushka.real
    ? realpathSync(path.join(babushka.bin, '..', 'babushka'))
    : realpathSync(standInInstallDir);
  try {
    await cp(fixtureDepsDir, path.join(dir, 'babushka-deps'), { recursive: true });
    const streams = async (bin: string, installDir: string) => {
      await rm(path.join(dir, 'state'), { recursive: true, force: true });
      const rs = [];
      for (const { command } of loadTranscripts()) {
        const r = await runHere(bin, dir, command);
        rs.push({
          command,
          ...r,
          stdout: r.stdout.split(installDir).join('BABUSHKA'),
          stderr: r.stderr.split(installDir).join('BABUSHKA'),
        });
      }
      return rs;
    };
    const onReal = await streams(babushka.bin, realInstall);
    const nope = onReal.find((r) => r.command.includes("'nope'"))!;
    assert.deepEqual(
      [nope.stdout, nope.stderr],
      ['', "nope <- this dep isn't defined!\n"],
      'an undefined dep is reported on stderr',
    );
    const raised = onReal.find((r) => r.command.includes("'always fails'"))!;
    assert.match(
      raised.stderr,
      /: boom: disk on fire\n {4}You can view a more detailed log at /,
      'the exception and the detailed log line are on stderr',
    );
    assert.match(raised.stdout, /^always fails \{\n {2}meet \{\n {4}Check .*web\.rb:14\.\n$/);
    assert.deepEqual(await streams(standInBin, realpathSync(standInInstallDir)), onReal);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a deps file that raises while loading: only its message, on stderr, on both Babushkas', async (t) => {
  t.diagnostic(babushka.note);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pb-babushka-load-'));
  try {
    await cp(fixtureDepsDir, path.join(dir, 'babushka-deps'), { recursive: true });
    await writeFile(path.join(dir, 'babushka-deps', 'broken.rb'), "dep 'fine' do\nend\nraise 'bad file'\n");
    const expected = {
      code: 1,
      stdout: '',
      stderr: `${path.join(dir, 'babushka-deps', 'broken.rb')}:3:in \`<top (required)>': bad file\n`,
    };
    for (const bin of new Set([babushka.bin, standInBin])) {
      assert.deepEqual(await runHere(bin, dir, 'babushka meet base --defaults --no-color'), expected, bin);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
