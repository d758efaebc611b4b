/**
 * The token git clones https URLs with: the configured token, or (GitHub App) the repository's installation token,
 * minted through octokit (cached and refreshed by @octokit/app). For the composition root's git reader:
 * `createGitReader({ dataDir, token: cloneToken(githubAuth(config), config, logger) })`.
 */
import type { Repository } from '../../kernel/repository.js';
import type { ControllerConfig } from '../config.js';
import { createGitHubClients, type GitHubAuth } from '../github/github-client.js';
import type { Logger } from '../logger.js';

/** The GitHub credentials of the configuration (an App wins over a token), or null. */
export function githubAuth(config: ControllerConfig): GitHubAuth | null {
  if (config.github.appId !== undefined && config.github.privateKey)
    return { appId: config.github.appId, privateKey: config.github.privateKey };
  if (config.github.token) return { token: config.github.token };
  return null;
}

/**
 * A token function for createGitReader; undefined (anonymous clones) without credentials or for poll-mode repositories.
 */
export function cloneToken(
  auth: GitHubAuth | null,
  config: ControllerConfig,
  logger: Logger,
): ((repo: Repository) => Promise<string | undefined>) | undefined {
  if (!auth) return undefined;
  if ('token' in auth) return async () => auth.token;
  const clients = createGitHubClients({
    auth,
    baseUrl: config.github.apiUrl,
    logger: logger.child({ component: 'git-auth' }),
  });
  return async (repo) => {
    if (repo.kind !== 'github') return undefined;
    const octokit = (await clients.forRepo(repo)) as unknown as {
      auth(o: object): Promise<{ token?: string } | undefined>;
    };
    return (await octokit.auth({ type: 'installation' }))?.token;
  };
}
