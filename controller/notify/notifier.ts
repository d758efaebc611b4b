/**
 * The notifier the jobs use (JobDeps.notifier): queues an outcome for every webhook of POLITBURO_ALERT_WEBHOOK in
 * `alert_deliveries` and wakes the delivery worker (controller/notify/delivery-worker.ts). Queuing is one INSERT;
 * sending never happens in the caller (docs/controller.md, "Notifications").
 */
import type pg from 'pg';
import { enqueueAlertDeliveries } from '../store/alert-deliveries.js';
import { buildEvent, type Notification, type NotificationEvent } from './event.js';

export interface Notifier {
  /** False when no webhook is configured: notify() then does nothing. */
  readonly enabled: boolean;
  /** Queues the notification for every webhook; resolves once it is stored (sending happens elsewhere). */
  notify(notification: Notification): Promise<NotificationEvent | null>;
}

export function createPgNotifier(opts: {
  pool: pg.Pool;
  urls: readonly string[];
  publicUrl?: string;
  /** Called after something was queued (the delivery worker's kick). */
  onQueued?: () => void;
}): Notifier {
  return {
    enabled: opts.urls.length > 0,
    async notify(notification) {
      if (!opts.urls.length) return null;
      const event = buildEvent(notification, { publicUrl: opts.publicUrl });
      await enqueueAlertDeliveries(
        opts.pool,
        { id: event.id, kind: event.kind, body: JSON.stringify(event) },
        opts.urls,
      );
      opts.onQueued?.();
      return event;
    },
  };
}
