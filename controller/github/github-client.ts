/**
 * Authenticated octokit clients: as a GitHub App (one client per installation, installation tokens minted and
 * refreshed by @octokit/auth-app) or with a token. octokit's retry plugin retries 5xx; rate limits are not retried
 * in-process but handed to the durable write queue, which waits for every replica (see write-queue.ts).
 */
import type { GitHubRepository } from '../../kernel/repository.js';
import { App, Octokit } from 'octokit';

import type { MinimalLogger } from './write-queue.js';

export type GitHubAuth = { appId: number | string; privateKey: string } | { token: string };

export interface GitHubMetrics {
  /** prom-client Counter with labels operation, status (controller/metrics.ts `githubCalls`). */
  githubCalls?: { inc(labels: { operation: string; status: string }): void };
  /** prom-client Gauge with label installation (controller/metrics.ts `githubRateLimitRemaining`). */
  githubRateLimitRemaining?: { set(labels: { installation: string }, value: number): void };
}

interface GitHubClientOptions {
  auth: GitHubAuth;
  /** API root, e.g. `https://github.example.com/api/v3` for GitHub Enterprise (default api.github.com). */
  baseUrl?: string;
  logger: MinimalLogger;
  metrics?: GitHubMetrics;
  /** octokit's in-process retry of 5xx (default 3 retries, base 1 s). */
  retry?: { retries?: number; baseMs?: number };
  /** octokit's in-process throttling (one write per second per process); default on. */
  throttle?: boolean;
}

export interface GitHubClients {
  mode: 'app' | 'token';
  /** The write queue of a repository's installation: `gh:<installation id>`, `gh:token`, or `gh:repo:<owner/name>`. */
  queueFor(repo: Pick<GitHubRepository, 'owner' | 'name' | 'installationId'>): string;
  /** A client allowed to act on the repository. */
  forRepo(repo: Pick<GitHubRepository, 'owner' | 'name' | 'installationId'>): Promise<Octokit>;
  /** Epoch ms until which a queue's rate limit is used up, from the last response's headers. */
  pauseUntil(queue: string): number | undefined;
}

/** Creates the clients for an App or a token. */
export function createGitHubClients(opts: GitHubClientOptions): GitHubClients {
  const exhausted = new Map<string, number>();
  const baseUrl = (opts.baseUrl ?? 'https://api.github.com').replace(/\/+$/, '');
  const defaults = {
    baseUrl,
    userAgent: 'politburo',
    retry: {
      retries: opts.retry?.retries ?? 3,
      retryAfterBaseValue: opts.retry?.baseMs ?? 1000,
      // 409 (a conflict, e.g. a deployment refused for its commit's checks) answers the same when asked again at once.
      doNotRetry: [400, 401, 403, 404, 409, 410, 422, 429, 451],
    },
    throttle: {
      enabled: opts.throttle ?? true,
      // Returning false hands rate limits to the durable queue, which shares the wait with every replica.
      onRateLimit: () => false,
      onSecondaryRateLimit: () => false,
    },
    log: {
      debug: () => {},
      info: () => {},
      warn: (msg: string) => opts.logger.warn({}, msg),
      error: (msg: string) => opts.logger.error({}, msg),
    },
  };
  const Client = Octokit.defaults(defaults);
  const instrument = (octokit: Octokit, queue: string): Octokit => {
    octokit.hook.after('request', (response, options) =>
      observe(queue, String(options.url), String(response.status), response.headers as Record<string, string>),
    );
    octokit.hook.error('request', (error: Error & { status?: number; response?: { headers?: object } }, options) => {
      const headers = (error.response?.headers ?? {}) as Record<string, string | undefined>;
      observe(queue, String(options.url), String(error.status ?? 'error'), headers);
      throw error;
    });
    return octokit;
  };
  const observe = (queue: string, operation: string, status: string, headers: Record<string, string | undefined>) => {
    opts.metrics?.githubCalls?.inc({ operation, status });
    const remaining = headers['x-ratelimit-remaining'];
    if (remaining === undefined) return;
    opts.metrics?.githubRateLimitRemaining?.set({ installation: queue }, Number(remaining));
    if (remaining === '0') exhausted.set(queue, Number(headers['x-ratelimit-reset']) * 1000 + 1000);
    else exhausted.delete(queue);
  };

  if ('token' in opts.auth) {
    const client = instrument(new Client({ auth: opts.auth.token }), 'gh:token');
    return {
      mode: 'token',
      queueFor: () => 'gh:token',
      forRepo: async () => client,
      pauseUntil: (q) => exhausted.get(q),
    };
  }
  const app = new App({ appId: opts.auth.appId, privateKey: opts.auth.privateKey, Octokit: Client });
  const installations = new Map<number, Promise<Octokit>>();
  const installationOf = async (repo: Pick<GitHubRepository, 'owner' | 'name' | 'installationId'>): Promise<number> => {
    if (repo.installationId) return repo.installationId;
    const { data } = await app.octokit.request('GET /repos/{owner}/{repo}/installation', {
      owner: repo.owner,
      repo: repo.name,
    });
    return data.id;
  };
  const queueFor = (repo: Pick<GitHubRepository, 'owner' | 'name' | 'installationId'>) =>
    repo.installationId ? `gh:${repo.installationId}` : `gh:repo:${repo.owner}/${repo.name}`;
  return {
    mode: 'app',
    queueFor,
    async forRepo(repo) {
      const id = await installationOf(repo);
      let client = installations.get(id);
      if (!client) {
        client = app.getInstallationOctokit(id).then((o) => instrument(o as unknown as Octokit, `gh:${id}`));
        // A failed token request is not cached: the next write tries again.
        client.catch(() => installations.delete(id));
        installations.set(id, client);
      }
      return client;
    },
    pauseUntil: (q) => exhausted.get(q),
  };
}
