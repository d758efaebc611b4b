/** The SQL statements of the Postgres state store (see migrations/ for the schema). */

/** A timestamp as ISO 8601 text: ten thousand of these are cheaper than ten thousand Date objects. */
const ISO = (column: string): string => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** States in which a node is still being worked on: its node_run has no finish time yet. */
const IN_PROGRESS = `('provisioning', 'configuring', 'terminating')`;

/**
 * Writes of a run are fenced: once its run is no longer running (finished, or closed as interrupted by another process
 * that found its owner dead), a late write of that run changes nothing. FOR KEY SHARE waits for a closer holding the
 * run row FOR UPDATE, then sees its status as committed.
 */
const LIVE_RUN = (run: string): string =>
  `live AS (SELECT 1 FROM runs WHERE id = ${run}::bigint AND status = 'running' FOR KEY SHARE)`;
const WRITABLE = (run: string): string => `(${run}::bigint IS NULL OR EXISTS (SELECT 1 FROM live))`;

export const FIND_ENVIRONMENT = `
SELECT e.id::text AS id, e.repository_id::text AS repository_id
  FROM environments e JOIN repositories p ON p.id = e.repository_id
 WHERE p.key = $1 AND e.name = $2`;

export const INSERT_REPOSITORY = `INSERT INTO repositories (key) VALUES ($1) ON CONFLICT (key) DO NOTHING`;

export const INSERT_ENVIRONMENT = `
INSERT INTO environments (repository_id, name)
SELECT id, $2 FROM repositories WHERE key = $1
ON CONFLICT (repository_id, name) DO NOTHING`;

/**
 * Read in array row mode, tasks as text, timestamps as ISO text and no ORDER BY (sorted by the caller): with 10,000
 * nodes, per-row type conversion and an on-disk sort would otherwise dominate. Column order is RecordedNodeTuple's.
 */
export const RECORDED_NODES = `
SELECT n.path, n.host, n.port, n.ssh_user, n.spec_hash, n.tasks::text, n.state::text, n.reason, n.last_applied_commit,
       n.last_run_id::text, ${ISO('n.updated_at')}, n.host_key
  FROM nodes n JOIN environments e ON e.id = n.environment_id JOIN repositories p ON p.id = e.repository_id
 WHERE p.key = $1 AND e.name = $2 AND n.state <> 'terminated'`;

export const ENVIRONMENTS = `
SELECT p.key AS repository, e.name AS environment, e.last_applied_commit, e.updated_at
  FROM environments e JOIN repositories p ON p.id = e.repository_id
 WHERE $1::text IS NULL OR p.key = $1
 ORDER BY p.key, e.name`;

export const START_RUN = `
WITH r AS (
  INSERT INTO runs (repository_id, environment_id, commit, kind, trigger)
  VALUES ($1, $2, $3, $4, $5)
  RETURNING id, commit, kind, status, trigger, started_at, finished_at, summary
), touched AS (UPDATE environments SET updated_at = now() WHERE id = $2)
SELECT r.id::text AS id, r.* FROM r`;

/**
 * Upserts a node's recorded state and, within a run, its node_run. Parameters: $1 environment id, $2 path, $3 host,
 * $4 port, $5 user, $6/$7/$8 whether host/port/user were given, $9 state, $10 reason, $11 applied?, $12 spec hash,
 * $13 tasks (json), $14 applied commit, $15 run id, $16 host key line, $17 whether it was given.
 */
