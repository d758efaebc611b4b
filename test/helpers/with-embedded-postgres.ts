/**
 * `node --import tsx test/helpers/with-embedded-postgres.ts CMD ARGS...`: starts a throwaway embedded PostgreSQL in a
 * temporary data directory, runs CMD with DATABASE_URL pointing at it, stops the server and exits with CMD's code.
 * test/run.sh uses it when no PostgreSQL server answers (e.g. CI on a fresh machine).
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../../store/embedded.js';

async function run(argv: string[]): Promise<number> {
  if (argv.length === 0) {
    process.stderr.write('usage: with-embedded-postgres.ts CMD [ARGS...]\n');
    return 64;
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'politburo-test-pg-'));
  // As root the server runs as `postgres`, which must be able to enter the directory (mkdtemp makes it 0700).
  chmodSync(tmp, 0o755);
  const log = (msg: string) => process.stderr.write(`with-embedded-postgres: ${msg}\n`);
  let server;
  try {
    server = await startEmbeddedPostgres({ dataDir: path.join(tmp, 'data'), database: 'test', log });
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  const url = server.url;
  try {
    return await new Promise<number>((resolve, reject) => {
      const child = spawn(argv[0], argv.slice(1), { stdio: 'inherit', env: { ...process.env, DATABASE_URL: url } });
      const forward = (signal: NodeJS.Signals) => child.kill(signal);
      process.on('SIGINT', forward);
      process.on('SIGTERM', forward);
      child.on('error', reject);
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)));
    });
  } finally {
    await server.stop({ force: true });
    rmSync(tmp, { recursive: true, force: true });
  }
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`with-embedded-postgres: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
