/** The recorded state of a repository's environments, as `politburo status` prints it. */
import { closeDeadRuns } from './run-lock.js';
import type { LifecycleState, StateStore } from '../kernel/types.js';

export interface StatusNode {
  path: string;
  host: string | null;
  state: LifecycleState;
  reason: string | null;
  lastAppliedCommit: string | null;
  lastRunId: string | null;
  updatedAt: string | null;
}

export interface EnvironmentStatus {
  environment: string;
  repository: string;
  /** Commit of the environment's last successful apply. */
  lastAppliedCommit: string | null;
  updatedAt: string | null;
  nodes: StatusNode[];
  /** Nodes by state; ready, drifted, failed and blocked are always present. */
  summary: Record<string, number>;
}

/** Counts nodes by lifecycle state. */
function summarise(states: LifecycleState[]): Record<string, number> {
  const summary: Record<string, number> = { ready: 0, drifted: 0, failed: 0, blocked: 0 };
  for (const s of states) summary[s] = (summary[s] ?? 0) + 1;
  return summary;
}

/**
 * The status of one environment (empty when nothing is recorded) or, without one, of every recorded environment. Runs
 * left running by a process that is gone are closed as interrupted first, so the states shown are true.
 */
export async function statusReport(
  store: StateStore,
  repository: string,
  environment?: string,
  log?: (line: string) => void,
): Promise<EnvironmentStatus[]> {
  // Best effort: a read-only database user still gets the status.
  await closeDeadRuns(store, { repository, environment }, log).catch((err: Error) =>
    log?.(`could not close runs left by stopped processes: ${err.message}`),
  );
  const recorded = await store.environments(repository);
  const wanted = environment === undefined ? recorded : recorded.filter((e) => e.environment === environment);
  if (environment !== undefined && wanted.length === 0) {
    return [{ environment, repository, lastAppliedCommit: null, updatedAt: null, nodes: [], summary: summarise([]) }];
  }
  return Promise.all(
    wanted.map(async (env) => {
      const nodes = await store.recordedNodes(repository, env.environment);
      return {
        environment: env.environment,
        repository,
        lastAppliedCommit: env.lastCommit,
        updatedAt: env.updatedAt,
        nodes: nodes.map((n) => ({
          path: n.path,
          host: n.host,
          state: n.state,
          reason: n.reason ?? null,
          lastAppliedCommit: n.lastAppliedCommit,
          lastRunId: n.lastRunId,
          updatedAt: n.updatedAt ?? null,
        })),
        summary: summarise(nodes.map((n) => n.state)),
      };
    }),
  );
}