export const UPDATE_NODE = `
WITH ${LIVE_RUN('$15')}, n AS (
  INSERT INTO nodes AS n (environment_id, path, host, port, ssh_user, spec_hash, tasks, state, reason,
                          last_applied_commit, last_run_id, host_key)
  SELECT $1::bigint, $2::text, $3::text, $4::int, $5::text, CASE WHEN $11::boolean THEN $12::text ELSE '' END,
         CASE WHEN $11::boolean THEN $13::json ELSE '[]'::json END, $9::lifecycle_state, $10::text,
         CASE WHEN $11::boolean THEN $14::text END, $15::bigint, $16::text
   WHERE ${WRITABLE('$15')}
  ON CONFLICT (environment_id, path) DO UPDATE SET
    host = CASE WHEN $6::boolean THEN EXCLUDED.host ELSE n.host END,
    port = CASE WHEN $7::boolean THEN EXCLUDED.port ELSE n.port END,
    ssh_user = CASE WHEN $8::boolean THEN EXCLUDED.ssh_user ELSE n.ssh_user END,
    host_key = CASE WHEN $17::boolean THEN EXCLUDED.host_key ELSE n.host_key END,
    spec_hash = CASE WHEN $11::boolean THEN EXCLUDED.spec_hash ELSE n.spec_hash END,
    tasks = CASE WHEN $11::boolean THEN EXCLUDED.tasks ELSE n.tasks END,
    last_applied_commit = CASE WHEN $11::boolean THEN EXCLUDED.last_applied_commit ELSE n.last_applied_commit END,
    state = EXCLUDED.state,
    reason = EXCLUDED.reason,
    last_run_id = COALESCE(EXCLUDED.last_run_id, n.last_run_id),
    updated_at = now()
  RETURNING n.host
)
${upsertNodeRun({ run: '$15', path: '$2', host: '(SELECT host FROM n)', state: '$9', reason: '$10' })}`;

/** Terminated nodes leave the recorded state; the run keeps their history. $1 environment id, $2 path, $3 host given
 * (or null), $4 reason, $5 run id. */
export const TERMINATE_NODE = `
WITH ${LIVE_RUN('$5')}, d AS (DELETE FROM nodes WHERE environment_id = $1 AND path = $2 AND ${WRITABLE('$5')} RETURNING host)
${upsertNodeRun({ run: '$5', path: '$2', host: 'COALESCE($3::text, (SELECT host FROM d))', state: "'terminated'", reason: '$4::text' })}`;

function upsertNodeRun(p: { run: string; path: string; host: string; state: string; reason: string }): string {
  return `, nr AS (
  INSERT INTO node_runs (run_id, path, host, state, reason, started_at, finished_at)
  SELECT ${p.run}, ${p.path}, ${p.host}, ${p.state}, ${p.reason},
         CASE WHEN ${p.state}::text IN ('blocked', 'defined') THEN NULL ELSE now() END,
         CASE WHEN ${p.state}::text IN ${IN_PROGRESS} THEN NULL ELSE now() END
   WHERE ${p.run}::bigint IS NOT NULL AND EXISTS (SELECT 1 FROM live)
  ON CONFLICT (run_id, path) DO UPDATE SET
    host = COALESCE(EXCLUDED.host, node_runs.host),
    state = EXCLUDED.state,
    reason = EXCLUDED.reason,
    started_at = COALESCE(node_runs.started_at, EXCLUDED.started_at),
    finished_at = EXCLUDED.finished_at
)
SELECT 1`;
}

/** node_runs rows made by recordTask/appendLog before the engine reported a state say the node is being configured. */
const ENSURE_NODE_RUN = `INSERT INTO node_runs (run_id, path, state, started_at)
  SELECT $1, $2, 'configuring', now() FROM runs WHERE id = $1 AND status = 'running'
  ON CONFLICT (run_id, path) DO NOTHING`;

export const RECORD_TASK = `
WITH nr AS (${ENSURE_NODE_RUN})
INSERT INTO task_results (run_id, node_path, task, outcome, message, duration_ms, started_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)`;

/** Logs keep their last MiB: enough for any failure, bounded for a chatty host. */
const LOG_LIMIT = 1024 * 1024;

export const APPEND_LOG = `
INSERT INTO node_runs (run_id, path, state, started_at, log)
SELECT $1, $2, 'configuring', now(), right($3, ${LOG_LIMIT}) FROM runs WHERE id = $1 AND status = 'running'
ON CONFLICT (run_id, path) DO UPDATE SET log = right(node_runs.log || EXCLUDED.log, ${LOG_LIMIT})`;

