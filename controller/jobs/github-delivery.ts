/**
 * The `github-delivery` job: one stored webhook delivery (controller/store/ingest-deliveries.ts stored it) is parsed
 * into a typed event (webhooks/parse-event.ts), routed to a command (webhooks/route-event.ts), run by that command's
 * handler (controller/jobs/handlers/), and marked processed with the outcome. A malformed payload is marked processed
 * too, its outcome saying what is wrong with it: redelivering it would not help.
 */
import { deliveryLogger } from '../logger.js';
import type { GitHubDeliveryJob } from '../ports.js';
import { parseEvent } from '../../webhooks/parse-event.js';
import { routeEvent } from '../../webhooks/route-event.js';
import { handleCommand } from './handlers/index.js';
import type { JobDeps } from './job-deps.js';
import { parseGitHubDeliveryJob } from './payloads.js';

export type { GitHubDeliveryJob };

/** Handles one delivery (see module comment). */
export async function runGitHubDelivery(deps: JobDeps, payload: unknown): Promise<void> {
  const { deliveryId } = parseGitHubDeliveryJob(payload);
  const delivery = await deps.deliveries.load(deliveryId);
  const log = deliveryLogger(deps.logger, deliveryId, delivery?.event);
  if (!delivery) {
    log.warn('delivery not found in webhook_deliveries: nothing to do');
    return;
  }
  if (delivery.processed) return; // a retried job whose delivery was already handled
  const parsed = parseEvent(delivery);
  let outcome: string;
  if (parsed.ok) {
    const command = routeEvent(parsed.event);
    outcome = await handleCommand(deps, command, { deliveryId, log });
    log.info({ command: command.kind, outcome }, `delivery ${delivery.event}${actionOf(delivery.payload)} processed`);
  } else {
    outcome = `ignored: ${parsed.problem}`;
    log.warn({ outcome }, `delivery ${delivery.event} not processed: ${parsed.problem}`);
  }
  await deps.deliveries.markProcessed(deliveryId, outcome);
}

/** `.action` of a payload that has one, for the log line. */
function actionOf(payload: unknown): string {
  const action = payload && typeof payload === 'object' ? (payload as { action?: unknown }).action : undefined;
  return typeof action === 'string' ? `.${action}` : '';
}
