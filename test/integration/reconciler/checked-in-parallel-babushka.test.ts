/**
 * `apply --all` checking nodes in parallel on the real Babushka lane (docs/architecture.md, "apply --all: nodes checked
 * in parallel"): on real sshd hosts whose `babushka` is the real Babushka 0.19.2 (POLITBURO_BABUSHKA_BIN, or the copy CI
 * places beside the checkout), a chain of three nodes is applied, then applied with `--all` when everything is met
 * (checked at once, nothing runs in order) and after a hand-made change in the middle (that node and the one above it
 * run in order, the one below does not); the same scenario on the stand-in gives the same results. The dry runs the
 * checks read are compared with the stand-in's, stream by stream. Without the real Babushka beside the repository, the
 * lane runs on the stand-in and says so.
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
import type { RunEvent, RunResult } from '../../../kernel/types.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { fixtureDepsDir, realBabushka, standInBin, startSshHosts, type SshHosts } from '../../helpers/sshd.js';
import { standInInstallDir } from '../../helpers/babushka/transcripts.js';
import { engineInput, hostYaml, storeFor } from '../../helpers/engine-harness.js';
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

/** base ← app ← front, one host each; front has a babushka task and a shell task. */
function description(ssh: SshHosts): string {
  const [base, app, front] = ssh.hosts;
  return `politburo: 1
defaults: { timeout: 60s }
roles:
  base: { tasks: [ { babushka: base } ] }
  app: { tasks: [ { babushka: 'app deployed', args: { ref: v1 } } ] }
  front:
    tasks:
      - { babushka: 'echo args', args: { value: '\${address(app)}', other: x } }
      - { name: marker, met: test -f ~/state/marker, meet: mkdir -p ~/state && touch ~/state/marker }
environments:
  test:
    resources:
      base: { roles: [base] }
      app: { roles: [app], depends_on: [base] }
      front: { roles: [front], depends_on: [app] }
    hosts: { base: ${hostYaml(base)}, app: ${hostYaml(app)}, front: ${hostYaml(front)} }
    known_hosts: known_hosts
`;
}

/** What an apply says of each node (paths and timings left out, so two Babushkas can be compared). */
function outcomes(r: RunResult, events: RunEvent[]) {
  const configured = events.flatMap((e) => (e.type === 'node-state' && e.state === 'configuring' ? [e.path] : []));
  return {
    nodes: Object.fromEntries(
      r.nodes.map((n) => [n.path, [n.state, n.reason ?? '', ...n.tasks.map((t) => `${t.name}: ${t.outcome}`)]]),
    ),
    configured: configured.sort(),
    summary: r.summary,
  };
}

