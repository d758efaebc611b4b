/**
 * `npm run demo` (examples/demo.sh) as a user runs it, on an embedded PostgreSQL under a temporary HOME and data
 * directory: Ctrl-C (SIGINT to its whole process group, as a terminal sends it) leaves no PostgreSQL running, and a
 * second run shows a state whose last applied commit is one of the demo repository's.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, liveProcesses } from '../../helpers/sshd.js';
import { waitFor } from '../../helpers/wait-for.js';

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, '../../..');
let root: string;
let env: NodeJS.ProcessEnv;

before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'pb-demo-test-'));
  chmodSync(root, 0o755); // as root the embedded server runs as `postgres`, which must reach its data directory
  const dir = (name: string) => path.join(root, name);
  env = {
    ...process.env,
    HOME: dir('home'),
    XDG_DATA_HOME: dir('data'),
    TMPDIR: dir('tmp'),
    PORT: String(await freePort()),
  };
  delete env.DATABASE_URL; // the demo's own embedded PostgreSQL, as for a new user
  await run('mkdir', ['-p', dir('home'), dir('data'), dir('tmp')]);
});

after(async () => {
  // Whatever happened above, no server of this test outlives it.
  for (const line of postgresOfTest()) process.kill(Number(line.split(' ')[0]), 'SIGQUIT');
  rmSync(root, { recursive: true, force: true });
});

/** Live postgres processes whose data directory is under this test's directory. */
const postgresOfTest = () => liveProcesses(new RegExp(`postgres.* -D ${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/`));

function startDemo(extra: NodeJS.ProcessEnv = {}): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
} {
  // Its own process group, so the test can signal the whole group as a terminal's Ctrl-C does.
  const child = spawn('bash', ['examples/demo.sh'], {
    cwd: repoRoot,
    env: { ...env, ...extra },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => text, exited };
}

/** Waits for the demo to reach a state; a timeout shows what the demo printed. */
async function waitForDemo(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  output: () => string,
): Promise<void> {
  await waitFor(what, check, timeoutMs, 200).catch((err: Error) =>
    assert.fail(`${err.message}; demo output:\n${output()}`),
  );
}

test(
  'Ctrl-C while a politburo command of the demo uses the embedded PostgreSQL leaves none running',
  { timeout: 180_000 },
  async () => {
    const demo = startDemo({ DEMO_EXIT: '1' });
    // The first command to open the state store (plan) starts the server; Ctrl-C lands while a command uses it.
    await waitForDemo('the embedded PostgreSQL', () => postgresOfTest().length > 0, 150_000, demo.output);
    process.kill(-demo.child.pid!, 'SIGINT');
    await demo.exited;
    await waitForDemo(
      'no postgres process of the data directory',
      () => postgresOfTest().length === 0,
      30_000,
      demo.output,
    );
  },
);

test('Ctrl-C while the demo serves stops its embedded PostgreSQL', { timeout: 180_000 }, async () => {
  const demo = startDemo({ DEMO_WAIT: '1' });
  await waitForDemo('the dashboard', () => /The controller keeps running/.test(demo.output()), 150_000, demo.output);
  assert.ok(postgresOfTest().length > 0, 'the demo runs on its embedded PostgreSQL');
  process.kill(-demo.child.pid!, 'SIGINT');
  await demo.exited;
  await waitForDemo(
    'no postgres process of the data directory',
    () => postgresOfTest().length === 0,
    30_000,
    demo.output,
  );
});

test(
  'a second run shows a state whose last applied commit is in the demo repository',
  { timeout: 180_000 },
  async () => {
    // The first run was the one stopped with Ctrl-C above.
    const second = startDemo({ DEMO_EXIT: '1' });
    assert.equal(await second.exited, 0, second.output());
    const repo = /POLITBURO_REPOS=(\S+)#demo/.exec(second.output())?.[1];
    assert.ok(repo, second.output());
    const status = await run(
      process.execPath,
      ['--import', 'tsx', 'cli/bin.ts', 'status', 'demo', '--dir', repo, '--json'],
      { cwd: repoRoot, env },
    );
    const doc = JSON.parse(status.stdout) as {
      nodes: { path: string; state: string; lastAppliedCommit?: string | null }[];
    };
    const commits = new Set(doc.nodes.map((n) => n.lastAppliedCommit));
    assert.equal(commits.size, 1, status.stdout);
    const [commit] = [...commits];
    assert.ok(commit, status.stdout);
    const found = await run('git', ['-C', repo, 'cat-file', '-t', commit!]).then(
      (r) => r.stdout.trim(),
      () => 'missing',
    );
    assert.equal(found, 'commit', `last applied ${commit} is a commit of ${repo}`);
    assert.ok(
      doc.nodes.every((n) => n.state === 'ready'),
      status.stdout,
    );
    const log = await run('git', ['-C', repo, 'log', '--format=%H']);
    assert.equal(
      log.stdout.trim().split('\n').length,
      1,
      'the example did not change: the repository of the first run, no new commit',
    );
    await waitForDemo(
      'no postgres process of the data directory',
      () => postgresOfTest().length === 0,
      30_000,
      second.output,
    );
  },
);
