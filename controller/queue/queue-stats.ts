/** Queue depth for `/metrics`, read from graphile-worker's job table at scrape time (the jobs view has no payload). */
import type { Queryable } from '../../store/in-transaction.js';
import { queueStats } from '../store/graphile-queue.js';
import { queueDepth, queueRunning } from '../metrics.js';

/**
 * Refreshes the queue gauges: waiting (not locked, attempts left) and running (locked) jobs per task; a batch job
 * (an array payload: several deliveries) counts as many as it carries.
 */
export async function refreshQueueMetrics(db: Queryable): Promise<void> {
  const rows = await queueStats(db);
  queueDepth.reset();
  queueRunning.reset();
  for (const r of rows) {
    queueDepth.set({ task: r.task }, r.waiting);
    queueRunning.set({ task: r.task }, r.running);
  }
}
