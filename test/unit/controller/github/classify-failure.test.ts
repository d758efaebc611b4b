// How the write queue treats a failed GitHub request: wait (rate limits), retry (5xx, network), or give up (4xx).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyFailure } from '../../../../controller/github/write-queue.js';

const now = 1_000_000;
const err = (status: number | undefined, headers: Record<string, string> = {}, message = '') =>
  Object.assign(new Error(message), { status, response: { headers } });

test('retry-after wins on 403 and 429', () => {
  assert.deepEqual(
    classifyFailure(err(403, { 'retry-after': '30' }, 'You have exceeded a secondary rate limit'), now),
    { kind: 'rate-limited', until: now + 30_000 },
  );
  assert.deepEqual(classifyFailure(err(429, { 'retry-after': '0' }), now), { kind: 'rate-limited', until: now });
});

test('a used-up primary limit waits until x-ratelimit-reset (plus a second)', () => {
  assert.deepEqual(
    classifyFailure(err(403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 + 90) }), now),
    { kind: 'rate-limited', until: now + 91_000 },
  );
});

test('a secondary limit without retry-after waits a minute', () => {
  assert.deepEqual(classifyFailure(err(403, {}, 'You have exceeded a secondary rate limit'), now), {
    kind: 'rate-limited',
    until: now + 60_000,
  });
});

test('5xx, 401 and network errors are transient; other 4xx are terminal', () => {
  assert.equal(classifyFailure(err(502), now).kind, 'transient');
  assert.equal(classifyFailure(err(401), now).kind, 'transient');
  assert.equal(classifyFailure(new Error('ECONNREFUSED'), now).kind, 'transient');
  assert.equal(classifyFailure(err(422), now).kind, 'terminal');
  assert.equal(classifyFailure(err(403, {}, 'Resource not accessible by integration'), now).kind, 'terminal');
  assert.equal(classifyFailure(err(404), now).kind, 'terminal');
});
