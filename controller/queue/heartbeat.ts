/**
 * Crash recovery without graphile-worker's 4-hour lock timeout: every controller process heartbeats a row in
 * `controller_processes` naming its worker pool; any process unlocks the jobs of pools whose heartbeat is stale
 * (the process died: kill -9, node lost) so they run again within seconds.
 */
import { hostname } from 'node:os';
import type { Queryable } from '../../store/in-transaction.js';
import { forceUnlockWorkers, workerPoolsLockedFor } from '../store/graphile-queue.js';

/** Registers (or refreshes) this process's row. */
export async function registerProcess(db: Queryable, processId: string, workerPoolId: string | null): Promise<void> {
  await db.query(
    `INSERT INTO controller_processes (id, worker_pool_id, hostname, pid) VALUES ($1, $2, $3, $4)
     ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), worker_pool_id = EXCLUDED.worker_pool_id`,
    [processId, workerPoolId, hostname(), process.pid],
  );
}

/** Refreshes the heartbeat; false when the row was gone (this process had been declared dead and is re-registered). */
export async function heartbeat(db: Queryable, processId: string, workerPoolId: string | null): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE controller_processes SET heartbeat_at = now() WHERE id = $1`, [
    processId,
  ]);
  if (rowCount) return true;
  await registerProcess(db, processId, workerPoolId);
  return false;
}

/** Removes this process's row on a clean shutdown. */
export async function unregisterProcess(db: Queryable, processId: string): Promise<void> {
  await db.query(`DELETE FROM controller_processes WHERE id = $1`, [processId]);
}

/**
 * Unlocks the jobs and queues held by dead worker pools: those of processes whose heartbeat is older than staleAfterMs,
 * and those locked for longer than that by a pool no live process claims (a process that died before registering).
 * Returns the pool ids unlocked.
 */
export async function recoverStaleWorkers(db: Queryable, staleAfterMs: number): Promise<string[]> {
  // The locks are read first: a pool registered meanwhile is then seen live below, never unlocked as an orphan.
  const locked = await workerPoolsLockedFor(db, staleAfterMs);
  const { rows } = await db.query<{ dead: string[]; live: string[] }>(
    `WITH dead AS (
       DELETE FROM controller_processes WHERE heartbeat_at < now() - make_interval(secs => $1::float8 / 1000)
       RETURNING worker_pool_id
     )
     SELECT coalesce((SELECT array_agg(worker_pool_id) FROM dead WHERE worker_pool_id IS NOT NULL), '{}') AS dead,
            coalesce((SELECT array_agg(worker_pool_id) FROM controller_processes
                       WHERE heartbeat_at >= now() - make_interval(secs => $1::float8 / 1000)
                         AND worker_pool_id IS NOT NULL), '{}') AS live`,
    [staleAfterMs],
  );
  const live = new Set(rows[0].live);
  const ids = [...new Set([...rows[0].dead, ...locked.filter((id) => !live.has(id))])].sort();
  await forceUnlockWorkers(db, ids);
  return ids;
}
