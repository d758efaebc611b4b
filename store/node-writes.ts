/**
 * Node state writes of a run that arrive together — a wave of nodes the scheduler starts at once (`configuring`), a
 * fan-in blocked by one failure — go to PostgreSQL as one statement: one round trip and one commit for the wave
 * instead of one per node. Writes made in the same turn of the event loop are collected and sent at its end; a write
 * alone is sent as before. Each caller still learns whether its own write was recorded (docs/operations.md, "Records
 * tell the truth"): when a statement for several nodes fails, each write is tried again on its own, so one bad write
 * does not fail the others.
 */
import type pg from 'pg';
import type { NodeUpdate } from '../kernel/types.js';

/** A node update as the store's statements take it (validated by the caller). */
export type NodeWrite = NodeUpdate & { runId?: string };

/** The flags a statement is written for: writes are combined only with writes that give the same fields. */
function shapeOf(u: NodeWrite): string {
  return [u.host !== undefined, u.port !== undefined, u.user !== undefined, !!u.applied, u.hostKey !== undefined]
    .map((b) => (b ? 1 : 0))
    .join('');
}

interface Pending {
  path: string;
  update: NodeWrite;
  resolve(): void;
  reject(err: unknown): void;
}

interface Batch {
  envId: string;
  runId: string | null;
  shape: string;
  writes: Pending[];
  paths: Set<string>;
}

/**
 * The same upsert as `UPDATE_NODE` (store/sql.ts), for many nodes of one environment and run given as a JSON array;
 * the fields given are the same for every row ($3–$7), as in one call of updateNode. Writes of a run that is no
 * longer running change nothing (the run is read FOR KEY SHARE, as there).
 */
export const UPDATE_NODES = `
WITH live AS (SELECT 1 FROM runs WHERE id = $2::bigint AND status = 'running' FOR KEY SHARE),
u AS (
  SELECT * FROM jsonb_to_recordset($8::jsonb) AS u(path text, host text, port int, ssh_user text, state text,
    reason text, spec_hash text, tasks json, applied_commit text, host_key text)
), n AS (
  INSERT INTO nodes AS n (environment_id, path, host, port, ssh_user, spec_hash, tasks, state, reason,
                          last_applied_commit, last_run_id, host_key)
  SELECT $1::bigint, u.path, u.host, u.port, u.ssh_user, CASE WHEN $6::boolean THEN u.spec_hash ELSE '' END,
         CASE WHEN $6::boolean THEN u.tasks ELSE '[]'::json END, u.state::lifecycle_state, u.reason,
         CASE WHEN $6::boolean THEN u.applied_commit END, $2::bigint, u.host_key
    FROM u
   WHERE ($2::bigint IS NULL OR EXISTS (SELECT 1 FROM live))
  ON CONFLICT (environment_id, path) DO UPDATE SET
    host = CASE WHEN $3::boolean THEN EXCLUDED.host ELSE n.host END,
    port = CASE WHEN $4::boolean THEN EXCLUDED.port ELSE n.port END,
    ssh_user = CASE WHEN $5::boolean THEN EXCLUDED.ssh_user ELSE n.ssh_user END,
    host_key = CASE WHEN $7::boolean THEN EXCLUDED.host_key ELSE n.host_key END,
    spec_hash = CASE WHEN $6::boolean THEN EXCLUDED.spec_hash ELSE n.spec_hash END,
    tasks = CASE WHEN $6::boolean THEN EXCLUDED.tasks ELSE n.tasks END,
    last_applied_commit = CASE WHEN $6::boolean THEN EXCLUDED.last_applied_commit ELSE n.last_applied_commit END,
    state = EXCLUDED.state,
    reason = EXCLUDED.reason,
    last_run_id = COALESCE(EXCLUDED.last_run_id, n.last_run_id),
    updated_at = now()
  RETURNING n.path, n.host
), nr AS (
  INSERT INTO node_runs (run_id, path, host, state, reason, started_at, finished_at)
  SELECT $2::bigint, u.path, n.host, u.state::lifecycle_state, u.reason,
         CASE WHEN u.state IN ('blocked', 'defined') THEN NULL ELSE now() END,
         CASE WHEN u.state IN ('provisioning', 'configuring', 'terminating') THEN NULL ELSE now() END
    FROM u LEFT JOIN n ON n.path = u.path
   WHERE $2::bigint IS NOT NULL AND EXISTS (SELECT 1 FROM live)
  ON CONFLICT (run_id, path) DO UPDATE SET
    host = COALESCE(EXCLUDED.host, node_runs.host),
    state = EXCLUDED.state,
    reason = EXCLUDED.reason,
    started_at = COALESCE(node_runs.started_at, EXCLUDED.started_at),
    finished_at = EXCLUDED.finished_at
)
SELECT 1`;

/**
 * Combines `updateNode` writes (states other than `terminated`) made in the same turn of the event loop. `single`
 * writes one node as before; it is used for a write alone and to retry the writes of a statement that failed.
 */
export function createNodeWriter(
  pool: pg.Pool,
  single: (envId: string, path: string, update: NodeWrite) => Promise<void>,
): { write(envId: string, path: string, update: NodeWrite): Promise<void>; statements(): number } {
  const open = new Map<string, Batch>();
  let scheduled = false;
  let statements = 0;

  const send = (b: Batch): void => {
    if (b.writes.length === 1) {
      const [w] = b.writes;
      statements++;
      single(b.envId, w.path, w.update).then(w.resolve, w.reject);
      return;
    }
    const [h, p, u, a, k] = [...b.shape].map((c) => c === '1');
    const rows = b.writes.map(({ path, update: x }) => ({
      path,
      host: x.host ?? null,
      port: x.port ?? null,
      ssh_user: x.user ?? null,
      state: x.state,
      reason: x.reason ?? null,
      spec_hash: x.applied?.specHash ?? '',
      tasks: x.applied?.tasks ?? [],
      applied_commit: x.applied?.commit ?? null,
      host_key: x.hostKey ?? null,
    }));
    statements++;
    pool.query(UPDATE_NODES, [b.envId, b.runId, h, p, u, a, k, JSON.stringify(rows)]).then(
      () => b.writes.forEach((w) => w.resolve()),
      // Each write on its own: the caller learns about its own write, and one bad row does not fail the wave.
      () =>
        b.writes.forEach((w) => {
          statements++;
          single(b.envId, w.path, w.update).then(w.resolve, w.reject);
        }),
    );
  };

  const flush = (): void => {
    scheduled = false;
    const batches = [...open.values()];
    open.clear();
    batches.forEach(send);
  };

  return {
    write(envId, path, update) {
      return new Promise<void>((resolve, reject) => {
        const shape = shapeOf(update);
        const key = `${envId}\0${update.runId ?? ''}\0${shape}`;
        let b = open.get(key);
        // A second write of the same node in one turn goes after the first, never in the same statement.
        if (b?.paths.has(path)) {
          open.delete(key);
          send(b);
          b = undefined;
        }
        if (!b) {
          b = { envId, runId: update.runId ?? null, shape, writes: [], paths: new Set() };
          open.set(key, b);
        }
        b.writes.push({ path, update, resolve, reject });
        b.paths.add(path);
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    statements: () => statements,
  };
}
