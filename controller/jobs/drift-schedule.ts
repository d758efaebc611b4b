/**
 * Drift schedules (docs/language.md): one cron per environment (`drift.schedule`, default hourly), recorded by
 * queueApplies (controller/jobs/queue-applies.ts) once per push for every environment that follows the branch, and
 * read by every replica: at once, through the controller store's change announcements (PostgreSQL: a NOTIFY every
 * replica LISTENs for) and, as a safety net, every `refreshMs`. Each tick is claimed in the store (`last_tick`), so
 * exactly one replica queues the drift job; the queue keeps at most one waiting per environment, on the environment's
 * queue so drift never overlaps an apply.
 */
import { Cron } from 'croner';
import type { Logger } from '../logger.js';
import type { DriftEnvironmentJob } from '../ports.js';
import type { Description } from '../../kernel/types.js';
import type { Repository } from '../../kernel/repository.js';
import type { ControllerStore, DriftSchedule, JobQueue } from './job-ports.js';

/** The schedules of the named environments as described (environments the description lacks are left out). */
function describedDriftSchedules(repo: Repository, description: Description, environments: string[]): DriftSchedule[] {
  return environments.flatMap((name) => {
    const env = description.environments.get(name);
    return env ? [{ repo, environment: name, schedule: env.drift.schedule, heal: env.drift.heal }] : [];
  });
}

/** Records (or refreshes) the drift schedules of the named environments as described at a commit. */
export async function recordDriftSchedules(
  store: ControllerStore,
  repo: Repository,
  description: Description,
  environments: string[],
): Promise<void> {
  await store.recordDriftSchedules(describedDriftSchedules(repo, description, environments));
}

/** Claims one tick of an environment's schedule and queues its drift job; false when another replica had it. */
export async function claimDriftTick(
  ports: { controllerStore: ControllerStore; queue: JobQueue },
  repository: string,
  environment: string,
  tick: Date,
): Promise<boolean> {
  const claimed = await ports.controllerStore.claimDriftTick(repository, environment, tick);
  if (!claimed) return false;
  const job: DriftEnvironmentJob = {
    repo: claimed.repo,
    environment,
    heal: claimed.heal,
    trigger: `schedule ${tick.toISOString()}`,
  };
  await ports.queue.enqueueDrift(job);
  return true;
}

export interface DriftScheduler {
  /** Re-reads the schedules now (a change the controller store announces does this on every replica). */
  refresh(): Promise<void>;
  /** Schedules currently armed, `repository env` → cron pattern (tests and diagnostics). */
  armed(): Map<string, string>;
  stop(): void;
}

/**
 * Arms one cron per recorded schedule; re-reads the schedules when the controller store announces a change (PostgreSQL:
 * LISTEN on a connection of its own, re-opened after `relistenMs` when it drops) and every `refreshMs` (default 60 s)
 * in case an announcement was missed.
 */
export function startDriftScheduler(opts: {
  controllerStore: ControllerStore;
  queue: JobQueue;
  logger: Logger;
  refreshMs?: number;
  relistenMs?: number;
}): DriftScheduler {
  const log = opts.logger.child({ component: 'drift-schedule' });
  const crons = new Map<string, { pattern: string; cron: Cron }>();
  let stopped = false;

  const tick = async (repository: string, environment: string, at: Date) => {
    try {
      if (await claimDriftTick(opts, repository, environment, at))
        log.info({ repo: repository, env: environment }, 'drift check queued');
    } catch (err) {
      log.warn({ err, repo: repository, env: environment }, 'could not queue the drift check');
    }
  };

  // One re-read at a time: two at once would both arm a new cron for the same environment.
  let reading: Promise<void> = Promise.resolve();
  const refresh = () =>
    (reading = reading.then(() => readSchedules(opts.controllerStore, crons, tick, log, () => stopped)));
  const refreshSafely = () =>
    void refresh().catch((err) => log.warn({ err: errorText(err) }, 'could not read the drift schedules'));

  const timer = setInterval(refreshSafely, opts.refreshMs ?? 60_000);
  timer.unref();
  const listener = opts.controllerStore.onDriftSchedulesChanged(refreshSafely, {
    retryMs: opts.relistenMs ?? 1_000,
    onLost: (err) => log.warn({ err }, 'lost the drift schedule listener connection; listening again shortly'),
  });
  refreshSafely();
  return {
    refresh,
    armed: () => new Map([...crons].map(([k, v]) => [k, v.pattern])),
    stop() {
      stopped = true;
      clearInterval(timer);
      listener.stop();
      for (const { cron } of crons.values()) cron.stop();
      crons.clear();
    },
  };
}

type Tick = (repository: string, environment: string, at: Date) => Promise<void>;

/** Arms a cron for every new or changed schedule and disarms the removed ones. */
async function readSchedules(
  store: ControllerStore,
  crons: Map<string, { pattern: string; cron: Cron }>,
  tick: Tick,
  log: Logger,
  stopped: () => boolean,
): Promise<void> {
  if (stopped()) return;
  const rows = await store.driftSchedules();
  if (stopped()) return;
  const seen = new Set<string>();
  for (const row of rows) {
    const key = `${row.repository} ${row.environment}`;
    seen.add(key);
    const existing = crons.get(key);
    if (existing?.pattern === row.schedule) continue;
    existing?.cron.stop();
    try {
      // The tick's own scheduled time (to the second) is what replicas agree on, whatever their clock drift.
      const cron = new Cron(row.schedule, { protect: true, unref: true }, (self: Cron) => {
        const at = self.currentRun() ?? new Date();
        at.setMilliseconds(0);
        void tick(row.repository, row.environment, at);
      });
      crons.set(key, { pattern: row.schedule, cron });
    } catch (err) {
      crons.delete(key);
      log.warn(
        { err: errorText(err), repo: row.repository, env: row.environment },
        `invalid drift schedule ${JSON.stringify(row.schedule)}: fix drift.schedule`,
      );
    }
  }
  for (const [key, { cron }] of crons) {
    if (!seen.has(key)) {
      cron.stop();
      crons.delete(key);
    }
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
