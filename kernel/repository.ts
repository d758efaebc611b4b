/**
 * Which repository a description comes from (docs/architecture.md). A repository on GitHub is reached through webhooks
 * and reported to through the GitHub API; a polled repository (POLITBURO_REPOS, docs/configuration.md) is fetched on a
 * timer and reported to the log. Runs, nodes, queues and locks are keyed by `repositoryKey`, the one spelling of a
 * repository's identity.
 */
import path from 'node:path';
import { z } from 'zod';

interface RepositoryCommon {
  /** Clone URL: https for GitHub; a path, file:// or ssh URL for a polled repository. */
  cloneUrl: string;
  defaultBranch: string;
}

export interface GitHubRepository extends RepositoryCommon {
  kind: 'github';
  owner: string;
  name: string;
  /** Present when authenticated as a GitHub App. */
  installationId?: number;
}

export interface PolledRepository extends RepositoryCommon {
  kind: 'polled';
  /** The POLITBURO_REPOS entry as an absolute path, or the URL as given. */
  location: string;
}

export type Repository = GitHubRepository | PolledRepository;

/** What identifies a repository (GitHub writes queued for later carry only owner and name). */
export type RepositoryIdentity =
  (Pick<GitHubRepository, 'owner' | 'name'> & { kind?: 'github' }) | Pick<PolledRepository, 'kind' | 'location'>;

/** The key runs and nodes are recorded under: `owner/name` on GitHub, the path or URL of a polled repository. */
export function repositoryKey(repo: RepositoryIdentity): string {
  return repo.kind === 'polled' ? repo.location : `${repo.owner}/${repo.name}`;
}

/** The key for messages and logs: as `repositoryKey`, with credentials in a URL hidden. */
export function describeRepository(repo: RepositoryIdentity): string {
  return repo.kind === 'polled' ? redactUrl(repo.location) : repositoryKey(repo);
}

/** Credentials embedded in a URL (`https://user:pass@host`) are never shown. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//***@');
}

/** True for URLs (`scheme://…`, `user@host:path`), false for local paths. */
export function isRemoteUrl(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location) || /^[^/]+@[^/]+:/.test(location);
}

/** A polled repository from a POLITBURO_REPOS entry: local paths are made absolute, URLs kept as given. */
export function polledRepository(url: string, defaultBranch: string): PolledRepository {
  return { kind: 'polled', location: isRemoteUrl(url) ? url : path.resolve(url), cloneUrl: url, defaultBranch };
}

const common = { cloneUrl: z.string().min(1), defaultBranch: z.string().min(1) };
const github = z.object({
  kind: z.literal('github'),
  owner: z.string().min(1),
  name: z.string().min(1),
  installationId: z.number().int().optional(),
  ...common,
});
const polled = z.object({ kind: z.literal('polled'), location: z.string().min(1), ...common });

/**
 * Stored repositories (job payloads, drift schedules) as validated values. Records written before repositories had a
 * `kind` (`owner` empty for a polled repository, its location in `name`) are read as what they meant.
 */
export const RepositorySchema: z.ZodType<Repository> = z.preprocess(
  (value) => {
    if (!value || typeof value !== 'object' || 'kind' in value) return value;
    const old = value as { owner?: unknown; name?: unknown };
    if (old.owner === '') {
      const { owner: _owner, name, ...rest } = old as Record<string, unknown>;
      return { kind: 'polled', location: name, ...rest };
    }
    return { kind: 'github', ...old };
  },
  z.discriminatedUnion('kind', [github, polled]),
) as z.ZodType<Repository>;
