/**
 * Fault: PostgreSQL drops every connection of the controller, repeatedly, while signed deliveries arrive (a failover,
 * a pgbouncer restart, an idle timeout). The real `politburo serve` runs as a child process on its own database, with
 * the fake GitHub; every 2.5 s all of that database's backends are terminated. The process must stay up, answer 202
 * or 503 only, and afterwards every delivery it stored must be processed exactly once (marked processed with the
 * outcome of its handler, its effect, a registered repository, present), the queue empty and /readyz green.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import pg from 'pg';

import { examplePayload } from '../integration/controller/fixtures.js';
import { spawn } from 'node:child_process';
import { createTestDatabase } from '../helpers/db.js';
import { countJobs, listJobs } from '../../controller/store/graphile-queue.js';
import { startFakeGitHub } from '../helpers/fake-github/index.js';
import { signWebhook } from '../helpers/webhook-signature.js';
import { waitFor } from '../helpers/wait-for.js';

const SECRET = 'fault-webhook-secret';
const CLIENTS = 50;
const PER_CLIENT = 8;
const TERMINATIONS = 6;
const TERMINATE_EVERY_MS = 2500;

interface Sent {
  delivery: string;
  repo: string;
  status: number | string;
}

test(
  'the controller stays up, answers 202 or 503, and processes every stored delivery once while its database connections are terminated',
  { timeout: 150_000 },
  async (t) => {
    const db = await createTestDatabase();
    const { privateKey, publicKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const github = await startFakeGitHub({ appPublicKey: publicKey, appId: 77 });
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'politburo-fault-'));
    const dbName = new URL(db.url).pathname.slice(1);
    const controller = await startServe({
      DATABASE_URL: db.url,
      PORT: '0',
      HOST: '127.0.0.1',
      GITHUB_APP_ID: '77',
      GITHUB_PRIVATE_KEY: privateKey,
      GITHUB_API_URL: github.url,
      GITHUB_WEBHOOK_SECRET: SECRET,
      POLITBURO_DATA_DIR: dataDir,
      POLITBURO_CONCURRENCY: '4',
      POLITBURO_WORKER_HEARTBEAT: '500ms',
      POLITBURO_WORKER_STALE_AFTER: '5s',
      POLITBURO_SHUTDOWN_GRACE: '1s',
    });
    const exited = new Promise<string>((resolve) =>
      controller.child.once('exit', (code, signal) => resolve(`exited with ${code ?? signal}`)),
    );
    t.after(async () => {
      await controller.kill();
      await github.close().catch(() => undefined);
      await db.drop().catch(() => undefined);
      await rm(dataDir, { recursive: true, force: true });
    });

    // Each delivery tells the controller about one more repository of the App's installation; processing it registers
    // that repository (a row of `repositories`) and marks the delivery processed. Neither needs git, hosts or GitHub.
    const installation = examplePayload('installation_repositories', (p) => p.action === 'added');
    let next = 0;
    const delivery = (): { body: string; repo: string; id: string } => {
      const n = next++;
      const repo = `acme/fault-${n}`;
      const payload = {
        ...installation,
        repositories_added: [{ id: 9000 + n, node_id: `R${n}`, name: `fault-${n}`, full_name: repo, private: true }],
      };
      return { body: JSON.stringify(payload), repo, id: `fault-${process.pid}-${n}` };
    };
    const send = async (): Promise<Sent> => {
      const d = delivery();
      const signature = signWebhook(SECRET, d.body);
      try {
        const res = await fetch(`${controller.url}/webhooks/github`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-github-event': 'installation_repositories',
            'x-github-delivery': d.id,
            'x-hub-signature-256': signature,
          },
          body: d.body,
          signal: AbortSignal.timeout(30_000),
        });
        await res.arrayBuffer();
        return { delivery: d.id, repo: d.repo, status: res.status };
      } catch (err) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        return {
          delivery: d.id,
          repo: d.repo,
          status: `${(err as Error).message}${cause ? ` (${cause.code ?? ''} ${cause.message ?? ''})` : ''}`,
        };
      }
    };

    // A connection to the maintenance database: it terminates the backends of this test's database only.
    const maintenance = new URL(db.url);
    maintenance.pathname = '/postgres';
    const killer = new pg.Client({ connectionString: maintenance.toString() });
    await killer.connect();
    t.after(() => killer.end().catch(() => undefined));
    let terminating = true;
    const terminations = (async () => {
      for (let i = 0; i < TERMINATIONS; i++) {
        await new Promise((r) => setTimeout(r, TERMINATE_EVERY_MS));
        await killer.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [dbName],
        );
      }
      terminating = false;
    })();
    const sent: Sent[] = [];
    const pace = (TERMINATIONS * TERMINATE_EVERY_MS) / PER_CLIENT;
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        await new Promise((r) => setTimeout(r, (c * pace) / CLIENTS));
        for (let i = 0; i < PER_CLIENT && terminating; i++) {
          sent.push(await send());
          await new Promise((r) => setTimeout(r, pace));
        }
      }),
    );
    await terminations;

    // Then the database goes away for a while (no new connection is allowed): deliveries get 503 with Retry-After and
    // /readyz turns 503; once it is back, both recover without a restart.
    await killer.query(`ALTER DATABASE ${pg.escapeIdentifier(dbName)} WITH ALLOW_CONNECTIONS false`);
    await killer.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [dbName],
    );
    const away = await Promise.all(Array.from({ length: 5 }, () => send()));
    const ready = await fetch(`${controller.url}/readyz`);
    await killer.query(`ALTER DATABASE ${pg.escapeIdentifier(dbName)} WITH ALLOW_CONNECTIONS true`);
    assert.deepEqual(
      away.map((a) => a.status),
      [503, 503, 503, 503, 503],
      'deliveries while the database is away',
    );
    assert.equal(ready.status, 503, 'readiness while the database is away');
    sent.push(...away);
    const back = await waitFor('a delivery to be accepted again', async () => {
      const s = await send();
      sent.push(s);
      return s.status === 202;
    });
    assert.ok(back);

    assert.equal(controller.child.exitCode, null, `the controller died:\n${controller.log().slice(-4000)}`);
    const unexpected = sent.filter((s) => s.status !== 202 && s.status !== 503);
    assert.deepEqual(unexpected, [], `answers other than 202 or 503:\n${controller.log().slice(-4000)}`);
    const accepted = sent.filter((s) => s.status === 202);
    t.diagnostic(`${sent.length} deliveries sent, ${accepted.length} accepted, the rest 503`);
    assert.ok(accepted.length > sent.length / 2, `only ${accepted.length} of ${sent.length} deliveries were accepted`);

    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    pool.on('error', () => undefined);
    t.after(() => pool.end().catch(() => undefined));
    let state: unknown;
    const outcome = await Promise.race([
      waitFor(
        'every stored delivery processed, the job queue and the GitHub write queue empty',
        async () => {
          const { rows } = await pool.query<{ pending: number; writes: number }>(
            `SELECT (SELECT count(*)::int FROM webhook_deliveries WHERE processed_at IS NULL) AS pending,
                  (SELECT count(*)::int FROM github_writes) AS writes`,
          );
          const jobs = await countJobs(pool);
          state = { ...rows[0], jobs };
          return rows[0].pending === 0 && jobs === 0 && rows[0].writes === 0;
        },
        60_000,
      ).then(
        () => 'drained',
        (err: Error) => `${err.message} (${JSON.stringify(state)})`,
      ),
      exited,
    ]);
    if (outcome !== 'drained') assert.fail(`${outcome}\n${await whatIsLeft(pool, dbName)}\n${controller.log()}`);

    const { rows } = await pool.query<{ delivery_id: string; outcome: string | null }>(
      `SELECT delivery_id, outcome FROM webhook_deliveries`,
    );
    const stored = new Map(rows.map((r) => [r.delivery_id, r.outcome]));
    const registered = new Set(
      (await pool.query<{ key: string }>(`SELECT key FROM repositories`)).rows.map((r) => r.key),
    );
    for (const s of accepted)
      assert.ok(stored.has(s.delivery), `delivery ${s.delivery} answered 202 but is not stored`);
    // A 503 may still have been stored (the answer was lost, not the commit): then it is processed like the others.
    for (const s of sent) {
      if (!stored.has(s.delivery)) {
        assert.ok(
          !registered.has(s.repo),
          `delivery ${s.delivery} refused with ${s.status} and not stored, yet acted on`,
        );
        continue;
      }
      assert.equal(stored.get(s.delivery), 'registered 1 repositories', `outcome of delivery ${s.delivery}`);
      assert.ok(registered.has(s.repo), `the repository of delivery ${s.delivery} is registered`);
    }
    assert.equal(stored.size, sent.filter((s) => stored.has(s.delivery)).length, 'nothing stored that was not sent');
    await waitFor('/readyz to be green', async () => (await fetch(`${controller.url}/readyz`)).status === 200, 30_000);
    assert.equal(controller.child.exitCode, null);
  },
);

/** The queue, GitHub writes, controller processes and connections of the database, for a failure message. */
async function whatIsLeft(pool: pg.Pool, dbName: string): Promise<string> {
  const q = async (sql: string, values: unknown[] = []) => (await pool.query(sql, values)).rows;
  return JSON.stringify({
    jobs: (await listJobs(pool)).map((j) => ({
      id: j.id,
      locked_by: j.lockedBy,
      attempts: j.attempts,
      last_error: j.lastError,
    })),
    processes: await q(`SELECT id, worker_pool_id FROM controller_processes`),
    writes: await q(
      `SELECT attempts, last_error, failed_at IS NOT NULL AS failed, count(*)::int AS n FROM github_writes GROUP BY 1, 2, 3`,
    ),
    activity: await q(
      `SELECT a.pid, a.state, a.wait_event, left(a.query, 100) AS query, array_agg(l.locktype || ':' || l.granted) AS locks
         FROM pg_stat_activity a LEFT JOIN pg_locks l USING (pid) WHERE a.datname = $1 GROUP BY 1, 2, 3, 4`,
      [dbName],
    ),
  });
}

interface Serve {
  child: ReturnType<typeof spawn>;
  url: string;
  /** The last lines of its log (JSON lines on stdout, anything on stderr). */
  log(): string;
  /** SIGTERM, then SIGKILL if it has not exited within 15 s. */
  kill(): Promise<void>;
}

/** `politburo serve` as a child process (like test/e2e/spawn-controller.ts, keeping its log for failure messages). */
async function startServe(env: Record<string, string>): Promise<Serve> {
  const root = path.resolve(import.meta.dirname, '../..');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'cli', 'bin.ts'), 'serve'], {
    cwd: root,
    env: { ...process.env, ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (c: Buffer) => (log = (log + c.toString()).slice(-400_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const url = await waitFor(
    'the controller to listen',
    () => {
      if (child.exitCode !== null)
        throw new Error(`the controller exited with ${child.exitCode}:\n${log.slice(-3000)}`);
      return /"url":"(http:\/\/[^"]+)"[^\n]*listening/.exec(log)?.[1];
    },
    30_000,
  );
  return {
    child,
    url,
    log: () =>
      log
        .split('\n')
        .filter((l) => !l.includes('"level":30'))
        .slice(-60)
        .join('\n'),
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
