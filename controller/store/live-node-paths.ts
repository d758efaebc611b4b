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
