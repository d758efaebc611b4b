// politburo validate / plan / graph as a user runs them: a child process against a real PostgreSQL test database.
import { execFile, execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { createPgStore, type PgStateStore } from '../../../store/pg-store.js';
import { loadDescription } from '../../../schema/load-description.js';
import type { RecordedNode, ResolvedEnvironment } from '../../../kernel/types.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const EXAMPLE = path.join(ROOT, 'examples/lamp');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in a child process (no DATABASE_URL inherited, so nothing reaches a database unless given one). */
function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const { DATABASE_URL: _ignored, ...rest } = process.env;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'cli/bin.ts'), ...args],
      { cwd: ROOT, env: { ...rest, ...env } },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err);
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
      },
    );
  });
}

describe('politburo validate', { concurrency: true }, () => {
  test('the lamp example is valid: exit 0 and a count', async () => {
    const r = await runCli(['validate', '--dir', EXAMPLE]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'valid: 3 environments, 15 nodes\n');
    assert.equal(r.stderr, '');
  });

  test('an invalid description: exit 2, every error as FILE:LINE:COLUMN: message on stderr', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pb-validate-'));
    try {
      writeFileSync(
        path.join(dir, 'politburo.yml'),
        'politburo: 1\nrolse: {}\nenvironments:\n  a:\n    blueprint: nope\n',
      );
      const r = await runCli(['validate', '--dir', dir]);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trimEnd().split('\n');
      assert.match(lines[0], /^politburo\.yml:2:1: .*rolse.*did you mean 'roles'/);
      assert.match(lines[1], /^politburo\.yml:5:16: .*nope/);
      assert.equal(lines.at(-1), '2 errors: the description is invalid');
      const plan = await runCli(['plan', 'a', '--dir', dir, '--database-url', 'postgres://nobody@127.0.0.1:1/none']);
      assert.equal(plan.code, 1, 'a plan of an invalid description exits 1');
      assert.match(plan.stderr, /^politburo\.yml:2:1: /);
      assert.equal(plan.stdout, '');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a missing file is an error with its place, not a crash', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pb-validate-'));
    try {
      const r = await runCli(['validate', '--dir', dir]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^politburo\.yml:\d+:\d+: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('politburo plan and graph against a database', { concurrency: true }, () => {
  let db: TestDatabase;
  let store: PgStateStore;
  let dir: string;
  let production: ResolvedEnvironment;

  before(async () => {
    db = await createTestDatabase();
    store = createPgStore(new pg.Pool({ connectionString: db.url }));
    dir = mkdtempSync(path.join(os.tmpdir(), 'pb-plan-'));
    cpSync(EXAMPLE, dir, { recursive: true });
    const loaded = await loadDescription({ dir });
    assert.ok(loaded.ok);
    production = loaded.description.environments.get('production')!;
    const repo = realpathSync(dir); // not a git checkout: identified by its path
    const byPath = new Map(production.nodes.map((n) => [n.path, n]));
    const applied = (p: string, state: RecordedNode['state']): RecordedNode => ({
      path: p,
      host: (byPath.get(p)!.host as { address: string }).address,
      port: 22,
      user: 'deploy',
      specHash: byPath.get(p)!.specHash,
      tasks: byPath.get(p)!.tasks,
      state,
      lastAppliedCommit: 'c0ffee0',
      lastRunId: null,
    });
    const web2 = byPath.get('web-2')!;
    const oldTasks = web2.tasks.map((t) =>
      t.kind === 'babushka' && t.dep === 'app deployed' ? { ...t, args: { ...t.args, ref: 'v1.4.1' } } : t,
    );
    await store.bulkRecordNodes(repo, 'production', [
      applied('database/master', 'ready'),
      applied('database/replica-1', 'ready'),
      applied('database/replica-2', 'ready'),
      applied('web-1', 'ready'),
      { ...applied('web-2', 'drifted'), specHash: 'old', tasks: oldTasks, reason: 'unmet: app deployed' },
      applied('web-3', 'ready'),
      {
        path: 'old-cache',
        host: '203.0.113.40',
        specHash: 'x',
        tasks: [],
        state: 'ready',
        lastAppliedCommit: 'c0ffee0',
        lastRunId: null,
      },
    ]);
  });
  after(async () => {
    await store.close();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('plan prints the aligned table and exits 0 with changes (2 only with --detailed-exitcode)', async () => {
    const r = await runCli(['plan', 'production', '--dir', dir, '--database-url', db.url]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        '   PATH                HOST             STATE    CHANGES',
        '=  database/master     db1.example.com  ready',
        '=  database/replica-1  203.0.113.11     ready',
        '=  database/replica-2  203.0.113.12     ready',
        '=  web-1               203.0.113.21     ready',
        "~  web-2               203.0.113.22     drifted  task 'app deployed': ref: v1.4.1 → v1.4.2",
        '=  web-3               203.0.113.23     ready',
        '+  lb                  203.0.113.5      defined  new: 3 tasks',
        '-  old-cache           203.0.113.40     ready    no longer described',
        '',
        'Plan for production: 1 to create, 1 to update, 5 unchanged, 1 to terminate',
        '(+ create, ~ update, = unchanged, - terminate)',
        '',
      ].join('\n'),
    );
    assert.equal(r.stderr, '');
  });

  test('plan --json prints one document and nothing else', async () => {
    const r = await runCli(['plan', 'production', '--json', '--detailed-exitcode', '--dir', dir], {
      DATABASE_URL: db.url,
    });
    assert.equal(r.code, 2, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.environment, 'production');
    assert.equal(doc.commit, null);
    assert.deepEqual(doc.summary, {
      create: 1,
      update: 1,
      unchanged: 5,
      terminate: 1,
      ready: 6,
      drifted: 1,
      failed: 0,
      blocked: 0,
      defined: 1,
    });
    const web2 = doc.nodes.find((n: { path: string }) => n.path === 'web-2');
    assert.deepEqual(web2, {
      path: 'web-2',
      host: '203.0.113.22',
      action: 'update',
      state: 'drifted',
      reason: 'unmet: app deployed',
      changes: ["task 'app deployed': ref: v1.4.1 → v1.4.2"],
      diff: [
        { subject: 'task', change: 'changed', task: 'app deployed', field: 'ref', before: 'v1.4.1', after: 'v1.4.2' },
      ],
      tasks: [
        { name: 'lamp base', kind: 'babushka' },
        { name: 'node exporter running', kind: 'babushka' },
        { name: 'app deployed', kind: 'babushka' },
        { name: 'swappiness tuned', kind: 'shell' },
      ],
    });
  });

  test('plan of the demo environment (nothing recorded): every node to create', async () => {
    const r = await runCli(['plan', 'demo', '--json', '--dir', dir, '--database-url', db.url]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(
      doc.nodes.map(
        (n: { path: string; host: string; action: string; state: string }) =>
          `${n.action} ${n.path} ${n.host} ${n.state}`,
      ),
      [
        'create database/master local defined',
        'create database/replica-1 local defined',
        'create web-1 local defined',
        'create web-2 local defined',
        'create lb local defined',
      ],
    );
    assert.ok(
      doc.nodes.every((n: { tasks: { kind: string }[] }) => n.tasks.every((t) => t.kind === 'shell')),
      'the demo only runs shell tasks',
    );
  });

  test('plan with everything applied exits 0 and says no changes; in git the commit is shown', async () => {
    const repo = mkdtempSync(path.join(os.tmpdir(), 'pb-plan-git-'));
    try {
      writeFileSync(
        path.join(repo, 'politburo.yml'),
        'politburo: 1\nenvironments:\n  solo:\n    resources: { box: { tasks: [{ name: t, met: "true", meet: "true" }] } }\n    hosts: { box: local }\n',
      );
      const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();
      git('init', '-q');
      git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-q', '--allow-empty', '-m', 'x');
      git('add', '.');
      git('-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-q', '-m', 'y');
      const sha = git('rev-parse', 'HEAD');
      const loaded = await loadDescription({ dir: repo });
      assert.ok(loaded.ok);
      const box = loaded.description.environments.get('solo')!.nodes[0];
      await store.bulkRecordNodes(realpathSync(repo), 'solo', [
        {
          path: 'box',
          host: 'local',
          specHash: box.specHash,
          tasks: box.tasks,
          state: 'ready',
          lastAppliedCommit: sha,
          lastRunId: null,
        },
      ]);
      const r = await runCli(['plan', 'solo', '--detailed-exitcode', '--dir', repo, '--database-url', db.url]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stdout,
        new RegExp(
          `Plan for solo@${sha.slice(0, 7)}: 0 to create, 0 to update, 1 unchanged, 0 to terminate\nNo changes`,
        ),
      );
      const json = JSON.parse(
        (await runCli(['plan', 'solo', '--json', '--dir', repo, '--database-url', db.url])).stdout,
      );
      assert.equal(json.commit, sha);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });

  test('an unknown environment is an error naming the known ones', async () => {
    const r = await runCli(['plan', 'prodution', '--dir', dir, '--database-url', db.url]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      "politburo: unknown environment 'prodution' (did you mean 'production'?); known environments: production, staging, demo\n",
    );
  });

  test('an unreachable database is an error saying which; with --json the error document on stdout', async () => {
    const r = await runCli([
      'plan',
      'production',
      '--json',
      '--dir',
      dir,
      '--database-url',
      'postgres://nobody:pw@127.0.0.1:1/none',
    ]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^politburo: cannot open the state store at postgres:\/\/nobody:\*\*\*@127\.0\.0\.1:1\/none/,
    );
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.error.code, 'error');
    assert.equal(doc.error.exitCode, 1);
    assert.match(doc.error.message, /^cannot open the state store at postgres:\/\/nobody:\*\*\*@/);
    assert.doesNotMatch(r.stdout, /pw/, 'the password stays hidden');
  });

  test('plan without an environment is a usage error (64)', async () => {
    const r = await runCli(['plan', '--dir', dir]);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /missing required argument 'environment'/);
  });

  test('graph is coloured by recorded state when a database is given, uncoloured without one', async () => {
    const coloured = await runCli([
      'graph',
      'production',
      '--format',
      'mermaid',
      '--dir',
      dir,
      '--database-url',
      db.url,
    ]);
    assert.equal(coloured.code, 0, coloured.stderr);
    assert.match(coloured.stdout, /^flowchart LR\n {2}subgraph g0\["database"\]\n/);
    assert.match(coloured.stdout, /classDef drifted fill:#fef08a/);
    assert.match(coloured.stdout, /class n0,n1,n2,n3,n5 ready/);
    assert.match(coloured.stdout, /class n6 defined/);
    const plain = await runCli(['graph', 'production', '--dir', dir]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /^digraph "production" \{/);
    assert.match(plain.stdout, /subgraph "cluster_database"/);
    assert.doesNotMatch(plain.stdout, /#bbf7d0/);
    const unreachable = await runCli([
      'graph',
      'production',
      '--format',
      'svg',
      '--dir',
      dir,
      '--database-url',
      'postgres://nobody@127.0.0.1:1/none',
    ]);
    assert.equal(unreachable.code, 0);
    assert.match(unreachable.stderr, /warning: drawing without states/);
    assert.match(unreachable.stdout, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    const bad = await runCli(['graph', 'production', '--format', 'png', '--dir', dir]);
    assert.equal(bad.code, 64);
  });
});
