import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { createPgStore, type PgStateStore } from '../../../store/pg-store.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');

/**
 * Runs the CLI as a user would, in a child process (capturing process.stdout in-process would also capture the test
 * runner's own reports, which travel over this process's stdout).
 */
function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'cli/bin.ts'), ...args],
      { cwd: ROOT },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err);
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
      },
    );
  });
}

describe('politburo status and migrate', () => {
  let db: TestDatabase;
  let store: PgStateStore;
  let dir: string;
  let repo: string;
  let runId: string;

  before(async () => {
    db = await createTestDatabase();
    store = createPgStore(new pg.Pool({ connectionString: db.url }));
    dir = mkdtempSync(path.join(os.tmpdir(), 'pb-status-'));
    repo = realpathSync(dir); // not a git checkout: the repository is identified by its path
    // status checks an environment's name against the description (and the recorded ones): qa is described only.
    writeFileSync(
      path.join(dir, 'politburo.yml'),
      [
        'politburo: 1',
        'blueprints:',
        "  app: { resources: { web: { tasks: [{ name: up, met: 'true', meet: 'true' }] } } }",
        'environments:',
        ...['production', 'staging', 'qa'].map((e, i) => `  ${e}: { blueprint: app, hosts: { web: 10.0.0.${i + 1} } }`),
        '',
      ].join('\n'),
    );
    const run = await store.startRun({
      repository: repo,
      environment: 'production',
      commit: '1a2b3c4d5e6f',
      kind: 'apply',
      trigger: 'cli',
    });
    runId = run.id;
    const applied = { specHash: 'h', tasks: [], commit: '1a2b3c4d5e6f' };
    await store.updateNode(repo, 'production', 'database/master', {
      state: 'ready',
      host: 'db1.example.com',
      runId,
      applied,
    });
    await store.updateNode(repo, 'production', 'web-1', {
      state: 'failed',
      host: '203.0.113.21',
      reason: 'TaskFailed: app deployed\nmore output',
      runId,
    });
    await store.updateNode(repo, 'production', 'lb', { state: 'blocked', reason: 'web-1 failed', runId });
    await store.finishRun(runId, 'failed', { ready: 1, failed: 1, blocked: 1 });
    await store.updateNode(repo, 'staging', 'web-1', {
      state: 'ready',
      host: '198.51.100.21',
      applied: { ...applied, commit: 'ffffeeee0000' },
    });
    await store.updateNode('/some/other/repo', 'production', 'x', { state: 'ready' });
  });
  after(async () => {
    await store.close();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('status ENV prints an aligned table of the recorded nodes', async () => {
    const { code, stdout } = await runCli(['status', 'production', '--dir', dir, '--database-url', db.url]);
    assert.equal(code, 0);
    const lines = stdout.trimEnd().split('\n');
    assert.match(lines[0], /^production {2}\(last applied -, updated \d{4}-/);
    assert.match(lines[1], /^PATH\s+HOST\s+STATE\s+COMMIT\s+RUN\s+REASON$/);
    const header = lines[1];
    /** The cell of a row in the column of a header title. */
    const cell = (line: string, title: string) => line.slice(header.indexOf(title)).split(/ {2,}/)[0];
    const master = lines.find((l) => l.startsWith('database/master'));
    assert.ok(master);
    assert.deepEqual(
      ['HOST', 'STATE', 'COMMIT', 'RUN'].map((t) => cell(master, t)),
      ['db1.example.com', 'ready', '1a2b3c4', runId],
    );
    const web = lines.find((l) => l.startsWith('web-1'));
    assert.ok(web);
    assert.deepEqual(
      ['HOST', 'STATE', 'COMMIT', 'REASON'].map((t) => cell(web, t)),
      ['203.0.113.21', 'failed', '-', 'TaskFailed: app deployed'],
    );
    assert.ok(web.endsWith('TaskFailed: app deployed'), 'first line of the reason only');
    assert.equal(lines.at(-1), '3 nodes: 1 ready, 1 failed, 1 blocked');
    assert.ok(!stdout.includes('/some/other/repo'));
  });

  test('status ENV --json prints one document', async () => {
    const { code, stdout } = await runCli(['status', 'production', '--json', '--dir', dir, '--database-url', db.url]);
    assert.equal(code, 0);
    const doc = JSON.parse(stdout);
    assert.equal(doc.environment, 'production');
    assert.equal(doc.repository, repo);
    assert.deepEqual(doc.summary, { ready: 1, drifted: 0, failed: 1, blocked: 1 });
    assert.deepEqual(
      doc.nodes.map((n: Record<string, unknown>) => [
        n.path,
        n.host,
        n.state,
        n.reason,
        n.lastAppliedCommit,
        n.lastRunId,
      ]),
      [
        ['database/master', 'db1.example.com', 'ready', null, '1a2b3c4d5e6f', runId],
        ['lb', null, 'blocked', 'web-1 failed', null, runId],
        ['web-1', '203.0.113.21', 'failed', 'TaskFailed: app deployed\nmore output', null, runId],
      ],
    );
  });

  test('status without ENV covers every environment of the repository', async () => {
    const json = JSON.parse((await runCli(['status', '--json', '--dir', dir, '--database-url', db.url])).stdout);
    assert.deepEqual(
      json.environments.map((e: { environment: string }) => e.environment),
      ['production', 'staging'],
    );
    assert.equal(json.environments[1].nodes[0].lastAppliedCommit, 'ffffeeee0000');
    const text = (await runCli(['status', '--dir', dir, '--database-url', db.url])).stdout;
    assert.match(text, /^production /m);
    assert.match(text, /^staging /m);
    assert.match(text, /^web-1\s+198\.51\.100\.21\s+ready\s+ffffeee/m);
  });

  test('status of an environment with nothing recorded says so', async () => {
    const { code, stdout } = await runCli(['status', 'qa', '--dir', dir, '--database-url', db.url]);
    assert.equal(code, 0);
    assert.match(stdout, /qa: nothing recorded yet/);
    assert.match(stdout, /Environments with recorded state: production, staging/);
    const doc = JSON.parse((await runCli(['status', 'qa', '--json', '--dir', dir, '--database-url', db.url])).stdout);
    assert.deepEqual(doc.nodes, []);
  });

  test('status reports an unreachable database as an error, not a crash', async () => {
    const { code, stderr, stdout } = await runCli([
      'status',
      '--dir',
      dir,
      '--database-url',
      'postgres://nobody@127.0.0.1:1/none',
    ]);
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(stderr, /cannot open the state store at postgres:\/\/nobody@127\.0\.0\.1:1\/none/);
  });

  test('migrate says what it applied, then that the schema is current', async () => {
    const empty = await createTestDatabase({ empty: true });
    try {
      const first = await runCli(['migrate', '--database-url', empty.url]);
      assert.equal(first.code, 0);
      assert.match(first.stdout, /^Applied \d+ migrations:\n {2}001_repositories_environments\n/);
      const second = await runCli(['migrate', '--database-url', empty.url]);
      assert.match(second.stdout, /^Schema is up to date \(\d+ migrations applied\)\.\n$/);
    } finally {
      await empty.drop();
    }
  });
});
