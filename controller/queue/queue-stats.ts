/** Queue depth for `/metrics`, read from graphile-worker's job table at scrape time (the jobs view has no payload). */
import type { Queryable } from './enqueue.js';
import { queueDepth, queueRunning } from '../metrics.js';

/**
 * Refreshes the queue gauges: waiting (not locked, attempts left) and running (locked) jobs per task; a batch job
 * (an array payload: several deliveries) counts as many as it carries.
 */
export async function refreshQueueMetrics(db: Queryable): Promise<void> {
  const { rows } = await db.query<{ task: string; waiting: string; running: string }>(
    `SELECT t.identifier AS task,
            coalesce(sum(w.n) FILTER (WHERE j.locked_at IS NULL AND j.attempts < j.max_attempts), 0) AS waiting,
            coalesce(sum(w.n) FILTER (WHERE j.locked_at IS NOT NULL), 0) AS running
       FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t ON t.id = j.task_id,
            LATERAL (SELECT CASE WHEN json_typeof(j.payload) = 'array' THEN json_array_length(j.payload) ELSE 1 END AS n) w
      GROUP BY t.identifier`,
  );
  queueDepth.reset();
  queueRunning.reset();
  for (const r of rows) {
    queueDepth.set({ task: r.task }, Number(r.waiting));
    queueRunning.set({ task: r.task }, Number(r.running));
  }
}
