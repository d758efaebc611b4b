import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import type { RequestListener } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { createHttpServer, createServer } from '../../../controller/server.js';
import { JOB_DELIVERY } from '../../../controller/ports.js';
import { startQueueWorker } from '../../../controller/queue/queue-worker.js';
import { createFallbackTaskList } from '../../../controller/fallback-tasks.js';
import { createPgDeliveryRecords } from '../../../controller/store/deliveries.js';
import {
  deliveryHeaders,
  deliveryIdsOf,
  examplePayload,
  jobs,
  queueDatabase,
  type QueueDb,
} from '../controller/fixtures.js';
import { signWebhook } from '../../helpers/webhook-signature.js';
import { waitFor } from '../../helpers/wait-for.js';

const SECRET = 'test-secret-current';
const OLD_SECRET = 'test-secret-previous';

describe('POST /webhooks/github', () => {
  let q: QueueDb;
  let app: RequestListener;
  const push = JSON.stringify(examplePayload('push'));

  before(async () => {
    q = await queueDatabase();
    app = createServer({ pool: q.pool, webhookSecrets: [SECRET, OLD_SECRET], logger: q.logger });
  });
  after(async () => q.close());

  async function deliveryCount(): Promise<number> {
    return Number((await q.pool.query('SELECT count(*) FROM webhook_deliveries')).rows[0].count);
  }

  test('a valid signed push is stored and its job queued before the 202', async () => {
    const headers = deliveryHeaders(SECRET, 'push', push);
    const res = await request(app).post('/webhooks/github').set(headers).send(push);
    assert.equal(res.status, 202, res.text);
    assert.deepEqual(res.body, { accepted: true, delivery: headers['x-github-delivery'] });
    const { rows } = await q.pool.query('SELECT * FROM webhook_deliveries WHERE delivery_id = $1', [
      headers['x-github-delivery'],
    ]);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].event, 'push');
    assert.equal(rows[0].repository, (JSON.parse(push) as { repository: { full_name: string } }).repository.full_name);
    assert.deepEqual(rows[0].payload, JSON.parse(push));
    const queued = (await jobs(q.pool, JOB_DELIVERY)).filter((j) =>
      deliveryIdsOf(j).includes(headers['x-github-delivery']),
    );
    assert.equal(queued.length, 1);
    assert.deepEqual(queued[0].payload, [{ deliveryId: headers['x-github-delivery'] }], 'a batch of one');
  });

  test('the indexed fields are read from the payload: action, repository, installation id', async () => {
    const payload = { ...(JSON.parse(push) as object), action: 'created', installation: { id: 4242, node_id: 'x' } };
    const body = JSON.stringify(payload);
    const headers = deliveryHeaders(SECRET, 'push', body);
    assert.equal((await request(app).post('/webhooks/github').set(headers).send(body)).status, 202);
    const { rows } = await q.pool.query(
      'SELECT action, repository, installation_id::int AS installation_id FROM webhook_deliveries WHERE delivery_id = $1',
      [headers['x-github-delivery']],
    );
    assert.deepEqual(rows[0], { action: 'created', repository: 'Codertocat/Hello-World', installation_id: 4242 });
    // Fields of the wrong type are not indexed, and the delivery is still stored.
    const odd = JSON.stringify({ action: 7, repository: { full_name: ['a'] }, installation: { id: 'nine' } });
    const oddHeaders = deliveryHeaders(SECRET, 'push', odd);
    assert.equal((await request(app).post('/webhooks/github').set(oddHeaders).send(odd)).status, 202);
    const stored = await q.pool.query(
      'SELECT action, repository, installation_id FROM webhook_deliveries WHERE delivery_id = $1',
      [oddHeaders['x-github-delivery']],
    );
    assert.deepEqual(stored.rows[0], { action: null, repository: null, installation_id: null });
  });

  test('a replayed delivery id answers 200 duplicate and queues nothing new', async () => {
    const headers = deliveryHeaders(SECRET, 'push', push);
    assert.equal((await request(app).post('/webhooks/github').set(headers).send(push)).status, 202);
    const before = (await jobs(q.pool)).length;
    const again = await request(app).post('/webhooks/github').set(headers).send(push);
    assert.equal(again.status, 200);
    assert.equal(again.body.duplicate, true);
    assert.equal((await jobs(q.pool)).length, before);
    const { rows } = await q.pool.query('SELECT count(*)::int AS n FROM webhook_deliveries WHERE delivery_id = $1', [
      headers['x-github-delivery'],
    ]);
    assert.equal(rows[0].n, 1);
  });

  test('concurrent replays of one delivery store and queue it once', async () => {
    const headers = deliveryHeaders(SECRET, 'push', push);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => request(app).post('/webhooks/github').set(headers).send(push)),
    );
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 200, 200, 200, 200, 200, 200, 202]);
    assert.equal(
      (await jobs(q.pool, JOB_DELIVERY)).filter((j) => deliveryIdsOf(j).includes(headers['x-github-delivery'])).length,
      1,
    );
  });

  test('a burst of deliveries is written together, each answered for itself; one unstorable payload fails alone', async () => {
    const bad = '{"a":"unterminated}';
    const sends = Array.from({ length: 40 }, () => {
      const headers = deliveryHeaders(SECRET, 'push', push);
      return {
        id: headers['x-github-delivery'],
        send: () => request(app).post('/webhooks/github').set(headers).send(push),
      };
    });
    const badHeaders = deliveryHeaders(SECRET, 'push', bad);
    const array = '[{"ref":"refs/heads/main"}]';
    const arrayHeaders = deliveryHeaders(SECRET, 'push', array);
    const answers = await Promise.all([
      ...sends.map((s) => s.send()),
      request(app).post('/webhooks/github').set(badHeaders).send(bad),
      request(app).post('/webhooks/github').set(arrayHeaders).send(array),
    ]);
    assert.deepEqual(
      answers.slice(0, 40).map((a) => a.status),
      Array(40).fill(202),
    );
    assert.equal(answers[40].status, 400, answers[40].text);
    assert.match(answers[40].body.error, /not valid JSON/);
    assert.equal(answers[41].status, 400, answers[41].text);
    assert.match(answers[41].body.error, /JSON object/);
    assert.equal(
      (
        await q.pool.query('SELECT 1 FROM webhook_deliveries WHERE delivery_id = $1', [
          arrayHeaders['x-github-delivery'],
        ])
      ).rowCount,
      0,
    );
    const ids = sends.map((s) => s.id);
    const { rows } = await q.pool.query(
      'SELECT count(*)::int AS n FROM webhook_deliveries WHERE delivery_id = ANY($1)',
      [ids],
    );
    assert.equal(rows[0].n, 40);
    // Each stored delivery is in exactly one job (a batch that failed is stored again one by one).
    const carried = (await jobs(q.pool, JOB_DELIVERY)).flatMap(deliveryIdsOf).filter((id) => ids.includes(id));
    assert.deepEqual([...carried].sort(), [...ids].sort());
    const stored = await q.pool.query('SELECT count(*)::int AS n FROM webhook_deliveries WHERE delivery_id = $1', [
      badHeaders['x-github-delivery'],
    ]);
    assert.equal(stored.rows[0].n, 0);
  });

  test('deliveries written by one statement share one job; each is in exactly one job', async () => {
    const sends = Array.from({ length: 40 }, () => {
      const headers = deliveryHeaders(SECRET, 'push', push);
      return {
        id: headers['x-github-delivery'],
        send: () => request(app).post('/webhooks/github').set(headers).send(push),
      };
    });
    const answers = await Promise.all(sends.map((s) => s.send()));
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(40).fill(202),
    );
    const ids = sends.map((s) => s.id);
    const mine = (await jobs(q.pool, JOB_DELIVERY)).filter((j) => deliveryIdsOf(j).some((id) => ids.includes(id)));
    assert.deepEqual(mine.flatMap(deliveryIdsOf).sort(), [...ids].sort());
    assert.ok(mine.length < 40, `${mine.length} jobs for 40 deliveries that arrived together`);
    for (const j of mine) assert.ok(Array.isArray(j.payload) && j.payload.length >= 1);
  });

  test('secret rotation: a delivery signed with an old secret is accepted, an unknown secret is not', async () => {
    const old = deliveryHeaders(OLD_SECRET, 'push', push);
    assert.equal((await request(app).post('/webhooks/github').set(old).send(push)).status, 202);
    const wrong = deliveryHeaders('not-the-secret', 'push', push);
    const res = await request(app).post('/webhooks/github').set(wrong).send(push);
    assert.equal(res.status, 401);
    assert.match(res.body.error, /GITHUB_WEBHOOK_SECRET/);
  });

  test('bad input battery: every case is a 4xx naming the problem, nothing is stored or queued', async () => {
    const body = push;
    const base = deliveryHeaders(SECRET, 'push', body);
    const without = (name: string) => Object.fromEntries(Object.entries(base).filter(([k]) => k !== name));
    const truncated = body.slice(0, body.length / 2);
    const latin1 = Buffer.from('{"ref":"caf\xe9"}', 'latin1');
    const deep = `{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const cases: {
      name: string;
      headers: Record<string, string>;
      body: string | Buffer;
      status: number;
      error: RegExp;
    }[] = [
      {
        name: 'wrong signature',
        headers: { ...base, 'x-hub-signature-256': signWebhook('wrong', body) },
        body,
        status: 401,
        error: /signature mismatch/,
      },
      {
        name: 'missing signature',
        headers: without('x-hub-signature-256'),
        body,
        status: 401,
        error: /missing X-Hub-Signature-256/,
      },
      {
        name: 'sha1-only signature',
        headers: {
          ...without('x-hub-signature-256'),
          'x-hub-signature': 'sha1=0123456789abcdef0123456789abcdef01234567',
        },
        body,
        status: 401,
        error: /SHA-1/,
      },
      {
        name: 'malformed signature',
        headers: { ...base, 'x-hub-signature-256': 'sha256=xyz' },
        body,
        status: 401,
        error: /sha256=/,
      },
      {
        name: 'signature of another body',
        headers: base,
        body: body.replace('"ref"', '"ref" '),
        status: 401,
        error: /mismatch/,
      },
      {
        name: 'truncated JSON, validly signed',
        headers: { ...base, 'x-hub-signature-256': signWebhook(SECRET, truncated) },
        body: truncated,
        status: 400,
        error: /not valid JSON/,
      },
      {
        name: 'non-JSON, validly signed',
        headers: { ...base, 'x-hub-signature-256': signWebhook(SECRET, 'hello') },
        body: 'hello',
        status: 400,
        error: /not valid JSON/,
      },
      {
        name: 'JSON that is not an object',
        headers: { ...base, 'x-hub-signature-256': signWebhook(SECRET, '[1,2]') },
        body: '[1,2]',
        status: 400,
        error: /JSON object/,
      },
      {
        name: 'empty body, validly signed',
        headers: { ...base, 'x-hub-signature-256': signWebhook(SECRET, '') },
        body: '',
        status: 400,
        error: /body is empty/,
      },
      {
        name: 'not UTF-8, signed as bytes',
        headers: { ...base, 'x-hub-signature-256': signWebhook(SECRET, latin1) },
        body: latin1,
        status: 400,
        error: /body is not valid UTF-8/,
      },
      {
        name: 'not UTF-8, signed by an old secret',
        headers: { ...base, 'x-hub-signature-256': signWebhook(OLD_SECRET, latin1) },
        body: latin1,
        status: 400,
        error: /body is not valid UTF-8/,
      },
      {
        name: 'not UTF-8, wrong signature',
        headers: { ...base, 'x-hub-signature-256': signWebhook('wrong', latin1) },
        body: latin1,
        status: 401,
        error: /signature mismatch.*not valid UTF-8/,
      },
      {
        name: 'nested deeper than PostgreSQL parses',
        headers: { ...base, 'x-hub-signature-256': signWebhook(SECRET, deep) },
        body: deep,
        status: 400,
        error: /nested too deeply/,
      },
      {
        name: 'gzip content encoding',
        headers: { ...base, 'content-encoding': 'gzip' },
        body,
        status: 415,
        error: /content encoding gzip/,
      },
      {
        name: 'form-encoded content type',
        headers: { ...base, 'content-type': 'application/x-www-form-urlencoded' },
        body: `payload=${encodeURIComponent(body)}`,
        status: 415,
        error: /application\/json/,
      },
      {
        name: 'text content type',
        headers: { ...base, 'content-type': 'text/plain' },
        body,
        status: 415,
        error: /application\/json/,
      },
      {
        name: 'missing X-GitHub-Event',
        headers: without('x-github-event'),
        body,
        status: 400,
        error: /X-GitHub-Event/,
      },
      {
        name: 'missing X-GitHub-Delivery',
        headers: without('x-github-delivery'),
        body,
        status: 400,
        error: /X-GitHub-Delivery/,
      },
      {
        name: 'delivery id with spaces',
        headers: { ...base, 'x-github-delivery': 'a b' },
        body,
        status: 400,
        error: /X-GitHub-Delivery/,
      },
    ];
    const deliveriesBefore = await deliveryCount();
    const jobsBefore = (await jobs(q.pool)).length;
    for (const c of cases) {
      // Bodies go as bytes, as given (superagent would JSON-encode a Buffer under application/json).
      const res = await request(app)
        .post('/webhooks/github')
        .set(c.headers)
        .serialize((b: string) => b)
        .send(c.body);
      assert.equal(res.status, c.status, `${c.name}: ${res.status} ${res.text}`);
      assert.match(res.body.error ?? '', c.error, c.name);
    }
    assert.equal(await deliveryCount(), deliveriesBefore);
    assert.equal((await jobs(q.pool)).length, jobsBefore);
    assert.equal((await request(app).get('/healthz')).status, 200);
  });

  test('a payload with \\u0000 escapes is stored (each NUL as U+FFFD, which PostgreSQL can hold), with its job', async () => {
    const body = JSON.stringify({
      ref: 'refs/heads/main',
      comment: 'a\u0000b\u0000',
      literal: '\\u0000 stays text',
      both: '\\\u0000',
    });
    assert.match(body, /\\u0000/);
    const headers = deliveryHeaders(SECRET, 'push', body);
    const res = await request(app)
      .post('/webhooks/github')
      .set(headers)
      .serialize((b: string) => b)
      .send(body);
    assert.equal(res.status, 202, res.text);
    const { rows } = await q.pool.query('SELECT payload FROM webhook_deliveries WHERE delivery_id = $1', [
      headers['x-github-delivery'],
    ]);
    assert.deepEqual(rows[0].payload, {
      ref: 'refs/heads/main',
      comment: 'a\ufffdb\ufffd',
      literal: '\\u0000 stays text',
      both: '\\\ufffd',
    });
    assert.equal(
      (await jobs(q.pool, JOB_DELIVERY)).filter((j) => deliveryIdsOf(j).includes(headers['x-github-delivery'])).length,
      1,
    );
  });

  test('an oversized body (> 26 MB) is refused with 413 and nothing stored', async () => {
    const big = ' '.repeat(27 * 1024 * 1024);
    const before = await deliveryCount();
    const res = await request(app)
      .post('/webhooks/github')
      .set(deliveryHeaders(SECRET, 'push', 'x'))
      .send(big);
    assert.equal(res.status, 413);
    assert.equal(await deliveryCount(), before);
  });

  test('unknown events and a null repository are stored and acknowledged; ping answers 200 without storing', async () => {
    const star = JSON.stringify(examplePayload('star'));
    const h1 = deliveryHeaders(SECRET, 'star', star);
    assert.equal((await request(app).post('/webhooks/github').set(h1).send(star)).status, 202);
    const invented = JSON.stringify({ action: 'exploded', repository: null });
    const h2 = deliveryHeaders(SECRET, 'some_future_event', invented);
    assert.equal((await request(app).post('/webhooks/github').set(h2).send(invented)).status, 202);
    const { rows } = await q.pool.query('SELECT repository, action FROM webhook_deliveries WHERE delivery_id = $1', [
      h2['x-github-delivery'],
    ]);
    assert.deepEqual(rows[0], { repository: null, action: 'exploded' });
    const ping = JSON.stringify(examplePayload('ping'));
    const h3 = deliveryHeaders(SECRET, 'ping', ping);
    const res = await request(app).post('/webhooks/github').set(h3).send(ping);
    assert.equal(res.status, 200);
    assert.equal(res.body.ok, true);
    assert.equal(
      (await q.pool.query('SELECT 1 FROM webhook_deliveries WHERE delivery_id = $1', [h3['x-github-delivery']]))
        .rowCount,
      0,
    );
  });

  test('an accepted delivery wakes the workers at once (coalesced NOTIFY), not at their next poll', async () => {
    const worker = await startQueueWorker({
      pool: q.pool,
      taskList: createFallbackTaskList({ deliveries: createPgDeliveryRecords(q.pool) }),
      concurrency: 2,
      logger: q.logger,
      heartbeatIntervalMs: 1000,
      staleAfterMs: 30_000,
      pollIntervalMs: 3_600_000, // an hour: a delivery processed within the test was woken by the NOTIFY, not a poll
    });
    try {
      // Let the worker drain what earlier tests queued, then send one delivery.
      await waitFor('earlier jobs to drain', async () => (await jobs(q.pool, JOB_DELIVERY)).length === 0, 60_000);
      const headers = deliveryHeaders(SECRET, 'push', push);
      assert.equal((await request(app).post('/webhooks/github').set(headers).send(push)).status, 202);
      await waitFor(
        'the delivery to be processed',
        async () =>
          (
            await q.pool.query(`SELECT 1 FROM webhook_deliveries WHERE delivery_id = $1 AND processed_at IS NOT NULL`, [
              headers['x-github-delivery'],
            ])
          ).rowCount,
        60_000,
      );
    } finally {
      await worker.stop(5000);
    }
  });

  test('webhooks are refused (401) when no secret is configured', async () => {
    const closed = createServer({ pool: q.pool, webhookSecrets: [], logger: q.logger });
    const res = await request(closed)
      .post('/webhooks/github')
      .set(deliveryHeaders(SECRET, 'push', push))
      .send(push);
    assert.equal(res.status, 401);
    assert.match(res.body.error, /GITHUB_WEBHOOK_SECRET/);
  });

  test(
    'slow clients are cut off: 200 connections trickling headers, and one sending nothing, are closed by the server',
    { timeout: 90_000 },
    async () => {
      const server = createHttpServer(app, {
        headersTimeoutMs: 1000,
        requestTimeoutMs: 2000,
        keepAliveTimeoutMs: 1000,
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as AddressInfo).port;
      const timers: NodeJS.Timeout[] = [];
      try {
        const closed = (socket: Socket) => new Promise<void>((resolve) => socket.once('close', () => resolve()));
        const open = (): Promise<Socket> =>
          new Promise((resolve, reject) => {
            const socket = connect(port, '127.0.0.1', () => resolve(socket));
            socket.resume(); // read, so the server's close is seen
            socket.on('error', () => undefined); // writes after the server closed it: EPIPE
            socket.once('error', reject);
          });
        const trickling = await Promise.all(Array.from({ length: 200 }, open));
        const silent = await open();
        for (const socket of trickling) {
          socket.write('POST /webhooks/github HTTP/1.1\r\nHost: politburo\r\n');
          // One more header line every 100 ms, never the blank line that ends the headers.
          let n = 0;
          const t = setInterval(() => socket.writable && socket.write(`X-Slow-${n++}: still coming\r\n`), 100);
          timers.push(t);
        }
        const allClosed = Promise.all([...trickling, silent].map(closed));
        const outcome = await Promise.race([
          allClosed.then(() => 'closed'),
          new Promise((r) => setTimeout(() => r('still open after 45 s'), 45_000).unref()),
        ]);
        assert.equal(outcome, 'closed');
        // The server still answers an ordinary request.
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        assert.equal(res.status, 200);
      } finally {
        for (const t of timers) clearInterval(t);
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  );
});
