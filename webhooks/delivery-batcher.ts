/**
 * Group commit for webhook deliveries: deliveries that arrive while a store is under way are written together, in one
 * statement and one transaction (one WAL flush), instead of one transaction each. Under load (100 connections) this
 * is what keeps the answer time low; alone, a delivery is written at once, as before. Every delivery is still stored
 * (and its job queued) before its own answer is sent.
 */
import type { DeliveryStore, IncomingDelivery, StoreOutcome } from './ingest-ports.js';

export interface DeliveryBatcher {
  store(d: IncomingDelivery): Promise<StoreOutcome>;
}

interface Pending {
  d: IncomingDelivery;
  resolve(r: StoreOutcome): void;
  reject(err: unknown): void;
}

/**
 * @param maxInFlight statements under way at once (each holds a pool connection)
 * @param maxBatch deliveries per statement
 * @param maxBatchBytes body bytes per statement (one 25 MB delivery still goes alone)
 * @param onOverlap told when a delivery arrives while others are being stored (controller/queue/delivery-gate.ts)
 */
export function createDeliveryBatcher(
  store: Pick<DeliveryStore, 'storeAll'>,
  opts: { maxInFlight?: number; maxBatch?: number; maxBatchBytes?: number; onOverlap?: () => void } = {},
): DeliveryBatcher {
  const maxInFlight = opts.maxInFlight ?? 4;
  const maxBatch = opts.maxBatch ?? 100;
  const maxBatchBytes = opts.maxBatchBytes ?? 8 * 1024 * 1024;
  const queue: Pending[] = [];
  let inFlight = 0;

  const take = (): Pending[] => {
    let n = 0;
    let bytes = 0;
    while (n < queue.length && n < maxBatch && (n === 0 || bytes + queue[n].d.body.length <= maxBatchBytes))
      bytes += queue[n++].d.body.length;
    return queue.splice(0, n);
  };
  const pump = () => {
    while (inFlight < maxInFlight && queue.length > 0) {
      const batch = take();
      inFlight++;
      void write(store, batch).finally(() => {
        inFlight--;
        pump();
      });
    }
  };
  return {
    store(d) {
      if (inFlight > 0 || queue.length > 0) opts.onOverlap?.();
      return new Promise<StoreOutcome>((resolve, reject) => {
        queue.push({ d, resolve, reject });
        pump();
      });
    },
  };
}

/** Writes one batch; a delivery id twice in a batch is stored once (the later one is the duplicate). */
async function write(store: Pick<DeliveryStore, 'storeAll'>, batch: Pending[]): Promise<void> {
  if (batch.length === 1) return settleOne(store, batch[0]);
  const firsts = new Map<string, Pending>();
  const repeats: Pending[] = [];
  for (const p of batch) {
    if (firsts.has(p.d.id)) repeats.push(p);
    else firsts.set(p.d.id, p);
  }
  const list = [...firsts.values()];
  let outcomes: StoreOutcome[];
  try {
    outcomes = await store.storeAll(list.map((p) => p.d));
  } catch {
    // One bad payload (not JSON, \u0000 in a string) must not fail the others: store each on its own, so each gets
    // its own answer. Repeats go after their first, which decides them.
    for (const p of [...list, ...repeats]) await settleOne(store, p);
    return;
  }
  list.forEach((p, i) => p.resolve(outcomes[i]));
  for (const p of repeats) {
    const first = outcomes[list.indexOf(firsts.get(p.d.id)!)];
    // The first was stored: this one is its duplicate. The first was not an object: neither is this one (same id,
    // most likely the same body), but decide it on its own body.
    if (first.status === 'not-an-object') await settleOne(store, p);
    else p.resolve({ status: 'duplicate' });
  }
}

async function settleOne(store: Pick<DeliveryStore, 'storeAll'>, p: Pending): Promise<void> {
  try {
    p.resolve((await store.storeAll([p.d]))[0]);
  } catch (err) {
    p.reject(err);
  }
}
