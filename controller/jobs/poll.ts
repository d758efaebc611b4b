/**
 * Poll mode (docs/configuration.md, no GitHub): every POLITBURO_REPOS entry is fetched; when its branch head moved
 * since last seen
 * (the controller store's poll heads), the new commit is handled like a push. Results go to the dashboard (the state
 * store) and the
 * log (the log reporter). Each move is claimed in the table, so with several replicas one of them queues it.
 */
import type { PollRepo } from '../config.js';

import { type JobDeps } from './job-deps.js';
import { queueApplies } from './queue-applies.js';
import { polledRepository, repositoryKey, type PolledRepository } from '../../kernel/repository.js';

export interface PollResult {
  repository: string;
  branch: string | null;
  sha: string | null;
  /** `unchanged`, what queueApplies said for a new head, or `error: ...`. */
  outcome: string;
}

/** The repository of a POLITBURO_REPOS entry (it reports to the log). */
export function polledRepositoryOf(entry: PollRepo, defaultBranch = entry.branch ?? 'main'): PolledRepository {
  return polledRepository(entry.url, defaultBranch);
}

/** Polls every configured repository once; never throws (a failing repository is logged and reported in the result). */
export async function pollOnce(deps: JobDeps): Promise<PollResult[]> {
  const results: PollResult[] = [];
  for (const entry of deps.config.poll.repos) {
    const log = deps.logger.child({ component: 'poll', repo: entry.url });
    let result: PollResult = {
      repository: polledRepositoryOf(entry).location,
      branch: entry.branch ?? null,
      sha: null,
      outcome: 'unchanged',
    };
    try {
      result = await pollRepository(deps, entry, log);
    } catch (err) {
      log.warn({ err }, `polling ${entry.url} failed; trying again at the next interval`);
      result.outcome = `error: ${err instanceof Error ? err.message : String(err)}`;
    }
    results.push(result);
  }
  return results;
}

async function pollRepository(deps: JobDeps, entry: PollRepo, log: JobDeps['logger']): Promise<PollResult> {
  let repo = polledRepositoryOf(entry);
  if (!entry.branch) {
    const branch = await deps.git.remoteDefaultBranch?.(repo);
    if (!branch)
      throw new Error(`${entry.url} has no default branch: list it as ${entry.url}#BRANCH in POLITBURO_REPOS`);
    repo = polledRepositoryOf(entry, branch);
  }
  const branch = repo.defaultBranch;
  const repository = repositoryKey(repo);
  const sha = await deps.git.branchHead(repo, branch);
  if (!sha) throw new Error(`branch ${branch} does not exist in ${entry.url}`);
  const previous = await deps.controllerStore.claimPollHead(repository, branch, sha);
  if (previous === false) return { repository, branch, sha, outcome: 'unchanged' };
  try {
    const queued = await queueApplies(
      deps,
      repo,
      branch,
      sha,
      `poll ${sha.slice(0, 7)} on ${branch}`,
      log,
      previous ?? undefined,
    );
    log.info(
      { sha, outcome: queued.outcome, environments: queued.environments },
      `new commit ${sha.slice(0, 7)} on ${branch}`,
    );
    return { repository, branch, sha, outcome: queued.outcome };
  } catch (err) {
    // Not handled: forget the claim so the next poll tries this commit again.
    await deps.controllerStore.releasePollHead(repository, branch, sha, previous);
    throw err;
  }
}
