/**
 * The task list used until (or unless) the real job handlers are plugged in: deliveries are acknowledged as processed
 * and ignored, so the queue drains and the process is useful for smoke tests and the webhook benchmark.
 */
import type { TaskList } from 'graphile-worker';
import type { DeliveryRecords } from './jobs/delivery-records.js';
import { JOB_DELIVERY } from './ports.js';

/** `github-delivery` → mark the stored delivery processed with outcome `ignored`. */
export function createFallbackTaskList(deps: {
  deliveries: Pick<DeliveryRecords, 'load' | 'markProcessed'>;
}): TaskList {
  return {
    [JOB_DELIVERY]: async (payload) => {
      const id = (payload as { deliveryId?: unknown })?.deliveryId;
      if (typeof id !== 'string') return;
      const delivery = await deps.deliveries.load(id);
      if (delivery && !delivery.processed) await deps.deliveries.markProcessed(id, 'ignored');
    },
  };
}
