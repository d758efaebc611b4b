/**
 * The webhook endpoint on its own (webhooks/webhook-endpoint.ts): it needs only what it is given
 * (webhooks/ingest-ports.ts), here an in-memory store, counter and pressure sink instead of the controller's
 * PostgreSQL store and Prometheus counter. The PostgreSQL side is tested in test/integration/webhooks/webhooks.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino } from 'pino';
import request from 'supertest';
import type { DeliveryStore, IncomingDelivery, StoreOutcome } from '../../../webhooks/ingest-ports.js';
import { createWebhookEndpoint } from '../../../webhooks/webhook-endpoint.js';
import { signWebhook } from '../../helpers/webhook-signature.js';

const SECRET = 'unit-secret';

/** Keeps deliveries in a map; a body containing `fail` or `outage` throws the way the PostgreSQL store does. */
function memoryStore() {
  const stored = new Map<string, IncomingDelivery>();
  let woken = 0;
  const store: DeliveryStore = {
    async storeAll(ds) {
      if (ds.some((d) => d.body.includes('outage'))) throw new Error('connection refused');
      if (ds.some((d) => d.body.includes('fail'))) throw Object.assign(new Error('bad'), { payloadFault: true });
      return ds.map((d): StoreOutcome => {
        if (!d.body.toString().startsWith('{')) return { status: 'not-an-object' };
        if (stored.has(d.id)) return { status: 'duplicate' };
        stored.set(d.id, d);
        return { status: 'accepted', jobId: String(stored.size), action: null, repository: null, installationId: null };
      });
    },
    describeError: (err) => ((err as { payloadFault?: boolean }).payloadFault ? 'the payload is refused' : null),
    jobQueued: () => {
      woken++;
    },
  };
  return { store, stored, woken: () => woken };
}

function setUp() {
  const memory = memoryStore();
  const counted: string[] = [];
  const endpoint = createWebhookEndpoint({
    store: memory.store,
    secrets: [SECRET],
    logger: pino({ level: 'silent' }),
    counter: { inc: ({ event, outcome }) => counted.push(`${event} ${outcome}`) },
    pressure: { noteOverlap: () => {} },
  });
  const app = (req: IncomingMessage, res: ServerResponse) => {
    if (!endpoint(req, res)) res.writeHead(404).end();
  };
  const post = (event: string, id: string, body: string) =>
    request(app)
      .post('/webhooks/github')
      .set({
        'content-type': 'application/json',
        'x-github-event': event,
        'x-github-delivery': id,
        'x-hub-signature-256': signWebhook(SECRET, body),
      })
      .send(body);
  return { memory, counted, post, app };
}

describe('webhook endpoint with an injected store', () => {
  test('an accepted delivery is stored byte for byte, the workers woken, the delivery counted; a repeat is a duplicate', async () => {
    const { memory, counted, post } = setUp();
    const body = '{"zen":"Keep it logically awesome.", "ref":"refs/heads/main"}';
    const res = await post('push', 'd-1', body);
    assert.equal(res.status, 202);
    assert.deepEqual(res.body, { accepted: true, delivery: 'd-1' });
    assert.equal(memory.stored.get('d-1')?.body.toString(), body);
    assert.equal(memory.stored.get('d-1')?.event, 'push');
    assert.equal(memory.woken(), 1);
    const again = await post('push', 'd-1', body);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, { duplicate: true, delivery: 'd-1' });
    assert.equal(memory.woken(), 1);
    assert.deepEqual(counted, ['push accepted', 'push duplicate']);
  });

  test('what the store says about a refused payload is the 400; an unexplained store error is a 503 to redeliver', async () => {
    const { memory, counted, post } = setUp();
    const refused = await post('push', 'd-2', '{"fail":true}');
    assert.equal(refused.status, 400);
    assert.deepEqual(refused.body, { error: 'the payload is refused' });
    const outage = await post('push', 'd-3', '{"outage":true}');
    assert.equal(outage.status, 503);
    assert.equal(outage.headers['retry-after'], '10');
    const array = await post('push', 'd-4', '[1]');
    assert.equal(array.status, 400);
    assert.deepEqual(array.body, { error: 'the payload must be a JSON object' });
    assert.equal(memory.stored.size, 0);
    assert.deepEqual(counted, ['push invalid', 'push error', 'push invalid']);
  });

  test('ping is answered without storing; a bad signature is refused before the store is asked', async () => {
    const { memory, counted, post, app } = setUp();
    const ping = await post('ping', 'd-5', '{"zen":"Design for failure."}');
    assert.equal(ping.status, 200);
    assert.deepEqual(ping.body, { ok: true, zen: 'Design for failure.' });
    const forged = await request(app)
      .post('/webhooks/github')
      .set({
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-github-delivery': 'd-6',
        'x-hub-signature-256': `sha256=${'0'.repeat(64)}`,
      })
      .send('{}');
    assert.equal(forged.status, 401);
    assert.equal(memory.stored.size, 0);
    assert.deepEqual(counted, ['ping ping', '- unauthorized']);
  });
});
