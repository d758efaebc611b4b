/**
 * The `drift_schedules` table (docs/language.md, drift): one cron per environment, the repository it belongs to, and
 * the
 * last tick some replica claimed. Changes are announced on a channel every replica LISTENs on.
 */
import pg from 'pg';
import type { Queryable } from '../../store/in-transaction.js';

/** The channel on which a change of `drift_schedules` is announced to every replica. */
const DRIFT_SCHEDULES_CHANNEL = 'politburo_drift_schedules';

/** One environment's recorded schedule; `repo` is the stored repository reference (JSON, parsed by the caller). */
export interface DriftScheduleRow {
  repository: string;
  environment: string;
  schedule: string;
  heal: boolean;
  repo: unknown;
}

/** Inserts or refreshes the schedules of environments of one repository. */
export async function upsertDriftSchedules(
  db: Queryable,
  rows: { repository: string; environment: string; schedule: string; heal: boolean; repo: unknown }[],
): Promise<void> {
  for (const r of rows) {
    await db.query(
      `INSERT INTO drift_schedules (repository, environment, schedule, heal, repo) VALUES ($1, $2, $3, $4, $5::jsonb)
       ON CONFLICT (repository, environment) DO UPDATE
         SET schedule = EXCLUDED.schedule, heal = EXCLUDED.heal, repo = EXCLUDED.repo, updated_at = now()`,
      [r.repository, r.environment, r.schedule, r.heal, JSON.stringify(r.repo)],
    );
  }
}

/** Removes an environment's schedule (it is not described any more). */
export async function deleteDriftSchedule(db: Queryable, repository: string, environment: string): Promise<void> {
  await db.query('DELETE FROM drift_schedules WHERE repository = $1 AND environment = $2', [repository, environment]);
}

/** Tells every replica's scheduler (this process's too) to re-read the schedules now. */
export async function notifyDriftSchedules(db: Queryable): Promise<void> {
  await db.query('SELECT pg_notify($1, $2)', [DRIFT_SCHEDULES_CHANNEL, 'changed']);
}

/** Every recorded schedule. */
export async function listDriftSchedules(db: Queryable): Promise<DriftScheduleRow[]> {
  const { rows } = await db.query<DriftScheduleRow>(
    'SELECT repository, environment, schedule, heal, repo FROM drift_schedules ORDER BY repository, environment',
  );
  return rows;
}

/** Claims one tick of a schedule; the schedule's repository and heal setting, or null when another replica had it. */
export async function claimDriftTick(
  db: Queryable,
  repository: string,
  environment: string,
  tick: Date,
): Promise<{ repo: unknown; heal: boolean } | null> {
  const { rows } = await db.query<{ repo: unknown; heal: boolean }>(
    `UPDATE drift_schedules SET last_tick = $3
      WHERE repository = $1 AND environment = $2 AND (last_tick IS NULL OR last_tick < $3)
     RETURNING repo, heal`,
    [repository, environment, tick],
  );
  return rows[0] ?? null;
}

/**
 * The repository reference (as recorded with the schedule) and the last applied commit of an environment: what the
 * dashboard checks out to draw the environment as described. Null when either is unknown.
 */
export async function appliedEnvironmentSource(
  db: Queryable,
  repository: string,
  environment: string,
): Promise<{ repo: unknown; sha: string } | null> {
  const { rows } = await db.query<{ repo: unknown; sha: string | null }>(
    `SELECT d.repo, e.last_applied_commit AS sha
       FROM drift_schedules d
       JOIN repositories r ON r.key = d.repository
       JOIN environments e ON e.repository_id = r.id AND e.name = d.environment
      WHERE d.repository = $1 AND d.environment = $2`,
    [repository, environment],
  );
  const row = rows[0];
  return row?.sha ? { repo: row.repo, sha: row.sha } : null;
}

/** What a schedule listener reports: announcements, and the loss of its connection. */
export interface DriftScheduleListener {
  stop(): void;
}

/**
 * LISTENs on a client of its own (not one of the pool's, which it would hold forever) and calls `changed` on every
 * announcement, and once after (re)connecting for what was announced while nobody listened. A dropped connection is
 * re-opened after `retryMs` (backing off up to 30 s); `onLost` is told about the first loss of a series.
 */
export function listenForDriftSchedules(
  pool: pg.Pool,
  opts: { changed: () => void; stopped: () => boolean; retryMs: number; onLost: (err: string) => void },
): DriftScheduleListener {
  let client: pg.Client | null = null;
  let retry: NodeJS.Timeout | null = null;
  // Failed attempts in a row: the retries back off (up to 30 s) and only the first loss is reported.
  let failures = 0;
  const again = () => {
    if (opts.stopped() || retry) return;
    retry = setTimeout(
      () => {
        retry = null;
        void connect();
      },
      Math.min(opts.retryMs * 2 ** failures++, 30_000),
    );
    retry.unref();
  };
  const connect = async () => {
    const c = new pg.Client(pool.options);
    const lost = (err?: Error) => {
      if (client !== c) return;
      client = null;
      if (failures === 0) opts.onLost(err ? err.message : 'connection ended');
      void c.end().catch(() => undefined);
      again();
    };
    c.on('error', lost);
    c.on('end', () => lost());
    c.on('notification', opts.changed);
    client = c;
    try {
      await c.connect();
      await c.query(`LISTEN ${DRIFT_SCHEDULES_CHANNEL}`);
      if (opts.stopped() || client !== c) {
        client = null;
        return void c.end().catch(() => undefined);
      }
      failures = 0;
      opts.changed(); // what was announced while nobody listened
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
