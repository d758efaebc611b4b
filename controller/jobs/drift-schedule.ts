/**
 * Drift schedules (docs/language.md): one cron per environment (`drift.schedule`, default hourly), recorded in
 * `drift_schedules` when a commit is applied and read by every replica: at once, through a NOTIFY every replica
 * LISTENs for (and, as a safety net, every `refreshMs`). Each tick is claimed in the table
 * (`last_tick`), so exactly one replica queues the drift job; its job key `drift:<repo>:<env>` (preserve_run_at)
 * keeps at most one waiting per environment, on the environment's queue so drift never overlaps an apply.
 */
import { Cron } from 'croner';
import pg from 'pg';
import type { Logger } from '../logger.js';
import { JOB_DRIFT, type DriftJob } from '../ports.js';
import { enqueue, environmentQueue } from '../queue/enqueue.js';
import type { Description } from '../../kernel/types.js';
import { RepositorySchema, repositoryKey, type Repository } from '../../kernel/repository.js';

/** The job key that keeps one drift job per environment. */
export function driftJobKey(repo: Repository, environment: string): string {
  return `drift:${repositoryKey(repo)}:${environment}`;
}

/** The channel on which a change of `drift_schedules` is announced to every replica. */
export const DRIFT_SCHEDULES_CHANNEL = 'politburo_drift_schedules';

/** Tells every replica's scheduler (this process's too) to re-read the schedules now. */
export async function notifyDriftSchedules(db: Pick<pg.Pool, 'query'>): Promise<void> {
  await db.query('SELECT pg_notify($1, $2)', [DRIFT_SCHEDULES_CHANNEL, 'changed']);
}

/** Records (or refreshes) the drift schedules of the named environments as described at an applied commit. */
export async function recordDriftSchedules(
  db: Pick<pg.Pool, 'query'>,
  repo: Repository,
  description: Description,
  environments: string[],
): Promise<void> {
  await writeDriftSchedules(db, repo, description, environments);
  await notifyDriftSchedules(db);
}

async function writeDriftSchedules(
  db: Pick<pg.Pool, 'query'>,
  repo: Repository,
  description: Description,
  environments: string[],
): Promise<void> {
  for (const name of environments) {
    const env = description.environments.get(name);
    if (!env) continue;
    await db.query(
      `INSERT INTO drift_schedules (repository, environment, schedule, heal, repo) VALUES ($1, $2, $3, $4, $5::jsonb)
       ON CONFLICT (repository, environment) DO UPDATE
         SET schedule = EXCLUDED.schedule, heal = EXCLUDED.heal, repo = EXCLUDED.repo, updated_at = now()`,
      [repositoryKey(repo), name, env.drift.schedule, env.drift.heal, JSON.stringify(repo)],
    );
  }
}

/** Claims one tick of an environment's schedule and queues its drift job; false when another replica had it. */
export async function claimDriftTick(
  pool: pg.Pool,
  repository: string,
  environment: string,
  tick: Date,
): Promise<boolean> {
  const { rows } = await pool.query<{ repo: unknown; heal: boolean }>(
    `UPDATE drift_schedules SET last_tick = $3 WHERE repository = $1 AND environment = $2 AND (last_tick IS NULL OR last_tick < $3)
     RETURNING repo, heal`,
    [repository, environment, tick],
  );
  if (!rows.length) return false;
  const { heal } = rows[0];
  const repo = RepositorySchema.parse(rows[0].repo);
  const job: DriftJob = { repo, environment, heal, trigger: `schedule ${tick.toISOString()}` };
  await enqueue(pool, JOB_DRIFT, job, {
    queueName: environmentQueue(repositoryKey(repo), environment),
    jobKey: driftJobKey(repo, environment),
    jobKeyMode: 'preserve_run_at',
    maxAttempts: 3,
  });
  return true;
}

