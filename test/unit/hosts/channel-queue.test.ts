import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelQueue } from '../../../hosts/channel-queue.js';
import { OutputBuffer } from '../../../hosts/output-buffer.js';
import { PolitburoError } from '../../../kernel/types.js';

test('ChannelQueue lets `limit` through at once, then one per release, in order', async () => {
  const q = new ChannelQueue(2);
  const order: number[] = [];
  await q.acquire();
  await q.acquire();
  const third = q.acquire().then(() => order.push(3));
  const fourth = q.acquire().then(() => order.push(4));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, []);
  q.release();
  await third;
  assert.deepEqual(order, [3]);
  q.release();
  await fourth;
  assert.deepEqual(order, [3, 4]);
});

test('ChannelQueue: aborting a waiter removes it; failAll rejects the rest', async () => {
  const q = new ChannelQueue(1);
  await q.acquire();
  const ac = new AbortController();
  const aborted = q.acquire(ac.signal);
  ac.abort();
  await assert.rejects(aborted, (e: unknown) => e instanceof PolitburoError && e.reason === 'Interrupted');
  const waiting = q.acquire();
  q.failAll(new PolitburoError('HostUnreachable', 'gone'));
  await assert.rejects(waiting, /gone/);
  await assert.rejects(q.acquire(AbortSignal.abort()), /cancelled/);
});

test('ChannelQueue.tryAcquire takes a slot only while `spare` others stay free, and never ahead of a waiter', async () => {
  const q = new ChannelQueue(3);
  assert.equal(q.tryAcquire(1), true);
  assert.equal(q.tryAcquire(1), true);
  assert.equal(q.tryAcquire(1), false, 'the last slot is kept for work that cannot wait');
  await q.acquire();
  const waiting = q.acquire();
  q.release();
  await waiting;
  q.release();
  assert.equal(q.tryAcquire(0), true);
  const next = q.acquire();
  assert.equal(q.tryAcquire(0), false, 'a waiter goes first');
  q.release();
  await next;
});

test('OutputBuffer keeps the tail when output is too large', () => {
  const b = new OutputBuffer(10);
  b.push(Buffer.from('0123456789'));
  b.push(Buffer.from('abcdef'));
  assert.equal(b.toString(), '[... 10 bytes of output dropped ...]\nabcdef');
  const small = new OutputBuffer();
  const e = Buffer.from('h\u00e9'); // é is two bytes: a chunk boundary may split it
  small.push(e.subarray(0, 2));
  small.push(e.subarray(2));
  assert.equal(small.toString(), 'h\u00e9');
});
