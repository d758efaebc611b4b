import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDeliveryGate, createIngestPressure } from '../../../../controller/queue/delivery-gate.js';

/** A job that records how many gate jobs ran alongside it, and finishes when told. */
function job(gate: { running: number }, seen: number[]) {
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  return {
    finish,
    run: async () => {
      seen.push(gate.running);
      await done;
    },
  };
}

test('pressure: busy for the window after deliveries overlapped', () => {
  let now = 1_000;
  const p = createIngestPressure(1000, () => now);
  assert.equal(p.busy(), false);
  p.noteOverlap();
  assert.equal(p.busy(), true);
  now += 999;
  assert.equal(p.busy(), true);
  now += 1;
  assert.equal(p.busy(), false);
});

test('no burst: delivery jobs run side by side', async () => {
  const gate = createDeliveryGate(createIngestPressure());
  const seen: number[] = [];
  const jobs = [job(gate, seen), job(gate, seen), job(gate, seen)];
  const running = jobs.map((j) => gate.run(j.run));
  await sleep(10);
  assert.equal(gate.running, 3);
  jobs.forEach((j) => j.finish());
  await Promise.all(running);
  assert.equal(gate.running, 0);
});

test('during a burst: one delivery job at a time, in arrival order; the rest run when the burst is over', async () => {
  const pressure = createIngestPressure(150);
  const gate = createDeliveryGate(pressure, 20);
  pressure.noteOverlap();
  const order: string[] = [];
  const seen: number[] = [];
  const [a, b, c] = [job(gate, seen), job(gate, seen), job(gate, seen)];
  const runs = [
    gate.run(async () => (order.push('a'), a.run())),
    gate.run(async () => (order.push('b'), b.run())),
    gate.run(async () => (order.push('c'), c.run())),
  ];
  await sleep(10);
  assert.equal(gate.running, 1);
  assert.deepEqual(order, ['a']);
  a.finish();
  await sleep(10);
  assert.deepEqual(order, ['a', 'b'], 'the next one starts as soon as the first is done');
  assert.equal(gate.running, 1);
  // The burst ends (no batch for 150 ms): the gate opens without waiting for b.
  await sleep(200);
  assert.deepEqual(order, ['a', 'b', 'c']);
  assert.equal(gate.running, 2);
  b.finish();
  c.finish();
  await Promise.all(runs);
  assert.deepEqual(seen, [1, 1, 2]);
});

test('a failing job releases its place and its error reaches the caller', async () => {
  const pressure = createIngestPressure(10_000);
  const gate = createDeliveryGate(pressure);
  pressure.noteOverlap();
  const failing = gate.run(async () => {
    throw new Error('boom');
  });
  const next = gate.run(async () => 'ran');
  await assert.rejects(failing, /boom/);
  assert.equal(await next, 'ran');
  assert.equal(gate.running, 0);
});