/**
 * Finishing an apply that succeeded records its commit as the environment's last applied one. A run already closed (as
 * interrupted, by a process that found its owner dead) stays as that process recorded it.
 */
export const FINISH_RUN = `
WITH r AS (
  UPDATE runs SET status = $2, finished_at = now(), summary = $3::jsonb WHERE id = $1 AND status = 'running'
  RETURNING environment_id, kind, status, commit
)
UPDATE environments e SET updated_at = now(),
  last_applied_commit = CASE WHEN r.kind = 'apply' AND r.status = 'succeeded' AND r.commit IS NOT NULL
                             THEN r.commit ELSE e.last_applied_commit END
  FROM r WHERE e.id = r.environment_id
RETURNING e.id`;

const RUNS_FROM = `FROM runs r JOIN repositories p ON p.id = r.repository_id JOIN environments e ON e.id = r.environment_id`;

export const GET_RUN = (columns: string): string => `SELECT ${columns} ${RUNS_FROM} WHERE r.id = $1`;

export const LIST_RUNS = (columns: string): string => `
SELECT ${columns} ${RUNS_FROM}
 WHERE ($1::text IS NULL OR p.key = $1) AND ($2::text IS NULL OR e.name = $2)
 ORDER BY r.id DESC LIMIT $3`;

export const NODE_RUNS = `
SELECT nr.path, nr.host, nr.state, nr.reason, nr.started_at, nr.finished_at, nr.log,
       COALESCE((SELECT json_agg(json_build_object('name', t.task, 'outcome', t.outcome, 'message', t.message,
                                                   'duration_ms', t.duration_ms, 'started_at', t.started_at) ORDER BY t.id)
                   FROM task_results t WHERE t.run_id = nr.run_id AND t.node_path = nr.path), '[]'::json) AS tasks
  FROM node_runs nr WHERE nr.run_id = $1
 ORDER BY nr.started_at NULLS LAST, nr.path`;

/**
 * A run counts once per task: attempted when the task ran on any node (skips are not attempts), successful when it
 * was met or already met everywhere it ran.
 */
export const TASK_SUCCESS_RATES = `
WITH per_run AS (
  SELECT t.task, t.run_id, bool_and(t.outcome IN ('met', 'already met')) AS ok
    FROM task_results t JOIN runs r ON r.id = t.run_id
    JOIN environments e ON e.id = r.environment_id JOIN repositories p ON p.id = e.repository_id
   WHERE p.key = $1 AND e.name = $2 AND t.outcome <> 'skipped'
   GROUP BY t.task, t.run_id
)
SELECT task, count(*)::int AS runs, count(*) FILTER (WHERE ok)::int AS succeeded FROM per_run GROUP BY task ORDER BY task`;

export const BULK_RECORD_NODES = `
INSERT INTO nodes (environment_id, path, host, port, ssh_user, spec_hash, tasks, state, reason, last_applied_commit,
                   last_run_id, host_key)
SELECT $1, x.path, x.host, x.port, x.user, COALESCE(x.spec_hash, ''), COALESCE(x.tasks::json, '[]'::json), x.state, x.reason,
       x.last_applied_commit, x.last_run_id::bigint, x.host_key
  FROM jsonb_to_recordset($2::jsonb) AS x(path text, host text, port int, "user" text, spec_hash text, tasks jsonb,
                                         state text, reason text, last_applied_commit text, last_run_id text, host_key text)
ON CONFLICT (environment_id, path) DO UPDATE SET
  host = EXCLUDED.host, port = EXCLUDED.port, ssh_user = EXCLUDED.ssh_user, host_key = EXCLUDED.host_key,
  spec_hash = EXCLUDED.spec_hash,
  tasks = EXCLUDED.tasks, state = EXCLUDED.state, reason = EXCLUDED.reason,
  last_applied_commit = EXCLUDED.last_applied_commit, last_run_id = EXCLUDED.last_run_id, updated_at = now()`;

