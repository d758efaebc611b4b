/**
 * What the webhook endpoint needs from the rest of the controller, given to it by the composition root
 * (controller/server.ts): where deliveries are stored with their jobs (controller/store/ingest-deliveries.ts), a
 * counter of deliveries (controller/metrics.ts), and who to tell about bursts (controller/queue/delivery-gate.ts).
 * webhooks/ imports nothing of the controller's.
 */

/** A delivery whose signature was verified: its headers and its body exactly as received. */
export interface IncomingDelivery {
  id: string;
  event: string;
  body: Buffer;
}

export type StoreOutcome =
  | {
      status: 'accepted';
      jobId: string;
      action: string | null;
      repository: string | null;
      installationId: number | null;
    }
  | { status: 'duplicate' }
  | { status: 'not-an-object' };

/** Stores verified deliveries, each with the job that will process it. */
export interface DeliveryStore {
  /**
   * Stores deliveries with distinct ids together (one transaction); the outcomes are in the same order. Throws when
   * any body cannot be stored: the caller then stores them one by one, so the error reaches only its delivery.
   */
  storeAll(deliveries: readonly IncomingDelivery[]): Promise<StoreOutcome[]>;
  /**
   * What a delivery the store refused did wrong, for its 400 answer; null when the error is not the payload's fault
   * (the store is unavailable: the answer is 503 and GitHub can redeliver).
   */
  describeError(err: unknown): string | null;
  /** A job was queued: wake the workers (the store may coalesce wake-ups). */
  jobQueued(): void;
}

/** Counts deliveries by event and outcome (accepted, duplicate, ping, invalid, unauthorized, error). */
export interface DeliveryCounter {
  inc(labels: { event: string; outcome: string }): void;
}

/** Told when a delivery arrives while others are still being stored (the queue then gives way to the endpoint). */
export interface IngestPressureSink {
  noteOverlap(): void;
}
