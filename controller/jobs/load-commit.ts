/**
 * A commit's description: checked out from the mirror and loaded. A repository without `politburo.yml` is not
 * Politburo's business (docs/configuration.md: acknowledged and ignored); an invalid description is a terminal problem
 * to report.
 */
import type { Repository } from '../../kernel/repository.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { GitReader } from '../ports.js';
import type { Description, ValidationError } from '../../kernel/types.js';
import { DEFAULT_FILE, loadDescription } from '../../schema/load-description.js';

export type LoadedCommit =
  | { kind: 'none'; dir: string }
  | { kind: 'invalid'; dir: string; errors: ValidationError[] }
  | { kind: 'ok'; dir: string; description: Description };

/** Checks `sha` out and loads its description; `cleanup` must be called when done with the directory. */
export async function loadCommit(
  git: GitReader,
  repo: Repository,
  sha: string,
): Promise<LoadedCommit & { cleanup: () => Promise<void> }> {
  const { dir, cleanup } = await git.checkout(repo, sha);
  try {
    if (!existsSync(path.join(dir, DEFAULT_FILE))) return { kind: 'none', dir, cleanup };
    const loaded = await loadDescription({ dir });
    if (!loaded.ok) return { kind: 'invalid', dir, errors: loaded.errors, cleanup };
    return { kind: 'ok', dir, description: loaded.description, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Runs `fn` with a loaded commit, removing the checkout afterwards whatever happens. */
export async function withCommit<T>(
  git: GitReader,
  repo: Repository,
  sha: string,
  fn: (c: LoadedCommit) => Promise<T>,
): Promise<T> {
  const loaded = await loadCommit(git, repo, sha);
  try {
    return await fn(loaded);
  } finally {
    await loaded.cleanup();
  }
}
