/**
 * The trust rules of docs/configuration.md for `/politburo plan --live` (the comment itself is parsed by
 * webhooks/comment-command.ts).
 */
import { repositoryKey, type Repository } from '../../kernel/repository.js';
import type { Reporter } from '../ports.js';

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
