/**
 * Runs left `running` by a controller that died (kill -9, node lost) are closed as cancelled by the next run of the
 * same environment. Every run starts inside the environment's lock, so once a run with a higher id has run, any older
 * run still marked running cannot be alive.
 */
import type { Logger } from '../logger.js';
import type { StateStore } from '../../reconciler/types.js';

/** Cancels the environment's runs older than `runId` that are still marked running; returns their ids. */
export async function closeOrphanedRuns(store: StateStore, repository: string, environment: string, runId: string | null, log: Logger): Promise<string[]> {
  if (!runId) return [];
  const runs = await store.listRuns({ repository, environment, limit: 200 });
  const orphans = runs.filter((r) => r.status === 'running' && BigInt(r.id) < BigInt(runId));
  for (const r of orphans) {
    await store.finishRun(r.id, 'cancelled', r.summary ?? {});
    log.warn({ run: r.id }, `run ${r.id} of ${environment} was left running by a controller that stopped: marked cancelled`);
  }
  return orphans.map((r) => r.id);
}
