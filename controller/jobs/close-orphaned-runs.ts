/**
 * Runs left `running` by a process that died (kill -9, node lost) are closed as interrupted (status cancelled, the
 * nodes they left in progress failed with the reason): by the next run of the same environment, `politburo status`,
 * after each of this controller's runs, and by every controller at start-up and then periodically. A run is dead when
 * its owner ran on this host and its pid is gone, or when it has not renewed its lease in time
 * (reconciler/run-lock.ts).
 */
import type { Logger } from '../logger.js';
import { closeDeadRuns, leaseSettings } from '../../reconciler/run-lock.js';
import type { StateStore } from '../../kernel/types.js';

/**
 * Closes the environment's runs whose owner is gone; returns their ids. `_runId` (the run just finished) is not needed.
 */
export async function closeOrphanedRuns(
  store: StateStore,
  repository: string,
  environment: string,
  _runId: string | null,
  log: Logger,
): Promise<string[]> {
  const closed = await closeDeadRuns(store, { repository, environment }, (line) =>
    log.warn({ repo: repository, env: environment }, line),
  );
  return closed.map((l) => l.id);
}

/**
 * Closes every run whose owner is gone now, then again every `everyMs` (default: the run lease, POLITBURO_RUN_LEASE),
 * until the returned function is called. The timer never keeps the process alive; failures are logged and retried.
 */
export function sweepDeadRuns(store: StateStore, log: Logger, everyMs?: number): () => void {
  let interval = everyMs;
  if (interval === undefined) {
    try {
      interval = leaseSettings().leaseMs;
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'bad run lease settings: sweeping dead runs every 30s');
      interval = 30_000;
    }
  }
  let stopped = false;
  const sweep = () => {
    if (stopped) return;
    closeDeadRuns(store, {}, (line) => log.warn(line)).catch((err: Error) =>
      log.debug({ err: err.message }, 'could not close dead runs (will retry)'),
    );
  };
  sweep();
  const timer = setInterval(sweep, interval);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
