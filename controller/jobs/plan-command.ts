/** `/politburo plan [--live] [ENV]` comments, and the trust rules of docs/configuration.md for live plans. */
import { repositoryKey, type Repository } from '../../kernel/repository.js';
import type { Reporter } from '../ports.js';

export interface PlanCommand {
  live: boolean;
  environment?: string;
}

/** Parses the comment's first line; null when it is not a Politburo command. */
export function parseCommand(body: string): PlanCommand | null {
  const first = body.trim().split(/\r?\n/, 1)[0]?.trim() ?? '';
  const m = /^\/politburo\s+plan((?:\s+\S+)*)\s*$/.exec(first);
  if (!m) return null;
  const words = m[1].trim() ? m[1].trim().split(/\s+/) : [];
  const live = words.includes('--live');
  const rest = words.filter((w) => w !== '--live');
  if (rest.length > 1 || rest.some((w) => w.startsWith('-') || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/.test(w)))
    return null;
  return rest.length ? { live, environment: rest[0] } : { live };
}

const WRITERS = new Set(['admin', 'maintain', 'write']);

/**
 * Why a live plan must not run, or null when it may: the commenter needs write permission on the repository, and the
 * pull request's head must be in the same repository (a fork's code never reaches a host).
 */
export async function trustLive(
  reporter: Reporter,
  repo: Repository,
  user: string | undefined,
  headRepository: string | null,
): Promise<string | null> {
  if (headRepository !== repositoryKey(repo))
    return 'the pull request comes from a fork; dry-runs execute its code on hosts.';
  if (!user) return 'the commenter is unknown.';
  const permission = await reporter.permission(repo, user);
  if (!WRITERS.has(permission))
    return `@${user} has ${permission} permission on the repository; live plans need write.`;
  return null;
}
