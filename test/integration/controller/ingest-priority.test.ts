/**
 * Webhook bursts come first: while deliveries arrive several at a time, a controller runs its delivery jobs one at a
 * time (controller/queue/delivery-gate.ts); when the burst is over it goes back to POLITBURO_CONCURRENCY at once.
 * The real composition root (startController) on a real database, deliveries over real HTTP; only the delivery job's
 * handler is the test's, to see how many run at once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readConfig } from '../../../controller/config.js';
import { startController, type RunningController } from '../../../controller/main.js';
import { JOB_DELIVERY } from '../../../controller/ports.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { deliveryHeaders } from './fixtures.js';
import { countJobs } from '../../../controller/store/graphile-queue.js';
import { createLogger } from '../../../controller/logger.js';

const SECRET = 'ingest-priority-secret';
let db: TestDatabase;
let dataDir: string;
let controller: RunningController;
const log: { at: number; running: number }[] = [];
let running = 0;

before(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'politburo-ingest-'));
  const config = readConfig({
    DATABASE_URL: db.url,
    PORT: '0',
    HOST: '127.0.0.1',
    GITHUB_WEBHOOK_SECRET: SECRET,
    POLITBURO_DATA_DIR: dataDir,
    POLITBURO_CONCURRENCY: '4',
    LOG_LEVEL: 'warn',
  });
  controller = await startController(config, {
    logger: createLogger({ level: 'warn' }),
    createDashboardRouter: null,
    createFlows: () => ({
      taskList: {
        [JOB_DELIVERY]: async () => {
          running++;
          log.push({ at: Date.now(), running });
          await sleep(20);
          running--;
        },
      },
    }),
  });
});

after(async () => {
  await controller?.stop('test over');
  await db?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

/** Delivery jobs still in the queue (a job is deleted once it has run). */
async function queuedDeliveryJobs(): Promise<number> {
  return countJobs(controller.context.pool, { task: JOB_DELIVERY });
}

test('during a burst delivery jobs run one at a time; after it, several at once; every delivery is answered and processed', async () => {
  const body = JSON.stringify({ action: 'created', repository: null });
  let answered = 0;
  const send = async () => {
    const headers = deliveryHeaders(SECRET, 'issue_comment', body);
    const res = await fetch(`${controller.url}/webhooks/github`, { method: 'POST', headers, body });
    assert.equal(res.status, 202, await res.text());
    answered++;
  };
  // 12 waves of 12 deliveries at once, 80 ms apart: always a batch of several within the last second.
  const burstStart = Date.now();
  for (let wave = 0; wave < 12; wave++) {
    await Promise.all(Array.from({ length: 12 }, send));
    await sleep(80);
  }
  const burstEnd = Date.now();
  assert.equal(answered, 144);
  // Every job is gone from the queue once processed.
  const deadline = Date.now() + 30_000;
  while ((await queuedDeliveryJobs()) > 0) {
    assert.ok(Date.now() < deadline, 'delivery jobs still queued after 30 s');
    await sleep(50);
  }
  assert.equal(log.length, answered, 'every delivery processed once');
  // Jobs that started during the burst (skip the first 100 ms: the gate learns of the burst from the first batch).
  const during = log.filter((e) => e.at > burstStart + 100 && e.at < burstEnd);
  assert.ok(during.length > 5, `${during.length} jobs ran during the burst`);
  assert.deepEqual([...new Set(during.map((e) => e.running))], [1], 'one delivery job at a time during the burst');
  // More than one second after it, the backlog is worked at POLITBURO_CONCURRENCY.
  const afterwards = log.filter((e) => e.at > burstEnd + 1000);
  assert.ok(afterwards.length > 0, 'a backlog was left after the burst');
  assert.ok(Math.max(...afterwards.map((e) => e.running)) > 1, 'several delivery jobs at once after the burst');
});
