/**
 * The composition root of `politburo serve`: with controller/wiring.ts (the jobs' ports), the only place that picks
 * implementations. Opens the store (migrating it), starts the queue worker with the job handlers, the HTTP server and
 * poll mode, and stops them in order.
 */
import type { AddressInfo } from 'node:net';
import type { RequestListener, Server } from 'node:http';
import type { RequestHandler } from 'express';
import type { TaskList } from 'graphile-worker';
import { openStore, type OpenedStore } from '../store/open-store.js';
import type { ControllerConfig } from './config.js';
import { createFallbackTaskList } from './fallback-tasks.js';
import { createPgDeliveryRecords } from './store/deliveries.js';
import { createLogger, errorFields, type Logger } from './logger.js';
import { startPollTimer, type PollTimer } from './poll-timer.js';
import { ensureQueueSchema, startQueueWorker, type QueueWorker } from './queue/queue-worker.js';
import { createDeliveryGate, createIngestPressure, type IngestPressure } from './queue/delivery-gate.js';
import { createHttpServer, createServer } from './server.js';
import { createFlows, type ControllerContext } from './wiring.js';
import { createDashboardRouter } from './dashboard/router.js';
import type { ResolvedEnvironment } from '../kernel/types.js';
import type { JobDeps } from './jobs/job-deps.js';
import { cachedPermissions } from './dashboard/permissions.js';
import { sweepDeadRuns } from './jobs/close-orphaned-runs.js';

export type { ControllerContext };

/** What runs the jobs: the real flows (controller/wiring.ts) or, for ingestion only, the fallback task list. */
export interface FlowsLike {
  taskList: TaskList;
  /** One poll-mode round; poll mode is off without it even when POLITBURO_REPOS is set. */
  pollOnce?: () => Promise<void>;
  close?: () => Promise<void>;
  /** The environment as described at its last applied commit (the dashboard draws its dependency graph). */
  loadEnvironment?: (repository: string, environment: string) => Promise<ResolvedEnvironment | null>;
  /** The jobs' ports: the dashboard's actions queue jobs and ask GitHub for permissions through them. */
  deps?: JobDeps;
}

/** Replaceable parts, for tests. */
export interface ControllerOverrides {
  logger?: Logger;
  /** Builds the job handlers (default: createFlows, or the fallback with POLITBURO_INGEST_ONLY=true). */
  createFlows?: (ctx: ControllerContext) => FlowsLike | Promise<FlowsLike>;
  /** The dashboard mounted at `/` (default: controller/dashboard's router; null: none). */
  createDashboardRouter?: ((ctx: ControllerContext, flows: FlowsLike) => RequestHandler) | null;
  processId?: string;
}

/** The default flows: the real job handlers, or only acknowledging deliveries when ingestion-only. */
function defaultFlows(ctx: ControllerContext): FlowsLike {
  if (ctx.config.ingestOnly)
    return { taskList: createFallbackTaskList({ deliveries: createPgDeliveryRecords(ctx.pool) }) };
  return createFlows(ctx);
}

function defaultDashboard(ctx: ControllerContext, flows: FlowsLike): RequestHandler {
  const { config } = ctx;
  const reporter = flows.deps?.reporter;
  return createDashboardRouter({
    store: ctx.store,
    loadEnvironment: flows.loadEnvironment,
    publicRead: config.dashboard.public,
    token: config.dashboard.token,
    db: ctx.pool,
    signIn: config.github.oauth
      ? {
          ...config.github.oauth,
          webUrl: config.github.webUrl,
          apiUrl: config.github.apiUrl,
          sessionTtlMs: config.dashboard.sessionTtlMs,
          publicUrl: config.publicUrl,
        }
      : undefined,
    // The collaborator permission endpoint, with the App's installation token (or GITHUB_TOKEN).
    permission: reporter
      ? cachedPermissions((repo, login) =>
          reporter.permission({ kind: 'github', ...repo, cloneUrl: '', defaultBranch: '' }, login),
        )
      : undefined,
    jobs: flows.deps,
    publicUrl: config.publicUrl,
    logger: ctx.logger.child({ component: 'dashboard' }),
  });
}

export interface RunningController {
  /** `http://host:port` actually listened on. */
  url: string;
  port: number;
  context: ControllerContext;
  worker: QueueWorker;
  /** Graceful stop (idempotent): HTTP stops accepting, running jobs get the grace period, then everything closes. */
  stop(reason?: string): Promise<void>;
}

