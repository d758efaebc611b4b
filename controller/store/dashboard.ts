/**
 * The dashboard's own tables: sessions of people signed in with GitHub (migrations/094_dashboard_sessions.sql), the
 * actions they took (migrations/095_dashboard_actions.sql), cancels of running runs asked for (runs.cancel_requested_*)
 * and the repository reference an environment's actions queue jobs for (drift_schedules.repo).
 */
import type { Queryable } from '../../store/in-transaction.js';

export interface SessionRow {
  login: string;
  expiresAt: Date;
}

/** Stores a session under the hash of its id; expired sessions of anyone are deleted at the same time. */
export async function createSession(db: Queryable, idHash: Buffer, login: string, ttlMs: number): Promise<void> {
  await db.query('DELETE FROM dashboard_sessions WHERE expires_at < now()');
  await db.query(
    `INSERT INTO dashboard_sessions (id_hash, login, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')`,
    [idHash, login, ttlMs],
  );
}

/** The session with this id hash, unless it expired (database clock). */
export async function findSession(db: Queryable, idHash: Buffer): Promise<SessionRow | null> {
  const { rows } = await db.query<{ login: string; expires_at: Date }>(
    'SELECT login, expires_at FROM dashboard_sessions WHERE id_hash = $1 AND expires_at > now()',
    [idHash],
  );
  return rows[0] ? { login: rows[0].login, expiresAt: rows[0].expires_at } : null;
}

export async function deleteSession(db: Queryable, idHash: Buffer): Promise<void> {
  await db.query('DELETE FROM dashboard_sessions WHERE id_hash = $1', [idHash]);
}

export type DashboardActionKind = 'rerun' | 'cancel' | 'check-drift' | 'heal' | 'release';
export type ActionOutcome = 'done' | 'refused' | 'failed';

export interface ActionRecord {
  id: string;
  at: string;
  login: string;
  action: DashboardActionKind;
  repository: string;
  environment: string;
  runId: string | null;
  commit: string | null;
  outcome: ActionOutcome;
  message: string;
}

export async function recordAction(db: Queryable, a: Omit<ActionRecord, 'id' | 'at'>): Promise<ActionRecord> {
  const { rows } = await db.query<{ id: string; at: Date }>(
    `INSERT INTO dashboard_actions (login, action, repository, environment, run_id, commit, outcome, message)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id, at`,
    [a.login, a.action, a.repository, a.environment, a.runId, a.commit, a.outcome, a.message],
  );
  return { ...a, id: String(rows[0].id), at: rows[0].at.toISOString() };
}

/** The latest actions on an environment (or on one run of it), newest first. */
export async function listActions(
  db: Queryable,
  filter: { repository: string; environment: string; runId?: string },
  limit = 20,
): Promise<ActionRecord[]> {
  const { rows } = await db.query<{
    id: string;
    at: Date;
    login: string;
    action: DashboardActionKind;
    repository: string;
    environment: string;
    run_id: string | null;
    commit: string | null;
    outcome: ActionOutcome;
    message: string;
  }>(
    `SELECT id, at, login, action, repository, environment, run_id, commit, outcome, message
       FROM dashboard_actions
      WHERE repository = $1 AND environment = $2 AND ($3::bigint IS NULL OR run_id = $3)
      ORDER BY id DESC LIMIT $4`,
    [filter.repository, filter.environment, filter.runId ?? null, limit],
  );
  return rows.map((r) => ({
    id: String(r.id),
    at: r.at.toISOString(),
    login: r.login,
    action: r.action,
    repository: r.repository,
    environment: r.environment,
    runId: r.run_id === null ? null : String(r.run_id),
    commit: r.commit,
    outcome: r.outcome,
    message: r.message,
  }));
}

/** The repository reference (a Repository as stored) of a described environment, or null when never loaded. */
export async function environmentRepo(db: Queryable, repository: string, environment: string): Promise<unknown> {
  const { rows } = await db.query<{ repo: unknown }>(
    'SELECT repo FROM drift_schedules WHERE repository = $1 AND environment = $2',
    [repository, environment],
  );
  return rows[0]?.repo ?? null;
}

/** The newest commit of an environment waiting for release (not released, not superseded), or null. */
export async function pendingRelease(
  db: Queryable,
  repository: string,
  environment: string,
): Promise<{ sha: string; planSummary: string; createdAt: string } | null> {
  const { rows } = await db.query<{ commit: string; plan_summary: string; created_at: Date }>(
    `SELECT commit, plan_summary, created_at FROM releases
      WHERE repository = $1 AND environment = $2 AND released_at IS NULL AND superseded_by IS NULL
      ORDER BY created_at DESC LIMIT 1`,
    [repository, environment],
  );
  const r = rows[0];
  return r ? { sha: r.commit, planSummary: r.plan_summary, createdAt: r.created_at.toISOString() } : null;
}

export interface RunOwnerRow {
  ownerHost: string | null;
  ownerPid: number | null;
  cancelRequestedAt: string | null;
  cancelRequestedBy: string | null;
}

/** Who runs a run and whether a cancel was asked for; null for an unknown run. */
export async function runOwner(db: Queryable, runId: string): Promise<RunOwnerRow | null> {
  const { rows } = await db.query<{
    owner_host: string | null;
    owner_pid: number | null;
    cancel_requested_at: Date | null;
    cancel_requested_by: string | null;
  }>('SELECT owner_host, owner_pid, cancel_requested_at, cancel_requested_by FROM runs WHERE id = $1', [runId]);
  const r = rows[0];
  if (!r) return null;
  return {
    ownerHost: r.owner_host,
    ownerPid: r.owner_pid,
    cancelRequestedAt: r.cancel_requested_at?.toISOString() ?? null,
    cancelRequestedBy: r.cancel_requested_by,
  };
}

/** Asks for a running run to be cancelled; false when it is not running any more or a cancel was asked already. */
export async function requestCancel(db: Queryable, runId: string, by: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE runs SET cancel_requested_at = now(), cancel_requested_by = $2
      WHERE id = $1 AND status = 'running' AND cancel_requested_at IS NULL`,
    [runId, by],
  );
  return rowCount === 1;
}

/** Running runs of this process (owner host and pid) with a cancel asked for, among the given environments. */
export async function cancelledRunsOf(
  db: Queryable,
  owner: { host: string; pid: number },
  environments: { repository: string; environment: string }[],
): Promise<{ repository: string; environment: string; runId: string; by: string }[]> {
  const { rows } = await db.query<{ repository: string; environment: string; id: string; by: string }>(
    `SELECT r.key AS repository, e.name AS environment, ru.id, ru.cancel_requested_by AS by
       FROM runs ru
       JOIN environments e ON e.id = ru.environment_id
       JOIN repositories r ON r.id = ru.repository_id
      WHERE ru.status = 'running' AND ru.cancel_requested_at IS NOT NULL
        AND ru.owner_host = $1 AND ru.owner_pid = $2
        AND (r.key, e.name) IN (SELECT * FROM unnest($3::text[], $4::text[]))`,
    [owner.host, owner.pid, environments.map((e) => e.repository), environments.map((e) => e.environment)],
  );
  return rows.map((r) => ({ repository: r.repository, environment: r.environment, runId: String(r.id), by: r.by }));
}
