/**
 * The paths of an environment's recorded nodes, for the dashboard's live updates (docs/controller.md, "Live updates"):
 * a node a run terminates leaves the `nodes` table (store/sql.ts TERMINATE_NODE), so its removal is seen as a path
 * missing from this list, not as a changed row.
 */
import type { Queryable } from '../../store/in-transaction.js';

/** At most `limit` paths (in path order), and whether that was all of them. */
export async function liveNodePaths(
  db: Queryable,
  environmentId: string,
  limit: number,
): Promise<{ paths: string[]; complete: boolean }> {
  const { rows } = await db.query<{ path: string }>(
    'SELECT path FROM nodes WHERE environment_id = $1 ORDER BY path LIMIT $2',
    [environmentId, limit + 1],
  );
  return { paths: rows.slice(0, limit).map((r) => r.path), complete: rows.length <= limit };
}

/**
 * The nodes a running run of the environment has terminated. Until that run ends, the environment's last applied
 * commit still describes them; the page shows them terminated, not `defined` (never applied).
 */
export async function terminatingNodes(db: Queryable, repository: string, environment: string): Promise<Set<string>> {
  const { rows } = await db.query<{ path: string }>(
    `SELECT nr.path FROM node_runs nr
       JOIN runs ru ON ru.id = nr.run_id
       JOIN environments e ON e.id = ru.environment_id
       JOIN repositories r ON r.id = e.repository_id
      WHERE r.key = $1 AND e.name = $2 AND ru.status = 'running' AND nr.state = 'terminated'`,
    [repository, environment],
  );
  return new Set(rows.map((r) => r.path));
}
