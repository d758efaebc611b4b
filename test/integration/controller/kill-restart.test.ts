/**
 * A controller killed with SIGKILL mid-job: a second controller on the same database notices the dead heartbeat and
 * runs the job, which completes exactly once. `politburo serve` runs as a real child process; the test seam
 * POLITBURO_TEST_JOB_DELAY holds every job long enough to be killed during it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import pg from 'pg';
import { deliveryHeaders, deliveryIdsOf, examplePayload } from './fixtures.js';
import { countJobs, listJobs } from '../../../controller/store/graphile-queue.js';
import { waitFor } from '../../helpers/wait-for.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SECRET = 'kill-test-secret';

interface Child {
  proc: ChildProcess;
  lines: Record<string, unknown>[];
  url: Promise<string>;
}

function serve(databaseUrl: string, extraEnv: Record<string, string>): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'cli/bin.ts', 'serve'], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: databaseUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      GITHUB_WEBHOOK_SECRET: SECRET,
      LOG_LEVEL: 'info',
      POLITBURO_WORKER_HEARTBEAT: '200ms',
      POLITBURO_WORKER_STALE_AFTER: '1500ms',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let resolveUrl!: (u: string) => void;
  const url = new Promise<string>((r) => (resolveUrl = r));
  let buffer = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        const rec = JSON.parse(line) as Record<string, unknown>;
        lines.push(rec);
        if (typeof rec.url === 'string') resolveUrl(rec.url);
      } catch {
        // not a log line
      }
    }
  });
  proc.stderr!.resume();
  return { proc, lines, url };
}

let db: TestDatabase;
let pool: pg.Pool;
const children: ChildProcess[] = [];

before(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url });
});
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await pool.end();
  await db.drop();
});

test(
  'kill -9 mid-job: another controller picks the job up within seconds and it completes once',
  { timeout: 60_000 },
  async () => {
    const first = serve(db.url, { POLITBURO_TEST_JOB_DELAY: '60s' });
    children.push(first.proc);
    const url = await first.url;
    const body = JSON.stringify(examplePayload('star'));
    const headers = deliveryHeaders(SECRET, 'star', body);
    const delivery = headers['x-github-delivery'];
    const res = await fetch(`${url}/webhooks/github`, { method: 'POST', headers, body });
    assert.equal(res.status, 202);
    await waitFor(
      'the first controller to take the job',
      async () => (await listJobs(pool)).some((j) => j.lockedBy !== null && deliveryIdsOf(j).includes(delivery)),
      60_000,
    );

    first.proc.kill('SIGKILL');
    await once(first.proc, 'exit');

    const second = serve(db.url, { POLITBURO_TEST_JOB_DELAY: '100ms' });
    children.push(second.proc);
    await second.url;
    await waitFor(
      'the delivery to be processed',
      async () =>
        (
          await pool.query(`SELECT 1 FROM webhook_deliveries WHERE delivery_id = $1 AND processed_at IS NOT NULL`, [
            delivery,
          ])
        ).rowCount,
      60_000,
    );
    // Recovered within these waits, not after graphile-worker's 4-hour lock timeout.
    await waitFor('an empty queue', async () => (await countJobs(pool)) === 0, 60_000);

    const finished = [...first.lines, ...second.lines].filter(
      (l) => l.msg === 'job finished' && l.delivery === delivery,
    );
    assert.equal(finished.length, 1, 'the job completed exactly once');
    assert.ok(second.lines.some((l) => l.msg === 'released the jobs of dead controller processes'));

    second.proc.kill('SIGTERM');
    const [code] = await once(second.proc, 'exit');
    assert.equal(code, 0, 'SIGTERM stops the controller cleanly with exit code 0');
    assert.equal(
      (await pool.query(`SELECT count(*)::int AS n FROM controller_processes`)).rows[0].n,
      0,
      'the stopped controller removed its heartbeat row',
    );
  },
);
