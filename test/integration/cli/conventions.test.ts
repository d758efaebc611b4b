// The conventions every command shares (docs/cli.md): Terraform's exit codes for plan, one JSON document on stdout
// with --json (errors included), one "unknown environment" error and exit code everywhere, each command's --help
// listing only the options it uses. Run as a user runs them: child processes against a real PostgreSQL test database.
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const EXAMPLE = path.join(ROOT, 'examples/lamp');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

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

/** The long options a command's --help lists, in order. */
function helpOptions(help: string): string[] {
  return [...help.matchAll(/^ {2}(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]);
}

describe('each command offers only the options it uses', { concurrency: true }, () => {
  const expected: Record<string, string[]> = {
    validate: ['--dir', '--file', '--json', '--help'],
    plan: [
      '--dir',
      '--file',
      '--database-url',
      '--ssh-key',
      '--known-hosts',
      '--ssh-config',
      '--ssh-retries',
      '--ssh-persist',
      '--json',
      '--live',
      '--detailed-exitcode',
      '--help',
    ],
    apply: [
      '--dir',
      '--file',
      '--database-url',
      '--ssh-key',
      '--known-hosts',
      '--ssh-config',
      '--ssh-retries',
      '--ssh-persist',
      '--json',
      '--all',
      '--concurrency',
      '--help',
    ],
    drift: [
      '--dir',
      '--file',
      '--database-url',
      '--ssh-key',
      '--known-hosts',
      '--ssh-config',
      '--ssh-retries',
      '--ssh-persist',
      '--json',
      '--heal',
      '--help',
    ],
    status: ['--dir', '--file', '--database-url', '--json', '--help'],
    graph: [
      '--dir',
      '--file',
      '--database-url',
      '--json',
      '--format',
      '--state',
      '--no-state',
      '--no-reduce',
      '--help',
    ],
    migrate: ['--database-url', '--help'],
    serve: ['--port', '--database-url', '--help'],
    connections: ['--json', '--close', '--help'],
  };
  for (const [command, options] of Object.entries(expected)) {
    test(`${command} --help`, async () => {
      const r = await runCli([command, '--help']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(helpOptions(r.stdout), options);
    });
  }
});

describe('exit codes, --json documents and unknown environments', { concurrency: true }, () => {
  let db: TestDatabase;
  let invalid: string;

  before(async () => {
    db = await createTestDatabase();
    invalid = mkdtempSync(path.join(os.tmpdir(), 'pb-conventions-'));
    writeFileSync(path.join(invalid, 'politburo.yml'), 'politburo: 1\nrolse: {}\nenvironments: {}\n');
  });
  after(async () => {
    await db.drop();
    rmSync(invalid, { recursive: true, force: true });
  });

  test('plan exits 0 with changes; --detailed-exitcode: 2 with changes', async () => {
    const plain = await runCli(['plan', 'demo', '--dir', EXAMPLE, '--database-url', db.url]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /Plan for demo(@[0-9a-f]+)?: 5 to create/);
    const detailed = await runCli(['plan', 'demo', '--detailed-exitcode', '--dir', EXAMPLE, '--database-url', db.url]);
    assert.equal(detailed.code, 2, detailed.stderr);
    assert.equal(detailed.stdout, plain.stdout);
  });

  test('an unknown environment: one message, exit 1 and the same JSON error in every command', async () => {
    const message =
      "unknown environment 'prodution' (did you mean 'production'?); known environments: production, staging, demo";
    for (const command of ['plan', 'apply', 'drift', 'status', 'graph']) {
      const text = await runCli([command, 'prodution', '--dir', EXAMPLE, '--database-url', db.url]);
      assert.equal(text.code, 1, `${command}: ${text.stderr}`);
      assert.equal(text.stdout, '', command);
      assert.equal(text.stderr, `politburo: ${message}\n`, command);
      const json = await runCli([command, 'prodution', '--json', '--dir', EXAMPLE, '--database-url', db.url]);
      assert.equal(json.code, 1, command);
      assert.deepEqual(JSON.parse(json.stdout), { error: { code: 'unknown-environment', message, exitCode: 1 } });
    }
  });

  test('validate --json: the counts when valid (exit 0), every error when invalid (exit 2)', async () => {
    const valid = await runCli(['validate', '--json', '--dir', EXAMPLE]);
    assert.equal(valid.code, 0, valid.stderr);
    assert.deepEqual(JSON.parse(valid.stdout), {
      valid: true,
      environments: ['production', 'staging', 'demo'],
      nodes: 15,
    });
    const bad = await runCli(['validate', '--json', '--dir', invalid]);
    assert.equal(bad.code, 2);
    const doc = JSON.parse(bad.stdout);
    assert.equal(doc.valid, false);
    assert.equal(doc.errors[0].file, 'politburo.yml');
    assert.equal(doc.errors[0].line, 2);
    assert.match(doc.errors[0].message, /rolse.*did you mean 'roles'/);
    assert.match(bad.stderr, /^politburo\.yml:2:1: /, 'the errors are on stderr as without --json');
  });

  test('an invalid description with --json: exit 1 and an error document listing the errors', async () => {
    for (const command of ['plan', 'graph', 'apply']) {
      const r = await runCli([command, 'x', '--json', '--dir', invalid, '--database-url', db.url]);
      assert.equal(r.code, 1, `${command}: ${r.stderr}`);
      const doc = JSON.parse(r.stdout);
      assert.equal(doc.error.code, 'invalid-description', command);
      assert.equal(doc.error.errors[0].line, 2, command);
      assert.match(r.stderr, /^politburo\.yml:2:1: /);
    }
  });

  test('a usage error with --json: exit 64 and an error document', async () => {
    const missing = await runCli(['plan', '--json', '--dir', EXAMPLE]);
    assert.equal(missing.code, 64);
    assert.deepEqual(JSON.parse(missing.stdout), {
      error: { code: 'usage', message: "missing required argument 'environment'", exitCode: 64 },
    });
    const badTarget = await runCli(['apply', 'demo:', '--json', '--dir', EXAMPLE, '--database-url', db.url]);
    assert.equal(badTarget.code, 64);
    assert.equal(JSON.parse(badTarget.stdout).error.code, 'usage');
  });

  test('graph --json: nodes, edges and groups as one document', async () => {
    const r = await runCli(['graph', 'production', '--json', '--no-state', '--dir', EXAMPLE]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.environment, 'production');
    assert.equal(doc.coloured, false);
    assert.deepEqual(
      doc.nodes.find((n: { path: string }) => n.path === 'database/master'),
      {
        path: 'database/master',
        host: 'db1.example.com',
        group: 'database',
        state: null,
      },
    );
    assert.ok(doc.edges.some((e: { from: string; to: string }) => e.from === 'database/master'));
    assert.deepEqual(doc.groups, [{ path: 'database', parent: null }]);
  });

  test('status --json with a database that cannot be reached: exit 1 and the error document', async () => {
    const r = await runCli(['status', '--json', '--dir', EXAMPLE, '--database-url', 'postgres://nobody@127.0.0.1:1/x']);
    assert.equal(r.code, 1);
    assert.equal(JSON.parse(r.stdout).error.code, 'error');
    assert.match(r.stderr, /^politburo: cannot open the state store/);
  });
});
