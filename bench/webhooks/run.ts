/**
 * Webhook ingestion benchmark: `politburo serve` (a child process, queue worker running) on a fresh database of a
 * real PostgreSQL; autocannon sends signed `push` deliveries (a real @octokit/webhooks-examples payload, a unique
 * delivery id each) over N connections for D seconds; prints accepted deliveries/s and latency percentiles, and checks
 * that nothing was lost: rows stored == 2xx answers.
 *
 *   node --import tsx bench/webhooks/run.ts [--connections 100] [--duration 30] [--rate N]
 *
 * DATABASE_URL names the server (default postgres://postgres@127.0.0.1:5432/postgres); a throwaway database is
 * created on it and dropped afterwards.
 */
import { spawn } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { once } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
const SECRET = 'bench-secret';

const { values } = parseArgs({
  options: { connections: { type: 'string', default: '100' }, duration: { type: 'string', default: '30' }, rate: { type: 'string' } },
});
const connections = Number(values.connections);
const duration = Number(values.duration);
/** Deliveries per second over all connections (autocannon's overallRate); unset: as fast as the server answers. */
const rate = values.rate ? Number(values.rate) : undefined;

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function freePort(): Promise<number> {
  const srv = net.createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  srv.close();
  await once(srv, 'close');
  return port;
}

async function startServe(databaseUrl: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/bin.ts', 'serve'], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port), HOST: '127.0.0.1', GITHUB_WEBHOOK_SECRET: SECRET, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', POLITBURO_INGEST_ONLY: 'true' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`politburo serve exited with ${child.exitCode}`);
    const ready = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) throw new Error('politburo serve did not become ready within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

async function main(): Promise<void> {
  const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const dbName = `pb_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: withDatabase(serverUrl, 'postgres') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dbUrl = withDatabase(serverUrl, dbName);
  const serve = await startServe(dbUrl);
  try {
    const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: unknown[] }[];
    const body = JSON.stringify(sets.find((s) => s.name === 'push')!.examples[0]);
    const signature = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
    console.error(`benchmark: ${connections} connections for ${duration}s${rate ? ` at ${rate}/s` : ''} against ${serve.url} (${os.cpus().length} cores, payload ${body.length} bytes)`);
    const result = await autocannon({
      url: `${serve.url}/webhooks/github`,
      connections,
      duration,
      ...(rate ? { overallRate: rate } : {}),
      requests: [
        {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signature },
          setupRequest: (req: any) => ({ ...req, headers: { ...req.headers, 'x-github-delivery': randomUUID() } }),
        },
      ],
    });
    const pool = new pg.Pool({ connectionString: dbUrl });
    const stored = Number((await pool.query('SELECT count(*) FROM webhook_deliveries')).rows[0].count);
    const jobs = Number((await pool.query(`SELECT count(*) FROM graphile_worker._private_jobs`)).rows[0].count);
    const processed = Number((await pool.query('SELECT count(*) FROM webhook_deliveries WHERE processed_at IS NOT NULL')).rows[0].count);
    await pool.end();
    const ok = result['2xx'];
    const report = {
      connections,
      durationS: duration,
      offeredRate: rate ?? 'unbounded',
      requests: result.requests.total,
      accepted2xx: ok,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      acceptedPerSecond: Math.round(ok / duration),
      latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
      storedRows: stored,
      processedByWorker: processed,
      jobsStillQueued: jobs,
      // Requests still in flight when autocannon stopped are stored but not counted as answered: never "lost".
      answeredAfterTheEnd: Math.max(0, stored - ok),
      lost: Math.max(0, ok - stored),
      loadAverage: os.loadavg().map((l) => Math.round(l * 10) / 10),
    };
    console.log(JSON.stringify(report, null, 2));
    if (stored < ok) {
      console.error(`LOST DELIVERIES: ${ok} answered 2xx but ${stored} stored`);
      process.exitCode = 1;
    }
  } finally {
    await serve.stop();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
