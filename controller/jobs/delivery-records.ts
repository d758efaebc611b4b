/**
 * The port of the `github-delivery` job (controller/jobs/github-delivery.ts) onto the deliveries the webhook endpoint
 * stored, and the repositories they register. The composition root (controller/wiring.ts) picks the implementation:
 * PostgreSQL (controller/store/deliveries.ts).
 */

/** A delivery as the endpoint stored it: its `X-GitHub-Event`, and its payload as GitHub sent it (not yet checked). */
export interface StoredDelivery {
  id: string;
  event: string;
  payload: unknown;
  /** Already handled (a retried job): nothing more to do. */
  processed: boolean;
}

export interface DeliveryRecords {
  /** The stored delivery, or null when there is none with this id. */
  load(deliveryId: string): Promise<StoredDelivery | null>;
  /** Records the delivery as handled, with what was done (or why nothing was). */
  markProcessed(deliveryId: string, outcome: string): Promise<void>;
  /** Records repositories (`owner/name`) the GitHub App was installed on; known ones stay as they are. */
  registerRepositories(keys: readonly string[]): Promise<void>;
}