/** The scenario on hosts whose PATH leads to `bin`. */
async function lane(bin: string) {
  const ssh = await startSshHosts(3, { babushkaBin: bin });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pb-checked-babushka-'));
  const admin = createHostConnector({ privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] });
  try {
    const [, appHost] = ssh.hosts;
    const appConn = await admin.connect({
      kind: 'ssh',
      address: appHost.address,
      port: appHost.port,
      user: appHost.user,
    });
    assert.equal((await appConn.exec('babushka --version')).stdout.trim(), '0.19.2');
    await cp(fixtureDepsDir, path.join(dir, 'babushka-deps'), { recursive: true });
    await writeFile(path.join(dir, 'known_hosts'), ssh.knownHosts);
    await writeFile(path.join(dir, 'politburo.yml'), description(ssh));
    await (await GitRepo.init(dir)).commitAll('chain');
    const apply = async (all: boolean) => {
      const events: RunEvent[] = [];
      const o = { dir, store: store.store, privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts], all, events };
      const { input, close } = await engineInput(o);
      const r = await applyEnvironment(input).finally(close);
      return { r, out: outcomes(r, events), runs: await store.store.nodeRuns(r.runId!) };
    };
    const first = await apply(false);
    assert.equal(first.r.status, 'succeeded', JSON.stringify(first.r.nodes, null, 1));
    const met = await apply(true);
    await appConn.exec('printf v0 > ~/state/app'); // a hand-made change on the middle node's host
    const drifted = await apply(true);
    assert.equal((await appConn.exec('cat ~/state/app')).stdout, 'v1', 'the change was undone by a real meet');
    const log = (p: string) =>
      drifted.runs
        .find((n) => n.path === p)!
        .log.split('\n')[0]
        .replace(/--- /, '');
    return { met: met.out, drifted: drifted.out, logs: { app: log('app'), front: log('front') } };
  } finally {
    await admin.close();
    await ssh.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

let real: Awaited<ReturnType<typeof lane>> | undefined;

test('apply --all on the real Babushka: met everywhere is checked at once; a change in the middle runs it and what needs it in order', async (t) => {
  t.diagnostic(babushka.note);
  real = await lane(babushka.bin);
  const checked = 'checked in parallel: every task already met';
  assert.deepEqual(real.met, {
    nodes: {
      base: ['ready', checked, 'base: already met'],
      app: ['ready', checked, 'app deployed: already met'],
      front: ['ready', checked, 'echo args: already met', 'marker: already met'],
    },
    configured: [],
    summary: { ready: 3, drifted: 0, failed: 0, blocked: 0, 'checked in parallel': 3 },
  });
  assert.deepEqual(real.drifted, {
    nodes: {
      base: ['ready', checked, 'base: already met'],
      app: ['ready', '', 'app deployed: met'],
      front: ['ready', '', 'echo args: already met', 'marker: already met'],
    },
    configured: ['app', 'front'],
    summary: { ready: 3, drifted: 0, failed: 0, blocked: 0, 'checked in parallel': 1 },
  });
  assert.deepEqual(real.logs, {
    app: "checked in parallel (read only), not counted as met: found unmet: 'app deployed'; run in dependency order",
    front:
      'checked in parallel (read only), not counted as met: depends on app, which did not count as met; run in dependency order',
  });
});

test('the stand-in gives the same results as the real Babushka', async (t) => {
  if (!babushka.real) t.diagnostic(`${babushka.note}: this comparison is of the stand-in with itself`);
  real ??= await lane(babushka.bin);
  assert.deepEqual(await lane(standInBin), real);
});

/** Deps for dry runs the checks meet: a generated dep requiring unmet, met and raising deps. */
const DRY_DEPS = `dep 'met raises' do
  met? { raise 'bad met' }
  meet { true }
end
dep 'several' do
  requires 'app deployed'.with(ref: 'v2'), 'base', 'met raises'
end
dep 'unmet then met' do
  requires 'always fails', 'base'
end
`;

/** Each dry run's stdout, stderr and exit status on this machine, in a fresh directory (HOME too), with `bin` first. */
async function dryRuns(bin: string, installDir: string) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pb-babushka-dry-'));
  try {
    await cp(fixtureDepsDir, path.join(dir, 'babushka-deps'), { recursive: true });
    await writeFile(path.join(dir, 'babushka-deps', 'dry.rb'), DRY_DEPS);
    const commands = [
      'babushka meet several --dry-run --defaults --no-color',
      "babushka meet 'unmet then met' -n --defaults --no-color",
      "babushka meet 'met raises' --dry-run --defaults --no-color",
      'babushka meet nope --dry-run --defaults --no-color',
      'babushka meet base --defaults --no-color',
      "babushka meet 'unmet then met' --dry-run --defaults --no-color",
      "babushka meet 'app deployed' ref=main nosuch=1 --dry-run --defaults --no-color",
      "babushka meet 'node ready' --dry-run --defaults --no-color",
    ];
    const rs = [];
    for (const command of commands) {
      const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        const env = { ...process.env, HOME: dir, PATH: `${bin}:${process.env.PATH}` };
        execFile('sh', ['-c', `${command} </dev/null`], { cwd: dir, env }, (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
      const symbolic = (s: string) => s.split(dir).join('DIR').split(installDir).join('BABUSHKA');
      rs.push({ command, code: r.code, stdout: symbolic(r.stdout), stderr: symbolic(r.stderr) });
    }
    return rs;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('dry runs as the checks read them: the stand-in writes what the real Babushka writes, stream by stream', async (t) => {
  t.diagnostic(babushka.note);
  const realInstall = babushka.real
    ? realpathSync(path.join(babushka.bin, '..', 'babushka'))
    : realpathSync(standInInstallDir);
  const onReal = await dryRuns(babushka.bin, realInstall);
  const byCommand = (part: string) => onReal.find((r) => r.command.includes(part))!;
  // A dry run evaluates every requirement, and a dep whose met? raises stays open; exit 1 unless all is met.
  assert.equal(byCommand('several').code, 1);
  assert.match(byCommand('several').stdout, /^several \{\n {2}app deployed \{\n {4}base \{\n {4}\} ~ base\n/);
  assert.match(byCommand('several').stderr, /: bad met\n/);
  assert.equal(
    byCommand("'unmet then met' -n").stdout,
    'unmet then met {\n  always fails {\n  } ~ always fails\n  base {\n  } ~ base\n} ~ unmet then met\n',
  );
  assert.match(onReal[5].stdout, / {2}\} \u2713 base\n\} ~ unmet then met\n$/, 'base met since: ✓, its parent still ~');
  assert.equal(byCommand('node ready').code, 1, 'nothing of app deployed is met here');
  assert.deepEqual(await dryRuns(standInBin, realpathSync(standInInstallDir)), onReal);
});
