/** Queue depth for `/metrics`, read from graphile-worker's jobs view at scrape time. */
import type { Queryable } from './enqueue.js';
import { queueDepth, queueRunning } from '../metrics.js';

/** Refreshes the queue gauges: waiting (not locked, attempts left) and running (locked) jobs per task. */
export async function refreshQueueMetrics(db: Queryable): Promise<void> {
  const { rows } = await db.query<{ task: string; waiting: string; running: string }>(
    `SELECT task_identifier AS task,
            count(*) FILTER (WHERE locked_at IS NULL AND attempts < max_attempts) AS waiting,
            count(*) FILTER (WHERE locked_at IS NOT NULL) AS running
       FROM graphile_worker.jobs GROUP BY task_identifier`,
  );
  queueDepth.reset();
  queueRunning.reset();
  for (const r of rows) {
    queueDepth.set({ task: r.task }, Number(r.waiting));
    queueRunning.set({ task: r.task }, Number(r.running));
  }
}
