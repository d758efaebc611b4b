/**
 * `politburo apply` with a target naming no node is a usage error: exit 64 with a "did you mean", and nothing recorded
 * (no run, no environment row for the dashboard). A real CLI process on a copy of examples/lamp and a real database.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { GitRepo } from '../../helpers/git-repo.js';

const repoRoot = path.resolve(import.meta.dirname, '../../..');
let db: TestDatabase;
let dir: string;
let home: string;

before(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(path.join(os.tmpdir(), 'pb-apply-target-'));
  home = await mkdtemp(path.join(os.tmpdir(), 'pb-apply-target-home-'));
  await cp(path.join(repoRoot, 'examples/lamp'), dir, { recursive: true });
  await (await GitRepo.init(dir)).commitAll('lamp');
});
after(async () => {
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
  await rm(home, { recursive: true, force: true });
});

/** The CLI as a real process; the demo environment's shell tasks write under this test's HOME. */
function politburo(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(repoRoot, 'cli/bin.ts'), ...args, '--dir', dir, '--database-url', db.url],
      { cwd: repoRoot, env: { ...process.env, HOME: home } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function counts(): Promise<{ runs: number; environments: number }> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const runs = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM runs');
    const environments = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM environments');
    return { runs: runs.rows[0].n, environments: environments.rows[0].n };
  } finally {
    await client.end();
  }
}

test('a typo in the target path: exit 64, "did you mean", no run and no environment recorded', async () => {
  const typo = await politburo('apply', 'production:wbe');
  assert.equal(typo.code, 64, typo.stderr);
  assert.match(typo.stderr, /target path 'wbe' names no node of environment 'production' \(did you mean 'web'\?\)/);
  assert.match(typo.stderr, /usage: politburo apply TARGET/);
  const json = await politburo('apply', 'demo:database/mastr', '--json');
  assert.equal(json.code, 64);
  assert.deepEqual(JSON.parse(json.stdout), {
    error: {
      code: 'usage',
      message: "target path 'database/mastr' names no node of environment 'demo' (did you mean 'database/master'?)",
      exitCode: 64,
    },
  });
  assert.deepEqual(await counts(), { runs: 0, environments: 0 });
});

test('an unknown environment: exit 1 with a "did you mean" in apply and drift as in plan, nothing recorded', async () => {
  for (const command of ['apply', 'drift']) {
    const r = await politburo(command, 'prodution');
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /unknown environment 'prodution' \(did you mean 'production'\?\); known environments: production, staging, demo/,
    );
  }
  assert.deepEqual(await counts(), { runs: 0, environments: 0 });
});

test('a target that names nodes still applies them, and is recorded', async () => {
  const lb = await politburo('apply', 'demo:web', '--json');
  assert.equal(lb.code, 0, lb.stderr);
  const result = JSON.parse(lb.stdout) as { status: string; nodes: { path: string; state: string }[] };
  assert.equal(result.status, 'succeeded');
  assert.ok(
    result.nodes.some((n) => n.path === 'web-1' && n.state === 'ready'),
    lb.stdout,
  );
  assert.deepEqual(await counts(), { runs: 1, environments: 1 });
});
