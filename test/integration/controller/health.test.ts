import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import pg from 'pg';
import request from 'supertest';
import { createServer } from '../../../controller/server.js';
import { createLogger } from '../../../controller/logger.js';
import { JOB_DELIVERY } from '../../../controller/ports.js';
import { enqueue } from '../../../controller/queue/enqueue.js';
import { deliveryHeaders, examplePayload, queueDatabase, type QueueDb } from './fixtures.js';

/** A port nothing listens on: a database that is down. */
async function deadPort(): Promise<number> {
  const srv = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('health, readiness, metrics', () => {
  let q: QueueDb;
  before(async () => {
    q = await queueDatabase();
  });
  after(async () => q.close());

  test('/healthz answers 200 and /readyz 200 on a migrated database', async () => {
    const app = createServer({ pool: q.pool, webhookSecrets: ['s'], logger: q.logger });
    assert.deepEqual((await request(app).get('/healthz')).body, { status: 'ok' });
    const ready = await request(app).get('/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready' });
  });

  test('/readyz is 503 while shutting down', async () => {
    const app = createServer({ pool: q.pool, webhookSecrets: ['s'], logger: q.logger, isShuttingDown: () => true });
    assert.equal((await request(app).get('/readyz')).status, 503);
  });

  test('/readyz is 503 naming the migration when the schema is behind', async () => {
    await q.pool.query(`DELETE FROM pgmigrations WHERE name = '010_controller_processes'`);
    try {
      const app = createServer({ pool: q.pool, webhookSecrets: ['s'], logger: q.logger });
      const res = await request(app).get('/readyz');
      assert.equal(res.status, 503);
      assert.match(res.body.reason, /010_controller_processes.*politburo migrate/);
    } finally {
      await q.pool.query(`INSERT INTO pgmigrations (name, run_on) VALUES ('010_controller_processes', now())`);
    }
  });

  test('with the database down: /healthz 200, /readyz 503, webhooks 503 (never a crash), /metrics still served', async () => {
    const pool = new pg.Pool({
      connectionString: `postgres://postgres@127.0.0.1:${await deadPort()}/none`,
      connectionTimeoutMillis: 1000,
    });
    pool.on('error', () => {});
    try {
      const app = createServer({ pool, webhookSecrets: ['s'], logger: createLogger({ level: 'silent' }) });
      assert.equal((await request(app).get('/healthz')).status, 200);
      const ready = await request(app).get('/readyz');
      assert.equal(ready.status, 503);
      assert.match(ready.body.reason, /database unreachable/);
      const body = JSON.stringify(examplePayload('push'));
      const hook = await request(app)
        .post('/webhooks/github')
        .set(deliveryHeaders('s', 'push', body))
        .send(body);
      assert.equal(hook.status, 503);
      assert.equal(hook.headers['retry-after'], '10');
      assert.equal((await request(app).get('/metrics')).status, 200);
    } finally {
      await pool.end();
    }
  });

  test('/metrics exposes deliveries, queue depth and the metrics other parts update', async () => {
    const app = createServer({ pool: q.pool, webhookSecrets: ['s'], logger: q.logger });
    const body = JSON.stringify(examplePayload('push'));
    assert.equal(
      (
        await request(app)
          .post('/webhooks/github')
          .set(deliveryHeaders('s', 'push', body))
          .send(body)
      ).status,
      202,
    );
    assert.equal(
      (
        await request(app)
          .post('/webhooks/github')
          .set({ ...deliveryHeaders('s', 'push', body), 'x-hub-signature-256': 'sha256=' + '0'.repeat(64) })
          .send(body)
      ).status,
      401,
    );
    const res = await request(app).get('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /text\/plain/);
    assert.match(res.text, /politburo_webhook_deliveries_total\{event="push",outcome="accepted"\} [1-9]/);
    assert.match(res.text, /politburo_webhook_deliveries_total\{event="-",outcome="unauthorized"\} [1-9]/);
    const depth = Number(/politburo_queue_depth\{task="github-delivery"\} (\d+)/.exec(res.text)?.[1]);
    assert.ok(depth >= 1, res.text);
    // A job carrying three deliveries counts as three waiting deliveries.
    await enqueue(q.pool, JOB_DELIVERY, [{ deliveryId: 'm-1' }, { deliveryId: 'm-2' }, { deliveryId: 'm-3' }]);
    const after = (await request(app).get('/metrics')).text;
    assert.equal(Number(/politburo_queue_depth\{task="github-delivery"\} (\d+)/.exec(after)?.[1]), depth + 3, after);
    for (const name of [
      'politburo_run_duration_seconds',
      'politburo_task_outcomes_total',
      'politburo_drifted_nodes',
      'politburo_github_calls_total',
      'politburo_github_rate_limit_remaining',
      'politburo_jobs_total',
      'politburo_process_cpu_seconds_total',
    ]) {
      assert.ok(res.text.includes(`# TYPE ${name}`), `${name} is exported`);
    }
  });
});