export const DELETE_NODES = `DELETE FROM nodes WHERE environment_id = $1 AND path = ANY($2::text[])`;

/** The default lease of runs recorded without one (by an older version or startRun). */
const DEFAULT_LEASE_MS = 30_000;

/**
 * Starts a run owned by a process: $6 owner host, $7 pid, $8 lease (ms); its heartbeat starts now. The clock, not the
 * transaction's start: a claim may have waited in it for the previous run to finish.
 */
export const START_OWNED_RUN = `
WITH r AS (
  INSERT INTO runs (repository_id, environment_id, commit, kind, trigger, owner_host, owner_pid, lease_ms, heartbeat_at, started_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, clock_timestamp(), clock_timestamp())
  RETURNING id, commit, kind, status, trigger, started_at, finished_at, summary
), touched AS (UPDATE environments SET updated_at = now() WHERE id = $2)
SELECT r.id::text AS id, r.* FROM r`;

/** Serialises claims of an environment's runs within a transaction, whatever happens to session locks. */
export const CLAIM_LOCK = `SELECT pg_advisory_xact_lock(7306, hashtext($1))`;

/**
 * Running runs (of a repository and environment, or all), locked: their owner, lease, and how long since their last
 * heartbeat by the database clock (a run without one has been silent forever).
 */
export const RUNNING_LEASES = `
SELECT r.id::text AS id, r.kind, r.owner_host, r.owner_pid, COALESCE(r.lease_ms, ${DEFAULT_LEASE_MS}) AS lease_ms,
       COALESCE((extract(epoch FROM now() - r.heartbeat_at) * 1000)::bigint, 9223372036854775807)::text AS silent_ms
  ${RUNS_FROM}
 WHERE r.status = 'running' AND ($1::text IS NULL OR p.key = $1) AND ($2::text IS NULL OR e.name = $2)
 ORDER BY r.id
   FOR UPDATE OF r`;

/** Renews a run's heartbeat while it is running. */
export const RENEW_RUN = `UPDATE runs SET heartbeat_at = now() WHERE id = $1 AND status = 'running'`;

/**
 * Closes a run whose owner is gone: cancelled, and every node it left in progress (provisioning, configuring,
 * terminating) failed with $2 as the reason, in the run's history and in the recorded state. Returns how many.
 */
export const CLOSE_DEAD_RUN = `
WITH r AS (
  UPDATE runs SET status = 'cancelled', finished_at = now() WHERE id = $1 AND status = 'running' RETURNING id, environment_id
), nr AS (
  UPDATE node_runs SET state = 'failed', reason = $2, finished_at = now()
   WHERE run_id = (SELECT id FROM r) AND state IN ${IN_PROGRESS}
  RETURNING path
), n AS (
  UPDATE nodes SET state = 'failed', reason = $2, updated_at = now()
   WHERE environment_id = (SELECT environment_id FROM r) AND last_run_id = (SELECT id FROM r) AND state IN ${IN_PROGRESS}
  RETURNING path
)
SELECT count(*)::int AS interrupted FROM (SELECT path FROM nr UNION SELECT path FROM n) x`;

/**
 * The summary of a closed run: its nodes by state (ready, drifted, failed, blocked always present) and $2 interrupted.
 */
export const CLOSED_RUN_SUMMARY = `
UPDATE runs SET summary = jsonb_build_object('ready', 0, 'drifted', 0, 'failed', 0, 'blocked', 0)
  || COALESCE((SELECT jsonb_object_agg(state, c) FROM (SELECT state::text, count(*)::int AS c FROM node_runs WHERE run_id = $1 GROUP BY state) s), '{}'::jsonb)
  || jsonb_build_object('interrupted', $2::int)
 WHERE id = $1`;
