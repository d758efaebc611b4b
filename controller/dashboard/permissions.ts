/**
 * What a person signed in with GitHub may see and do on the dashboard follows their permission on each repository
 * (docs/controller.md, "The dashboard"): read (and triage) shows its environments and runs; write, maintain and admin
 * also act. The permission is asked of GitHub (the collaborator permission endpoint, with the App's installation token
 * or GITHUB_TOKEN) and kept for a minute. Repositories that are not on GitHub (poll mode) have no GitHub permissions:
 * people signed in with GitHub see none of them (the shared token and public mode do).
 */
export type Permission = 'admin' | 'maintain' | 'write' | 'triage' | 'read' | 'none';

const READERS = new Set<Permission>(['admin', 'maintain', 'write', 'triage', 'read']);
const WRITERS = new Set<Permission>(['admin', 'maintain', 'write']);

export const mayRead = (p: Permission): boolean => READERS.has(p);
export const mayAct = (p: Permission): boolean => WRITERS.has(p);

/** `owner/name`: a GitHub repository key (polled repositories are keyed by a path or URL). */
export function githubRepository(repository: string): { owner: string; name: string } | null {
  const m = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(repository);
  return m ? { owner: m[1], name: m[2] } : null;
}

/** Asks GitHub for `login`'s permission on `owner/name`; an unanswered question must answer 'none'. */
export type PermissionLookup = (repo: { owner: string; name: string }, login: string) => Promise<Permission>;

/** A lookup with a short cache (`ttlMs`, default one minute), and 'none' for repositories not on GitHub. */
export function cachedPermissions(
  lookup: PermissionLookup,
  opts: { ttlMs?: number; max?: number } = {},
): (repository: string, login: string) => Promise<Permission> {
  const ttlMs = opts.ttlMs ?? 60_000;
  const max = opts.max ?? 5000;
  const cache = new Map<string, { at: number; value: Promise<Permission> }>();
  return async (repository, login) => {
    const repo = githubRepository(repository);
    if (!repo) return 'none';
    const key = `${repository}\n${login.toLowerCase()}`;
    const hit = cache.get(key);
    if (hit && Date.now() - hit.at < ttlMs) return hit.value;
    const value = lookup(repo, login).catch((): Permission => 'none');
    cache.set(key, { at: Date.now(), value });
    if (cache.size > max) cache.delete(cache.keys().next().value!);
    return value;
  };
}
