/** The running task of a node in a run (docs/controller.md, "Live updates"): node_runs.current_task, migration 097. */
import type pg from 'pg';

/**
 * Only a node_run that exists and is unfinished, of a run still running, gets it: a late write changes nothing, and a
 * dry run's held node gets no node_run from it. Migration 097's triggers clear it when the task's outcome or the node's
 * final state is recorded.
 */
const TASK_STARTED = `
UPDATE node_runs nr SET current_task = $3
  FROM runs r
 WHERE nr.run_id = $1 AND nr.path = $2 AND nr.finished_at IS NULL AND r.id = nr.run_id AND r.status = 'running'`;

export async function recordTaskStarted(pool: pg.Pool, runId: string, path: string, task: string): Promise<void> {
  if (!/^[1-9]\d{0,18}$/.test(runId))
    throw new Error(`state store: taskStarted: invalid run id ${JSON.stringify(runId)}`);
  await pool.query(TASK_STARTED, [runId, path, task]);
}
