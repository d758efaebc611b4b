/**
 * What the job handlers need from the composition root (controller/main.ts, controller/wiring.ts): ports only, never a
 * database pool or an implementation picked here; and small helpers the jobs share.
 */
import type { Repository } from '../../kernel/repository.js';
import type { ControllerConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { GitReader, Reporter } from '../ports.js';
import type { HostConnector, StateStore } from '../../kernel/types.js';
import type { HostConnectorOptions } from '../../hosts/ssh-connector.js';
import { createLogReporter } from './log-reporter.js';
import type { ControllerStore, JobQueue, RunCancellations } from './job-ports.js';
import type { DeliveryRecords } from './delivery-records.js';
import type { Notifier } from '../notify/notifier.js';

export interface JobDeps {
  /** The engine's state store: recorded nodes, runs. */
  store: StateStore;
  /** The controller's own records: drift schedules and alerts, polled heads, pull requests and their plans. */
  controllerStore: ControllerStore;
  /** Adding jobs to the durable queue. */
  queue: JobQueue;
  /** Stored webhook deliveries, and the repositories installations register. */
  deliveries: DeliveryRecords;
  /** GitHub reporting; poll-mode repositories (no owner) always report to the log instead. */
  reporter: Reporter;
  /** The git port, plus what the mirror reader offers beyond it (optional, for other implementations). */
  git: GitReader & {
    remoteDefaultBranch?(repo: Repository): Promise<string | null>;
    mergeBase?(repo: Repository, a: string, b: string): Promise<string | null>;
  };
  config: ControllerConfig;
  logger: Logger;
  /** Host connector factory (the composition root's choice: the SSH connector). */
  connector: (opts: HostConnectorOptions) => HostConnector;
  /**
   * Outcome notifications (docs/controller.md, "Notifications"): queued here, sent by the delivery worker. Absent (unit
   * tests of decisions): nothing is notified.
   */
  notifier?: Notifier;
  /** Cancels of running applies requested from the dashboard; absent (unit tests of decisions): never cancelled. */
  cancellations?: RunCancellations;
}

/** The reporter for a repository: GitHub for GitHub repositories, the log for poll-mode ones. */
export function reporterFor(deps: JobDeps, repo: Repository): Reporter {
  if (repo.kind === 'github') return deps.reporter;
  logReporters.set(deps.logger, logReporters.get(deps.logger) ?? createLogReporter(deps.logger));
  return logReporters.get(deps.logger)!;
}
const logReporters = new WeakMap<Logger, Reporter>();

/** The dashboard page of a run, for check details links. */
export function runUrl(config: ControllerConfig, runId: string | null | undefined): string | undefined {
  if (!runId || !config.publicUrl) return undefined;
  return `${config.publicUrl}/runs/${encodeURIComponent(runId)}`;
}

/** Reports never fail a reconcile: failures are logged; the durable write path retries them. */
export async function safely(log: Logger, what: string, work: () => Promise<unknown>): Promise<void> {
  try {
    await work();
  } catch (err) {
    log.warn({ err }, `reporting failed: ${what}`);
  }
}