/** Starts the controller (see module comment); resolves once it listens and the worker runs. */
export async function startController(
  config: ControllerConfig,
  overrides: ControllerOverrides = {},
): Promise<RunningController> {
  const logger = overrides.logger ?? createLogger({ level: config.logLevel });
  const opened = await openStore({
    databaseUrl: config.databaseUrl,
    dataDir: config.embeddedPostgresDir,
    maxConnections: Math.max(20, config.concurrency + 10),
    timeouts: { connectMs: config.database.connectTimeoutMs, queryMs: config.database.queryTimeoutMs },
    log: (msg) => logger.info({ component: 'store' }, msg),
  });
  // Webhook bursts hold delivery jobs to one at a time in this process (controller/queue/delivery-gate.ts).
  const pressure = createIngestPressure();
  let worker: QueueWorker | undefined;
  let flows: FlowsLike | undefined;
  let stopSweep: (() => void) | undefined;
  try {
    await ensureQueueSchema(opened.pool, logger);
    const context: ControllerContext = { config, pool: opened.pool, store: opened.store, logger };
    // Runs left running by a process that died are closed as interrupted now and then periodically.
    stopSweep = sweepDeadRuns(opened.store, logger);
    // The job handlers (controller/jobs createTaskList, via controller/wiring.ts) and poll mode plug in here.
    flows = await (overrides.createFlows ?? defaultFlows)(context);
    worker = await startQueueWorker({
      pool: opened.pool,
      taskList: flows.taskList,
      concurrency: config.concurrency,
      logger,
      heartbeatIntervalMs: config.queue.heartbeatIntervalMs,
      staleAfterMs: config.queue.staleAfterMs,
      testJobDelayMs: config.queue.testJobDelayMs,
      processId: overrides.processId,
      deliveryGate: createDeliveryGate(pressure),
    });
    const running = await listenAndRun(config, overrides, context, opened, worker, flows, pressure);
    const stop = running.stop;
    return { ...running, stop: (reason?: string) => (stopSweep?.(), stop(reason)) };
  } catch (err) {
    stopSweep?.();
    await worker?.stop(0).catch(() => {});
    await flows?.close?.().catch(() => {});
    await opened.close().catch(() => {});
    throw err;
  }
}

async function listenAndRun(
  config: ControllerConfig,
  overrides: ControllerOverrides,
  context: ControllerContext,
  opened: OpenedStore,
  worker: QueueWorker,
  flows: FlowsLike,
  pressure: IngestPressure,
): Promise<RunningController> {
  const { logger } = context;
  let shuttingDown = false;
  const dashboard =
    overrides.createDashboardRouter === null
      ? undefined
      : (overrides.createDashboardRouter ?? defaultDashboard)(context, flows);
  const app = createServer({
    pool: opened.pool,
    webhookSecrets: config.github.webhookSecrets,
    logger,
    dashboardRouter: dashboard,
    isShuttingDown: () => shuttingDown,
    ingestPressure: pressure,
  });
  const server = await listen(app, config);
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host}:${port}`;
  let poller: PollTimer | undefined;
  if (config.poll.repos.length && flows.pollOnce) {
    poller = startPollTimer(opened.pool, config.poll.intervalMs, flows.pollOnce, logger);
    logger.info({ repos: config.poll.repos.map((r) => r.url), intervalMs: config.poll.intervalMs }, 'poll mode on');
  }
  let stopping: Promise<void> | undefined;
  const stop = (reason = 'stop requested') => {
    stopping ??= (async () => {
      shuttingDown = true;
      logger.info({ reason, graceMs: config.queue.shutdownGraceMs }, 'shutting down');
      const httpClosed = closeServer(server);
      // The dashboard's live streams end now (they would hold the HTTP server open) with their LISTEN connection.
      await closeDashboard(dashboard).catch((err) =>
        logger.warn({ error: errorFields(err) }, 'closing the dashboard failed'),
      );
      await poller?.stop();
      await worker.stop(config.queue.shutdownGraceMs);
      await flows.close?.().catch((err) => logger.warn({ error: errorFields(err) }, 'closing the flows failed'));
      await Promise.race([httpClosed, delay(2000)]);
      server.closeAllConnections();
      await opened.close();
      logger.info('stopped');
    })();
    return stopping;
  };
  return { url, port, context, worker, stop };
}

async function closeDashboard(dashboard: RequestHandler | undefined): Promise<void> {
  const close = (dashboard as { close?: () => Promise<void> } | undefined)?.close;
  if (typeof close === 'function') await close.call(dashboard);
}

function listen(app: RequestListener, config: ControllerConfig): Promise<Server> {
  const { port, host } = config;
  return new Promise((resolve, reject) => {
    const server = createHttpServer(app, config.http).listen(port, host);
    server.once('listening', () => resolve(server));
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`port ${port} on ${host} is already in use: set PORT to a free port`)
          : err,
      ),
    );
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
