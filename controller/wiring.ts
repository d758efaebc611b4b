/**
 * Builds the job handlers' dependencies (controller/jobs JobDeps) from the controller's context, picking every
 * implementation: the GitHub reporter (an App or a token; the log when neither is configured), the git mirror reader
 * (its checkouts counted), the controller store, the delivery records and the job queue over PostgreSQL, the SSH host
 * connector, the
 * drift scheduler, the notification delivery worker and the watch for cancels asked for from the dashboard.
 */
import type { TaskList } from 'graphile-worker';
import type pg from 'pg';
import type { ControllerConfig } from './config.js';
import type { Logger } from './logger.js';
import type { StateStore } from '../kernel/types.js';
import { createHostConnector } from '../hosts/ssh-connector.js';
import { countCheckouts } from './git/checkout-counter.js';
import { createGitReader } from './git/mirror.js';
import { createGitHubReporter, type GitHubReporter } from './github/reporter.js';
import {
  cloneToken,
  createLogReporter,
  createTaskList,
  githubAuth,
  pollOnce,
  startDriftScheduler,
  type JobDeps,
} from './jobs/index.js';
import { githubCalls, githubRateLimitRemaining } from './metrics.js';
import { finishStaleChecks } from './github/finish-stale-checks.js';
import { createEnvironmentLoader } from './environment-loader.js';
import type { ResolvedEnvironment } from '../kernel/types.js';
import { createPgControllerStore } from './store/controller-store.js';
import { createPgDeliveryRecords } from './store/deliveries.js';
import { createPgJobQueue } from './store/job-queue.js';
import { createAlertDeliveryWorker } from './notify/delivery-worker.js';
import { createPgNotifier } from './notify/notifier.js';
import { createRunCancellations } from './run-cancellation.js';

/** What the composition root (controller/main.ts) hands to the job handlers, the poller and the dashboard. */
export interface ControllerContext {
  config: ControllerConfig;
  pool: pg.Pool;
  store: StateStore;
  logger: Logger;
}

/** How often checks left pending by a crashed process are looked for (besides once at start-up). */
const STALE_CHECK_SWEEP_MS = 5 * 60_000;

export interface Flows {
  deps: JobDeps;
  taskList: TaskList;
  pollOnce: () => Promise<void>;
  /** The environment as described at its last applied commit, for the dashboard's graph. */
  loadEnvironment: (repository: string, environment: string) => Promise<ResolvedEnvironment | null>;
  /** Stops the drift scheduler and flushes the GitHub write path. */
  close(): Promise<void>;
}

/** Wires the real flows (see module comment). */
export function createFlows(ctx: ControllerContext): Flows {
  const auth = githubAuth(ctx.config);
  let github: GitHubReporter | undefined;
  if (auth) {
    github = createGitHubReporter({
      pool: ctx.pool,
      auth,
      baseUrl: ctx.config.github.apiUrl,
      logger: ctx.logger.child({ component: 'github' }),
      metrics: { githubCalls, githubRateLimitRemaining },
    });
  } else {
    ctx.logger.warn(
      'no GitHub credentials (GITHUB_APP_ID + GITHUB_PRIVATE_KEY, or GITHUB_TOKEN): results go to the log and the dashboard only',
    );
  }
  // Clones over https with the token, or the App's installation token for the repository.
  const git = countCheckouts(
    createGitReader({ dataDir: ctx.config.dataDir, token: cloneToken(auth, ctx.config, ctx.logger) }),
  );
  const controllerStore = createPgControllerStore(ctx.pool);
  const queue = createPgJobQueue(ctx.pool);
  // Notifications: jobs queue them (alert_deliveries); this worker sends them, retried, beside the jobs.
  const alerts = ctx.config.alerts;
  const alertWorker = alerts.webhooks.length
    ? createAlertDeliveryWorker({
        pool: ctx.pool,
        fetch: globalThis.fetch,
        logger: ctx.logger.child({ component: 'notifications' }),
        secret: alerts.secret,
        attempts: alerts.attempts,
        timeoutMs: alerts.timeoutMs,
        backoffMs: alerts.backoffMs,
      })
    : undefined;
  if (alertWorker && !alerts.secret)
    ctx.logger.warn('POLITBURO_ALERT_SECRET is not set: notifications are sent unsigned');
  alertWorker?.start();
  // The dashboard's Cancel reaches the applies this process runs (controller/run-cancellation.ts).
  const cancellations = createRunCancellations({ pool: ctx.pool, logger: ctx.logger.child({ component: 'cancel' }) });
  const deps: JobDeps = {
    store: ctx.store,
    controllerStore,
    queue,
    deliveries: createPgDeliveryRecords(ctx.pool),
    reporter: github ?? createLogReporter(ctx.logger),
    git,
    config: ctx.config,
    logger: ctx.logger,
    connector: createHostConnector,
    notifier: createPgNotifier({
      pool: ctx.pool,
      urls: alerts.webhooks,
      publicUrl: ctx.config.publicUrl,
      onQueued: () => alertWorker?.kick(),
    }),
    cancellations,
  };
  const drift = startDriftScheduler({ controllerStore, queue, logger: ctx.logger });
  // A check left pending by a crash is finished after the restart (docs/configuration.md), and periodically for other
  // replicas'.
  let sweep: NodeJS.Timeout | undefined;
  if (github) {
    const reporter = github;
    const finishStale = () =>
      finishStaleChecks(ctx.pool, reporter).then(
        (n) => n > 0 && ctx.logger.info({ checks: n }, 'finished checks left pending by an interrupted run'),
        (err) => ctx.logger.warn({ err }, 'could not finish stale checks (will try again)'),
      );
    void finishStale();
    sweep = setInterval(finishStale, STALE_CHECK_SWEEP_MS);
    sweep.unref();
  }
  return {
    deps,
    taskList: createTaskList(deps),
    pollOnce: async () => {
      await pollOnce(deps);
    },
    loadEnvironment: createEnvironmentLoader(controllerStore, git),
    async close() {
      if (sweep) clearInterval(sweep);
      cancellations.close();
      drift.stop();
      await alertWorker?.stop();
      await github?.flush({ timeoutMs: 5000 }).catch(() => {});
      await github?.close();
    },
  };
}
