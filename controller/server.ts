/**
 * The controller's HTTP surface: the GitHub webhook, health, readiness, Prometheus metrics, and the dashboard (mounted
 * at `/` when given). Returns a request listener: the webhook endpoint answers its own path without express (it is the
 * hot path, see webhooks/webhook-endpoint.ts); everything else is an express app. Listening and shutdown are the
 * composition root's business.
 */
import {
  createServer as createNodeServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type pg from 'pg';
import type { HttpTimeouts } from './config.js';
import type { Logger } from './logger.js';
import { deliveriesTotal, registry } from './metrics.js';
import { refreshQueueMetrics } from './queue/queue-stats.js';
import type { IngestPressure } from './queue/delivery-gate.js';
import { createReadinessCheck, type Readiness } from './readiness.js';
import { createDeliveryStore } from './store/ingest-deliveries.js';
import { createWebhookEndpoint } from '../webhooks/webhook-endpoint.js';

export interface ServerDeps {
  pool: pg.Pool;
  /** Current webhook secret first, then old ones still accepted during a rotation. */
  webhookSecrets: readonly string[];
  logger: Logger;
  /** The dashboard (controller/dashboard/router.ts), mounted at `/`. */
  dashboardRouter?: RequestHandler;
  /** Answers /readyz 503 while true (set during shutdown so load balancers drain first). */
  isShuttingDown?: () => boolean;
  /** Overrides the database readiness check (default: reachable and schema current). */
  readiness?: () => Promise<Readiness>;
  /**
   * Told about bursts of webhook deliveries (the queue worker gives way to them: controller/queue/delivery-gate.ts).
   */
  ingestPressure?: IngestPressure;
}

/** Builds the request listener (see module comment). */
export function createServer(deps: ServerDeps): RequestListener {
  const webhook = createWebhookEndpoint({
    store: createDeliveryStore(deps.pool),
    secrets: deps.webhookSecrets,
    logger: deps.logger,
    counter: deliveriesTotal,
    pressure: deps.ingestPressure,
  });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const readiness = deps.readiness ?? createReadinessCheck(deps.pool);

  app.get('/healthz', (_req, res) => {
    res.status(200).json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    if (deps.isShuttingDown?.()) {
      res.status(503).json({ status: 'shutting down' });
      return;
    }
    const r = await readiness();
    res.status(r.ready ? 200 : 503).json(r.ready ? { status: 'ready' } : { status: 'not ready', reason: r.reason });
  });
  app.get('/metrics', async (_req, res) => {
    // A database problem must not hide the process metrics: the queue gauges just keep their last values.
    await refreshQueueMetrics(deps.pool).catch((err) => deps.logger.debug({ err }, 'queue metrics unavailable'));
    res.set('Content-Type', registry.contentType).send(await registry.metrics());
  });
  if (deps.dashboardRouter) app.use('/', deps.dashboardRouter);
  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: number }).status;
    const clientError = typeof status === 'number' && status >= 400 && status < 500;
    if (!clientError) deps.logger.error({ err, path: req.path }, 'request failed');
    if (res.headersSent) return;
    res.status(clientError ? status : 500).json({ error: clientError ? (err as Error).message : 'internal error' });
  });
  return (req: IncomingMessage, res: ServerResponse) => {
    if (!webhook(req, res)) app(req, res);
  };
}

/**
 * The Node HTTP server around the request listener, with limits on slow clients: a connection must finish its headers
 * within headersTimeoutMs and its request within requestTimeoutMs, and an idle keep-alive connection is closed after
 * keepAliveTimeoutMs. Without them, clients trickling headers a byte at a time (slow-loris) hold sockets for minutes.
 * Node looks for expired connections every connectionsCheckingInterval (30 s by default): checked more often here so
 * the limits hold to about a second.
 */
export function createHttpServer(listener: RequestListener, timeouts: HttpTimeouts): Server {
  const server = createNodeServer(
    {
      headersTimeout: timeouts.headersTimeoutMs,
      requestTimeout: timeouts.requestTimeoutMs,
      keepAliveTimeout: timeouts.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, timeouts.headersTimeoutMs),
    },
    listener,
  );
  // Node's limits start with the first byte: a connection that sends nothing at all is closed here, once it has had
  // as long as a whole request may take without starting one.
  const started = new WeakSet<Socket>();
  server.on('request', (req: IncomingMessage) => started.add(req.socket));
  server.on('connection', (socket: Socket) => {
    const timer = setTimeout(() => started.has(socket) || socket.destroy(), timeouts.requestTimeoutMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  });
  return server;
}
