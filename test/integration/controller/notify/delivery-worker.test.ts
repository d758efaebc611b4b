/**
 * The notification delivery worker against real PostgreSQL and real receivers on 127.0.0.1: deliveries survive a
 * restart (even one mid-attempt), a refusal (4xx) is not retried, connection errors are retried up to the bound, two
 * replicas send each delivery once, and without a secret nothing is signed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { createLogger } from '../../../../controller/logger.js';
import { createAlertDeliveryWorker, type AlertDeliveryWorker } from '../../../../controller/notify/delivery-worker.js';
import { createPgNotifier } from '../../../../controller/notify/notifier.js';
import { pruneAlertDeliveries } from '../../../../controller/store/alert-deliveries.js';
import { verifySignature, type Notification } from '../../../../controller/notify/event.js';
import { createTestDatabase, type TestDatabase } from '../../../helpers/db.js';
import { startAlertReceiver, type AlertReceiver } from '../../../helpers/alert-receiver.js';
import { waitFor } from '../../../helpers/wait-for.js';

const SECRET = 'worker-test-secret';

describe('notification delivery worker', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  const receivers: AlertReceiver[] = [];
  const workers: AlertDeliveryWorker[] = [];
  const logger = createLogger({ level: 'silent' });
  const note = (environment: string): Notification => ({
    kind: 'apply-succeeded',
    repository: 'acme/infra',
    environment,
    commit: 'a'.repeat(40),
    runId: '7',
  });
  const worker = (opts: { secret?: string; attempts?: number } = {}) => {
    const w = createAlertDeliveryWorker({
      pool,
      fetch: globalThis.fetch,
      logger,
      secret: 'secret' in opts ? opts.secret : SECRET,
      attempts: opts.attempts ?? 5,
      timeoutMs: 30_000,
      backoffMs: 20,
      pollIntervalMs: 100,
    });
    workers.push(w);
    return w;
  };
  /** Each test's workers stop at its end: the next test's bounds are its own workers'. */
  const stopWorkers = () => Promise.all(workers.splice(0).map((w) => w.stop()));
  const receiver = async (answer: Parameters<typeof startAlertReceiver>[0]) => {
    const r = await startAlertReceiver(answer);
    receivers.push(r);
    return r;
  };
  const row = async (url: string) =>
    (
      await pool.query<{
        attempts: number;
        delivered_at: Date | null;
        failed_at: Date | null;
        last_error: string | null;
      }>(`SELECT attempts, delivered_at, failed_at, last_error FROM alert_deliveries WHERE url = $1`, [url])
    ).rows;

  before(async () => {
    db = await createTestDatabase();
    pool = new pg.Pool({ connectionString: db.url, max: 8 });
    pool.on('error', () => {});
  });
  after(async () => {
    await stopWorkers();
    for (const r of receivers) r.answerHeld(200);
    await Promise.all(receivers.map((r) => r.close()));
    await pool?.end();
    await db?.drop();
  });

  test('a delivery survives a restart, even one that stopped mid-attempt, and goes out with the same bytes', async () => {
    const r = await receiver(() => 'hold');
    const first = worker();
    const notifier = createPgNotifier({ pool, urls: [r.url], onQueued: () => first.kick() });
    const event = await notifier.notify(note('restart'));
    assert.ok(event);
    await waitFor('the first attempt', () => r.received.length === 1);
    await first.stop(); // the attempt in flight is abandoned, the row stays
    assert.deepEqual(
      (await row(r.url)).map((x) => [x.delivered_at, x.failed_at, x.last_error]),
      [[null, null, 'interrupted by shutdown']],
    );
    r.answer = () => 200;
    worker().start(); // "after the restart"
    await waitFor('delivered after the restart', async () => (await row(r.url))[0].delivered_at);
    assert.equal(r.received.length, 2);
    assert.equal(r.received[1].raw, r.received[0].raw);
    assert.equal(r.received[1].body.id, event.id);
    assert.ok(verifySignature(SECRET, r.received[1].raw, r.received[1].headers['x-politburo-signature-256'] as string));
    await stopWorkers();
  });

  test('a 4xx answer is given up at once; connection refused is retried up to the bound', async () => {
    const refusing = await receiver(() => 404);
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/hook`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const w = worker({ attempts: 3 });
    const notifier = createPgNotifier({ pool, urls: [refusing.url, deadUrl], onQueued: () => w.kick() });
    await notifier.notify(note('refused'));
    assert.equal(await w.flush({ timeoutMs: 60_000 }), 0);
    const [gone] = await row(refusing.url);
    assert.equal(gone.attempts, 1);
    assert.ok(gone.failed_at);
    assert.equal(gone.last_error, 'the webhook answered 404');
    assert.equal(refusing.received.length, 1);
    const [dead] = await row(deadUrl);
    assert.equal(dead.attempts, 3);
    assert.ok(dead.failed_at);
    assert.match(dead.last_error ?? '', /^gave up after 3 attempts: ECONNREFUSED/);
    await stopWorkers();
  });

  test('two replicas send each delivery exactly once; without a secret nothing is signed', async () => {
    const r = await receiver(() => 200);
    const a = worker({ secret: undefined });
    const b = worker({ secret: undefined });
    a.start();
    b.start();
    const notifier = createPgNotifier({
      pool,
      urls: [r.url],
      onQueued: () => {
        a.kick();
        b.kick();
      },
    });
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) ids.add((await notifier.notify(note(`env-${i}`)))!.id);
    await waitFor('every event delivered', async () => (await row(r.url)).every((x) => x.delivered_at));
    assert.equal((await row(r.url)).length, 20);
    assert.deepEqual(new Set(r.received.map((x) => x.body.id)), ids);
    assert.equal(r.received.length, 20, 'no event sent twice');
    assert.ok(r.received.every((x) => x.headers['x-politburo-signature-256'] === undefined));
  });

  test('delivered rows are forgotten after 7 days, given-up ones after 30, pending ones never', async () => {
    await pool.query(`DELETE FROM alert_deliveries`);
    await pool.query(
      `INSERT INTO alert_deliveries (event_id, kind, url, body, delivered_at, failed_at, created_at) VALUES
        (gen_random_uuid(), 'apply-failed', 'http://a/old-delivered', '{}', now() - interval '8 days', NULL, now() - interval '8 days'),
        (gen_random_uuid(), 'apply-failed', 'http://a/new-delivered', '{}', now() - interval '6 days', NULL, now() - interval '6 days'),
        (gen_random_uuid(), 'apply-failed', 'http://a/old-failed', '{}', NULL, now() - interval '31 days', now() - interval '31 days'),
        (gen_random_uuid(), 'apply-failed', 'http://a/new-failed', '{}', NULL, now() - interval '8 days', now() - interval '8 days'),
        (gen_random_uuid(), 'apply-failed', 'http://a/pending', '{}', NULL, NULL, now() - interval '60 days')`,
    );
    assert.equal(await pruneAlertDeliveries(pool), 2);
    const left = (await pool.query<{ url: string }>(`SELECT url FROM alert_deliveries ORDER BY id`)).rows;
    assert.deepEqual(
      left.map((r) => r.url),
      ['http://a/new-delivered', 'http://a/new-failed', 'http://a/pending'],
    );
  });
});
