/**
 * Wiring of the flows for the composition root: `startController(config, { createTaskList: flows.createTaskList,
 * pollOnce: flows.pollOnce })`. Builds, once per controller, the git reader (mirrors under the data directory, cloned
 * with the installation's token), the reporter (GitHub when credentials are configured, else the log), and the drift
 * scheduler; `stop()` releases them.
 */
import path from 'node:path';
import type { TaskList } from 'graphile-worker';
import type pg from 'pg';
import type { ControllerConfig } from '../config.js';
import { createGitHubClients, type GitHubAuth } from '../github/github-client.js';
import { createGitHubReporter, type GitHubReporter } from '../github/reporter.js';
import type { Logger } from '../logger.js';
import { githubWriteTasks } from '../github/write-tasks.js';
import { githubCalls, githubRateLimitRemaining } from '../metrics.js';
import type { Reporter, RepoRef } from '../ports.js';
import type { StateStore } from '../../reconciler/types.js';
import { createGitReader } from '../git/mirror.js';
import { startDriftScheduler, type DriftScheduler } from './drift-schedule.js';
import { createTaskList } from './index.js';
import type { JobDeps } from './job-deps.js';
import { createLogReporter } from './log-reporter.js';
import { pollOnce } from './poll.js';

/** What main.ts's ControllerContext provides. */
export interface FlowContext {
  config: ControllerConfig;
  pool: pg.Pool;
  store: StateStore;
  logger: Logger;
}

export interface FlowOverrides {
  /** A reporter to use instead of the one built from the configuration. */
  reporter?: Reporter;
  connector?: JobDeps['connector'];
  /** How often replicas re-read the drift schedules (default 60 s). */
  driftRefreshMs?: number;
}

export interface Flows {
  createTaskList(ctx: FlowContext): TaskList;
  pollOnce(ctx: FlowContext): Promise<void>;
  /** The deps built for the context (after createTaskList), for tests. */
  deps(): JobDeps | undefined;
  driftScheduler(): DriftScheduler | undefined;
  stop(): Promise<void>;
}

/** The GitHub credentials of the configuration, if any. */
export function githubAuth(config: ControllerConfig): GitHubAuth | null {
  if (config.github.appId !== undefined && config.github.privateKey) return { appId: config.github.appId, privateKey: config.github.privateKey };
  if (config.github.token) return { token: config.github.token };
  return null;
}

/** Creates the flows (see module comment). */
export function createFlows(overrides: FlowOverrides = {}): Flows {
  let deps: JobDeps | undefined;
  let scheduler: DriftScheduler | undefined;
  let built: GitHubReporter | undefined;
  const build = (ctx: FlowContext): JobDeps => {
    if (deps) return deps;
    const auth = githubAuth(ctx.config);
    let reporter = overrides.reporter;
    if (!reporter && auth) {
      built = createGitHubReporter({ pool: ctx.pool, auth, baseUrl: ctx.config.github.apiUrl, logger: ctx.logger.child({ component: 'github' }), metrics: { githubCalls, githubRateLimitRemaining } });
      reporter = built;
    }
    deps = {
      pool: ctx.pool,
      store: ctx.store,
      reporter: reporter ?? createLogReporter(ctx.logger),
      git: createGitReader({ dataDir: path.join(ctx.config.dataDir, 'git'), token: auth ? cloneToken(auth, ctx) : undefined }),
      config: ctx.config,
      logger: ctx.logger,
      connector: overrides.connector,
    };
    scheduler = startDriftScheduler({ pool: ctx.pool, logger: ctx.logger, refreshMs: overrides.driftRefreshMs });
    return deps;
  };
  return {
    createTaskList: (ctx) => {
      const tasks = createTaskList(build(ctx));
      // The durable nudge of the GitHub write path, when this controller writes to GitHub.
      return built ? { ...githubWriteTasks({ reporter: built }), ...tasks } : tasks;
    },
    pollOnce: async (ctx) => {
      await pollOnce(build(ctx));
    },
    deps: () => deps,
    driftScheduler: () => scheduler,
    async stop() {
      scheduler?.stop();
      await built?.close();
    },
  };
}

/** The token git clones https URLs with: the configured token, or the repository's installation token (App). */
export function cloneToken(auth: GitHubAuth, ctx: FlowContext): (repo: RepoRef) => Promise<string | undefined> {
  if ('token' in auth) return async () => auth.token;
  const clients = createGitHubClients({ auth, baseUrl: ctx.config.github.apiUrl, logger: ctx.logger.child({ component: 'git-auth' }) });
  return async (repo) => {
    if (!repo.owner) return undefined;
    const octokit = await clients.forRepo(repo);
    const result = (await (octokit as unknown as { auth(o: object): Promise<{ token?: string }> }).auth({ type: 'installation' })) ?? {};
    return result.token;
  };
}
