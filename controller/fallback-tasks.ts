/**
 * The task list used until (or unless) the real job handlers are plugged in: deliveries are acknowledged as processed
 * and ignored, so the queue drains and the process is useful for smoke tests and the webhook benchmark.
 */
import type pg from 'pg';
import type { TaskList } from 'graphile-worker';
import { JOB_DELIVERY } from './ports.js';

/** `github-delivery` → mark the stored delivery processed with outcome `ignored`. */
export function createFallbackTaskList(deps: { pool: Pick<pg.Pool, 'query'> }): TaskList {
  return {
    [JOB_DELIVERY]: async (payload) => {
      const id = (payload as { deliveryId?: unknown })?.deliveryId;
      if (typeof id !== 'string') return;
      await deps.pool.query(
        `UPDATE webhook_deliveries SET processed_at = now(), outcome = 'ignored' WHERE delivery_id = $1 AND processed_at IS NULL`,
        [id],
      );
    },
  };
}
