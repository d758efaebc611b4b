/**
 * The dashboard's view of an environment as described: the description at the environment's last applied commit,
 * checked out from the repository's mirror, so the graph is drawn with its dependency edges.
 */
import type { GitReader } from './ports.js';
import type { ControllerStore } from './jobs/job-ports.js';
import type { ResolvedEnvironment } from '../kernel/types.js';
import { withCommit } from './jobs/load-commit.js';

/** Keeps the last few loaded environments: a dashboard page is drawn often, a commit changes rarely. */
const CACHE_SIZE = 32;

/**
 * Creates `loadEnvironment(repository, environment)` for the dashboard; null when the repository or commit is unknown.
 */
export function createEnvironmentLoader(
  store: Pick<ControllerStore, 'appliedEnvironmentSource'>,
  git: GitReader,
): (repository: string, environment: string) => Promise<ResolvedEnvironment | null> {
  const cache = new Map<string, Promise<ResolvedEnvironment | null>>();
  return async (repository, environment) => {
    // The repository reference is known from the drift schedule recorded when a commit of it was loaded.
    const row = await store.appliedEnvironmentSource(repository, environment);
    if (!row) return null;
    const key = `${repository}\0${environment}\0${row.sha}`;
    let hit = cache.get(key);
    if (!hit) {
      hit = withCommit(git, row.repo, row.sha, async (c) =>
        c.kind === 'ok' ? (c.description.environments.get(environment) ?? null) : null,
      );
      hit.catch(() => cache.delete(key)); // a failed load is tried again next time
      cache.set(key, hit);
      if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
    }
    return hit;
  };
}