export interface DriftScheduler {
  /** Re-reads the schedules now (a NOTIFY on DRIFT_SCHEDULES_CHANNEL does this on every replica). */
  refresh(): Promise<void>;
  /** Schedules currently armed, `repository env` → cron pattern (tests and diagnostics). */
  armed(): Map<string, string>;
  stop(): void;
}

/**
 * Arms one cron per recorded schedule; re-reads the table when a change is announced (LISTEN, on a connection of its
 * own that is re-opened when it drops) and every `refreshMs` (default 60 s) in case an announcement was missed.
 */
export function startDriftScheduler(opts: {
  pool: pg.Pool;
  logger: Logger;
  refreshMs?: number;
  relistenMs?: number;
}): DriftScheduler {
  const log = opts.logger.child({ component: 'drift-schedule' });
  const crons = new Map<string, { pattern: string; cron: Cron }>();
  let stopped = false;

  const tick = async (repository: string, environment: string, at: Date) => {
    try {
      if (await claimDriftTick(opts.pool, repository, environment, at))
        log.info({ repo: repository, env: environment }, 'drift check queued');
    } catch (err) {
      log.warn({ err, repo: repository, env: environment }, 'could not queue the drift check');
    }
  };

  // One re-read at a time: two at once would both arm a new cron for the same environment.
  let reading: Promise<void> = Promise.resolve();
  const refresh = () => (reading = reading.then(() => readSchedules(opts.pool, crons, tick, log, () => stopped)));
  const refreshSafely = () =>
    void refresh().catch((err) => log.warn({ err: errorText(err) }, 'could not read the drift schedules'));

  const timer = setInterval(refreshSafely, opts.refreshMs ?? 60_000);
  timer.unref();
  const listener = listenForChanges(opts.pool, log, refreshSafely, () => stopped, opts.relistenMs ?? 1_000);
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
  pool: pg.Pool,
  crons: Map<string, { pattern: string; cron: Cron }>,
  tick: Tick,
  log: Logger,
  stopped: () => boolean,
): Promise<void> {
  if (stopped()) return;
  const { rows } = await pool.query<{ repository: string; environment: string; schedule: string }>(
    'SELECT repository, environment, schedule FROM drift_schedules',
  );
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

/**
 * LISTENs on a client of its own (not one of the pool's, which it would hold forever) and calls `changed` on every
 * announcement. A dropped connection is re-opened after `retryMs`, then the schedules are re-read in case a change was
 * announced meanwhile.
 */
function listenForChanges(
  pool: pg.Pool,
  log: Logger,
  changed: () => void,
  stopped: () => boolean,
  retryMs: number,
): { stop(): void } {
  let client: pg.Client | null = null;
  let retry: NodeJS.Timeout | null = null;
  // Failed attempts in a row: the retries back off (up to 30 s) and only the first loss is logged.
  let failures = 0;
  const again = () => {
    if (stopped() || retry) return;
    retry = setTimeout(
      () => {
        retry = null;
        void connect();
      },
      Math.min(retryMs * 2 ** failures++, 30_000),
    );
    retry.unref();
  };
  const connect = async () => {
    const c = new pg.Client(pool.options);
    const lost = (err?: Error) => {
      if (client !== c) return;
      client = null;
      if (failures === 0)
        log.warn(
          { err: err ? errorText(err) : 'connection ended' },
          'lost the drift schedule listener connection; listening again shortly',
        );
      void c.end().catch(() => undefined);
      again();
    };
    c.on('error', lost);
    c.on('end', () => lost());
    c.on('notification', changed);
    client = c;
    try {
      await c.connect();
      await c.query(`LISTEN ${DRIFT_SCHEDULES_CHANNEL}`);
      if (stopped() || client !== c) {
        client = null;
        return void c.end().catch(() => undefined);
      }
      failures = 0;
      changed(); // what was announced while nobody listened
    } catch (err) {
      lost(err as Error);
    }
  };
  void connect();
  return {
    stop() {
      if (retry) clearTimeout(retry);
      const c = client;
      client = null;
      void c?.end().catch(() => undefined);
    },
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
