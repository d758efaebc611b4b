/** What every command handler is given besides the job ports: the delivery it runs for, and its logger. */
import type { Logger } from '../../logger.js';
import type { JobDeps } from '../job-deps.js';

export interface DeliveryContext {
  deliveryId: string;
  /** The delivery's child logger (`{delivery, event}`). */
  log: Logger;
}

/** Runs one kind of command; returns the delivery's outcome (what was done, or why not). */
export type CommandHandler<C> = (deps: JobDeps, command: C, ctx: DeliveryContext) => Promise<string>;
