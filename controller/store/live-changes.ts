/**
 * What the dashboard's live streams read after a change is announced (docs/controller.md, "Live updates";
 * migrations/097_live_updates.sql): a run's node runs with the new part of their logs, task results after an id,
 * runs, environment summaries and recorded nodes.
 */
import type { Queryable } from '../../store/in-transaction.js';
import { RUN_COLUMNS, toRunRecord, type RunRow } from '../../store/rows.js';
import type { LifecycleState, RunRecord, TaskOutcome } from '../../kernel/types.js';

/** The channel migration 097's triggers notify. */
export const CHANGES_CHANNEL = 'politburo_changes';

/** The stored log keeps its last MiB (store/sql.ts APPEND_LOG): a log this long may have lost its beginning. */
export const STORED_LOG_LIMIT = 1024 * 1024;

export interface LiveNodeRun {
  path: string;
  host: string | null;
  state: LifecycleState;
  reason: string | null;
  task: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** Characters in the stored log. */
  logLength: number;
  /** The log from the offset asked for (at most the characters asked for, its end). */
  logText: string;
  /** Where logText starts in the stored log. */
  logFrom: number;
}

export interface LiveTask {
  id: string;
  path: string;
  name: string;
  outcome: TaskOutcome;
  message: string | null;
  durationMs: number | null;
}

export interface LiveEnvironment {
  id: string;
  repository: string;
  environment: string;
  lastCommit: string | null;
  updatedAt: string;
  nodes: number;
  states: Partial<Record<LifecycleState, number>>;
}

export interface LiveNode {
  path: string;
  host: string | null;
  state: LifecycleState;
  reason: string | null;
  lastAppliedCommit: string | null;
  lastRunId: string | null;
  updatedAt: string;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** The run, or null. */
export async function liveRun(db: Queryable, runId: string): Promise<RunRecord | null> {
  const { rows } = await db.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM runs r JOIN repositories p ON p.id = r.repository_id
       JOIN environments e ON e.id = r.environment_id WHERE r.id = $1`,
    [runId],
  );
  return rows[0] ? toRunRecord(rows[0]) : null;
}

/** The latest runs, newest first (of one environment when given). */
export async function liveRuns(db: Queryable, limit: number, environmentId?: string): Promise<RunRecord[]> {
  const { rows } = await db.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM runs r JOIN repositories p ON p.id = r.repository_id
       JOIN environments e ON e.id = r.environment_id
      WHERE $1::bigint IS NULL OR r.environment_id = $1 ORDER BY r.id DESC LIMIT $2`,
    [environmentId ?? null, limit],
  );
  return rows.map(toRunRecord);
}

/**
 * Node runs of a run (only those changed at or after `since` when given: node_runs.changed_at, migration 097), each
 * with its log from `from[path]` (0 when absent), at most `maxChars` of it (the end), and the database's time to ask
 * from next time. Ordered as the run page orders them.
 */
export async function liveNodeRuns(
  db: Queryable,
  runId: string,
  opts: { from?: Map<string, number>; maxChars: number; since?: string | null },
): Promise<{ nodes: LiveNodeRun[]; now: string }> {
  const paths = opts.from ? [...opts.from.keys()] : null;
  const offsets = paths ? paths.map((p) => opts.from?.get(p) ?? 0) : null;
  const { rows } = await db.query<{
    path: string;
    host: string | null;
    state: LifecycleState;
    reason: string | null;
    current_task: string | null;
    started_at: Date | null;
    finished_at: Date | null;
    log_length: number;
    log_from: number;
    log_text: string;
    now: Date;
  }>(
    `WITH wanted AS (SELECT * FROM unnest($2::text[], $3::int[]) AS w(path, sent))
     SELECT nr.path, nr.host, nr.state, nr.reason, nr.current_task, nr.started_at, nr.finished_at,
            length(nr.log) AS log_length, x.log_from,
            substr(nr.log, x.log_from + 1, $4) AS log_text, clock_timestamp() AS now
       FROM node_runs nr
       LEFT JOIN wanted w ON w.path = nr.path
       CROSS JOIN LATERAL (SELECT GREATEST(LEAST(COALESCE(w.sent, 0), length(nr.log)), length(nr.log) - $4) AS log_from) x
      WHERE nr.run_id = $1 AND ($5::timestamptz IS NULL OR nr.changed_at >= $5)
      ORDER BY nr.started_at NULLS LAST, nr.path`,
    [runId, paths, offsets, opts.maxChars, opts.since ?? null],
  );
  const now = rows[0]?.now ?? (await db.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0].now;
  const nodes = rows.map((r) => ({
    path: r.path,
    host: r.host,
    state: r.state,
    reason: r.reason,
    task: r.current_task,
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
    logLength: r.log_length,
    logFrom: r.log_from,
    logText: r.log_text,
  }));
  return { nodes, now: now.toISOString() };
}

