/**
 * Cancelling a running apply from another process (the dashboard's Cancel, docs/controller.md "The dashboard"). The
 * dashboard marks the run (`runs.cancel_requested_at`, controller/store/dashboard.ts); the process that owns the
 * run (its lease names host and pid) watches the environments it is applying and aborts the run's signal. The engine
 * then does what Ctrl-C does in the CLI: nothing new starts, running tasks get their grace period, the run ends
 * `cancelled`.
 *
 * The watch polls the database once a second while this process applies something (one query for every watched
 * environment), so it needs no connection of its own and works through pgbouncer.
 */
import os from 'node:os';
import type pg from 'pg';
import { PolitburoError } from '../kernel/types.js';
import type { RunCancellations } from './jobs/job-ports.js';
import type { Logger } from './logger.js';
import { cancelledRunsOf } from './store/dashboard.js';

interface Watch {
  repository: string;
  environment: string;
  controller: AbortController;
}

export interface RunCancellationWatcher extends RunCancellations {
  /** Stops polling (watches still open are left as they are). */
  close(): void;
}

/** Creates this process's watcher (see module comment). */
export function createRunCancellations(opts: {
  pool: Pick<pg.Pool, 'query'>;
  logger: Logger;
  pollMs?: number;
  /** The run owner this process writes into its leases (reconciler/run-lock.ts): host name and pid. */
  owner?: { host: string; pid: number };
}): RunCancellationWatcher {
  const owner = opts.owner ?? { host: os.hostname(), pid: process.pid };
  const watches = new Set<Watch>();
  let timer: NodeJS.Timeout | undefined;
  let polling = false;
  let closed = false;

  const poll = async () => {
    if (polling || watches.size === 0) return;
    polling = true;
    try {
      const found = await cancelledRunsOf(opts.pool, owner, [...watches]);
      for (const f of found) {
        for (const w of watches) {
          if (w.repository !== f.repository || w.environment !== f.environment || w.controller.signal.aborted) continue;
          opts.logger.info(
            { repo: f.repository, env: f.environment, run: f.runId, by: f.by },
            `run ${f.runId} cancelled by ${f.by}: starting nothing new, running tasks get their grace`,
          );
          w.controller.abort(new PolitburoError('Interrupted', `Interrupted: cancelled by ${f.by}`));
        }
      }
    } catch (err) {
      opts.logger.debug({ err }, 'could not look for cancelled runs (will try again)');
    } finally {
      polling = false;
    }
  };

  const schedule = () => {
    if (timer || closed) return;
    timer = setInterval(() => void poll(), opts.pollMs ?? 1000);
    timer.unref();
  };
  const unschedule = () => {
    if (watches.size > 0 || !timer) return;
    clearInterval(timer);
    timer = undefined;
  };

  return {
    watch(repository, environment) {
      const w: Watch = { repository, environment, controller: new AbortController() };
      watches.add(w);
      schedule();
      return {
        signal: w.controller.signal,
        stop: () => {
          watches.delete(w);
          unschedule();
        },
      };
    },
    close() {
      closed = true;
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
