/**
 * Fault: DATABASE_URL points at a server that accepts TCP connections and never says anything (a hung PostgreSQL, a
 * half-open proxy, the wrong port of something else). The real CLI runs as a child process with a short
 * POLITBURO_DB_CONNECT_TIMEOUT: it must exit 1 with a message naming the database (password redacted) and the limit,
 * instead of waiting forever.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '../..');

let server: Server;
let port: number;
const sockets = new Set<Socket>();
let dir: string;

before(async () => {
  server = createServer((socket) => {
    // Accept, read whatever the client sends (its startup message), answer nothing.
    sockets.add(socket);
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
  dir = await mkdtemp(path.join(os.tmpdir(), 'politburo-cli-timeout-'));
  await writeFile(path.join(dir, 'politburo.yml'), 'politburo: 1\nenvironments: {}\n');
});

after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'cli', 'bin.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

for (const command of ['status', 'migrate']) {
  test(
    `politburo ${command} on a database that never answers exits 1 naming it, password hidden`,
    { timeout: 120_000 },
    async () => {
      const url = `postgres://deploy:hunter2@127.0.0.1:${port}/politburo`;
      // migrate reads no repository: it takes no --dir.
      const args = command === 'migrate' ? [command] : [command, '--dir', dir];
      const r = await cli(args, { DATABASE_URL: url, POLITBURO_DB_CONNECT_TIMEOUT: '1s' });
      assert.equal(r.code, 1, `exit code (stderr: ${r.stderr})`);
      assert.match(r.stderr, new RegExp(`postgres://deploy:\\*\\*\\*@127\\.0\\.0\\.1:${port}/politburo`));
      assert.match(r.stderr, /no answer within 1000 ms/);
      assert.match(r.stderr, /POLITBURO_DB_CONNECT_TIMEOUT/);
      assert.doesNotMatch(r.stderr + r.stdout, /hunter2/);
    },
  );
}

test(
  'a connect timeout that is not a duration is refused with a message naming the variable',
  { timeout: 120_000 },
  async () => {
    const r = await cli(['status', '--dir', dir], {
      DATABASE_URL: `postgres://deploy@127.0.0.1:${port}/politburo`,
      POLITBURO_DB_CONNECT_TIMEOUT: 'soon',
    });
    assert.equal(r.code, 1, `exit code (stderr: ${r.stderr})`);
    assert.match(r.stderr, /POLITBURO_DB_CONNECT_TIMEOUT="soon" is not a duration/);
  },
);
