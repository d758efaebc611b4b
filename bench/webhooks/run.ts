/**
 * Webhook ingestion benchmark: `politburo serve` (a child process, queue worker running) on a fresh database of a
 * real PostgreSQL; signed `push` deliveries (a real @octokit/webhooks-examples payload, a unique delivery id each) go
 * over N connections for D seconds, either as fast as the server answers (autocannon, closed loop) or at a fixed rate
 * (--rate, evenly spaced: paced.ts); prints accepted deliveries/s and latency percentiles, and checks that nothing was
 * lost: rows stored >= 2xx answers.
 *
 *   node --import tsx bench/webhooks/run.ts [--connections 100] [--duration 30] [--rate N] [--profile DIR]
 *
 * DATABASE_URL names the server (default postgres://postgres@127.0.0.1:5432/postgres); a throwaway database is
 * created on it and dropped afterwards.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { once } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { runPaced, type PacedResult } from './paced.js';
import { countJobs } from '../../controller/store/graphile-queue.js';
import { signWebhook } from '../../test/helpers/webhook-signature.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
const SECRET = 'bench-secret';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '100' },
    duration: { type: 'string', default: '30' },
    rate: { type: 'string' },
    /** Seconds of the same load before the measured run, not counted (a fresh process: JIT, pools, connections). */
    warmup: { type: 'string', default: '5' },
    /** Writes a V8 CPU profile of the server process into this directory (open it in Chrome DevTools). */
    profile: { type: 'string' },
  },
});
const connections = Number(values.connections);
const duration = Number(values.duration);
/** Deliveries per second, evenly spaced over all connections (paced.ts); unset: as fast as the server answers. */
const rate = values.rate ? Number(values.rate) : undefined;
const warmup = Number(values.warmup);

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
  const profile = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(values.profile)}`] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', 'cli/bin.ts', 'serve'], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      GITHUB_WEBHOOK_SECRET: SECRET,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      POLITBURO_INGEST_ONLY: 'true',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`politburo serve exited with ${child.exitCode}`);
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
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
  // Every run starts right after a checkpoint (runs otherwise differ by where the last one fell: the first write to a
  // page after a checkpoint logs the whole page). Needs a superuser; skipped otherwise.
  await admin.query('CHECKPOINT').catch((err: Error) => console.error(`no CHECKPOINT before the run (${err.message})`));
  try {
    const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as {
      name: string;
      examples: unknown[];
    }[];
    const body = JSON.stringify(sets.find((s) => s.name === 'push')!.examples[0]);
    const signature = signWebhook(SECRET, body);
    console.error(
      `benchmark: ${connections} connections for ${duration}s${rate ? ` at ${rate}/s` : ''} against ${serve.url} (${os.cpus().length} cores, payload ${body.length} bytes)`,
    );
    const headers = { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signature };
    // Unbounded: autocannon, each connection sending its next request as soon as it has an answer (closed loop).
    // --rate: runPaced, requests evenly spaced at the rate whatever the answers' pace (open loop; see paced.ts).
    const load = async (seconds: number): Promise<PacedResult> =>
      rate
        ? runPaced({
            url: serve.url,
            rate,
            connections,
            durationS: seconds,
            request: {
              path: '/webhooks/github',
              body,
              headers: () => ({ ...headers, 'x-github-delivery': randomUUID() }),
            },
          })
        : fromAutocannon(
            await autocannon({
              url: `${serve.url}/webhooks/github`,
              connections,
              duration: seconds,
              requests: [
                {
                  method: 'POST',
                  body,
                  headers,
                  setupRequest: (req: any) => ({
                    ...req,
                    headers: { ...req.headers, 'x-github-delivery': randomUUID() },
                  }),
                },
              ],
            }),
            seconds,
          );
    const warm = warmup > 0 ? await load(warmup) : null;
    const result = await load(duration);
    const pool = new pg.Pool({ connectionString: dbUrl });
    const stored = Number((await pool.query('SELECT count(*) FROM webhook_deliveries')).rows[0].count);
    const jobs = await countJobs(pool);
    const processed = Number(
      (await pool.query('SELECT count(*) FROM webhook_deliveries WHERE processed_at IS NOT NULL')).rows[0].count,
    );
    await pool.end();
    const ok = result.ok2xx + (warm?.ok2xx ?? 0);
    const report = {
      connections,
      durationS: duration,
      warmup: warm
        ? { durationS: warmup, accepted2xx: warm.ok2xx, non2xx: warm.non2xx + warm.errors, latencyMs: warm.latencyMs }
        : null,
      offeredRate: rate ?? 'unbounded',
      requests: result.requests,
      accepted2xx: result.ok2xx,
      non2xx: result.non2xx,
      errors: result.errors,
      ...(result.errors ? { errorCodes: result.errorCodes } : {}),
      acceptedPerSecond: Math.round(result.ok2xx / result.elapsedS),
      latencyMs: result.latencyMs,
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

function fromAutocannon(r: Awaited<ReturnType<typeof autocannon>>, durationS: number): PacedResult {
  return {
    requests: r.requests.total,
    ok2xx: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    errorCodes: r.timeouts ? { timeout: r.timeouts } : {},
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
    elapsedS: durationS,
  };
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