/** Task results of a run with an id above `afterId`, in the order they were recorded. */
export async function liveTasks(db: Queryable, runId: string, afterId: string): Promise<LiveTask[]> {
  const all: LiveTask[] = [];
  for (let after = afterId; ;) {
    const page = await liveTaskPage(db, runId, after);
    all.push(...page);
    if (page.length < TASK_PAGE) return all;
    after = page[page.length - 1].id;
  }
}

const TASK_PAGE = 5000;

async function liveTaskPage(db: Queryable, runId: string, afterId: string): Promise<LiveTask[]> {
  const { rows } = await db.query<{
    id: string;
    node_path: string;
    task: string;
    outcome: TaskOutcome;
    message: string | null;
    duration_ms: number | null;
  }>(
    `SELECT id::text AS id, node_path, task, outcome, message, duration_ms FROM task_results
      WHERE run_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
    [runId, afterId, TASK_PAGE],
  );
  return rows.map((r) => ({
    id: r.id,
    path: r.node_path,
    name: r.task,
    outcome: r.outcome,
    message: r.message,
    durationMs: r.duration_ms,
  }));
}

/** Environment summaries (all, or the ones with these ids): node counts by state, last applied commit. */
export async function liveEnvironments(db: Queryable, ids?: string[]): Promise<LiveEnvironment[]> {
  const { rows } = await db.query<{
    id: string;
    repository: string;
    environment: string;
    last_applied_commit: string | null;
    updated_at: Date;
    states: Record<string, number> | null;
  }>(
    `SELECT e.id::text AS id, p.key AS repository, e.name AS environment, e.last_applied_commit, e.updated_at,
            (SELECT json_object_agg(s.state, s.n) FROM (SELECT n.state, count(*)::int AS n FROM nodes n
               WHERE n.environment_id = e.id AND n.state <> 'terminated' GROUP BY n.state ORDER BY n.state) s) AS states
       FROM environments e JOIN repositories p ON p.id = e.repository_id
      WHERE $1::bigint[] IS NULL OR e.id = ANY($1)
      ORDER BY p.key, e.name`,
    [ids ?? null],
  );
  return rows.map((r) => {
    const states = (r.states ?? {}) as Partial<Record<LifecycleState, number>>;
    return {
      id: r.id,
      repository: r.repository,
      environment: r.environment,
      lastCommit: r.last_applied_commit,
      updatedAt: r.updated_at.toISOString(),
      nodes: Object.values(states).reduce((a, b) => a + (b ?? 0), 0),
      states,
    };
  });
}

/** Runs still running (of one environment when given), with their environment's id. */
export async function liveRunningRuns(
  db: Queryable,
  environmentId?: string,
): Promise<{ id: string; environmentId: string }[]> {
  const { rows } = await db.query<{ id: string; environment_id: string }>(
    `SELECT id::text AS id, environment_id::text AS environment_id FROM runs
      WHERE status = 'running' AND ($1::bigint IS NULL OR environment_id = $1)`,
    [environmentId ?? null],
  );
  return rows.map((r) => ({ id: r.id, environmentId: r.environment_id }));
}

/** How many nodes take part in a run. */
export async function liveNodeRunCount(db: Queryable, runId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM node_runs WHERE run_id = $1', [runId]);
  return rows[0].n;
}

/** The id of an environment, or null. */
export async function liveEnvironmentId(
  db: Queryable,
  repository: string,
  environment: string,
): Promise<string | null> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT e.id::text AS id FROM environments e JOIN repositories p ON p.id = e.repository_id
      WHERE p.key = $1 AND e.name = $2`,
    [repository, environment],
  );
  return rows[0]?.id ?? null;
}

/**
 * Recorded nodes of an environment changed at or after `since` (all when null), at most `limit` of them, and the time
 * of the database to ask from next time.
 */
export async function liveNodes(
  db: Queryable,
  environmentId: string,
  since: string | null,
  limit: number,
): Promise<{ nodes: LiveNode[]; now: string }> {
  const { rows } = await db.query<{
    path: string;
    host: string | null;
    state: LifecycleState;
    reason: string | null;
    last_applied_commit: string | null;
    last_run_id: string | null;
    updated_at: Date;
    now: Date;
  }>(
    `SELECT n.path, n.host, n.state, n.reason, n.last_applied_commit, n.last_run_id::text AS last_run_id, n.updated_at,
            clock_timestamp() AS now
       FROM nodes n WHERE n.environment_id = $1 AND ($2::timestamptz IS NULL OR n.updated_at >= $2)
      ORDER BY n.updated_at DESC LIMIT $3`,
    [environmentId, since, limit],
  );
  const now = rows[0]?.now ?? (await db.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0].now;
  return {
    nodes: rows.map((r) => ({
      path: r.path,
      host: r.host,
      state: r.state,
      reason: r.reason,
      lastAppliedCommit: r.last_applied_commit,
      lastRunId: r.last_run_id,
      updatedAt: r.updated_at.toISOString(),
    })),
    now: now.toISOString(),
  };
}
