/**
 * `POST /webhooks/github`: verify, store with its job, answer. Every client mistake gets a 4xx naming the problem and
 * stores nothing; only a database outage answers 503 (GitHub redelivers later). No input makes it a 5xx or a crash.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type pg from 'pg';
import type { Logger } from '../controller/logger.js';
import { deliveriesTotal } from '../controller/metrics.js';
import { createJobNotifier, type DeliveryRecord, type JobNotifier } from './store-delivery.js';
import { createDeliveryBatcher, type DeliveryBatcher } from './delivery-batcher.js';
import { verifySignature } from './verify-signature.js';

export interface WebhookRouterDeps {
  pool: Pick<pg.Pool, 'query'>;
  /** Current secret first, then old ones still accepted. */
  secrets: readonly string[];
  logger: Logger;
  /** Wakes the queue's workers after a job was inserted (default: a coalesced NOTIFY on the pool). */
  notifier?: JobNotifier;
}

/** GitHub's maximum payload is 25 MB; anything above is not from GitHub. */
export const WEBHOOK_BODY_LIMIT = '26mb';

const EVENT = /^[a-z][a-z0-9_]{0,63}$/;
const DELIVERY = /^[\x21-\x7e]{1,200}$/;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly outcome: string,
  ) {
    super(message);
  }
}

/** The webhook endpoint as an express router (mounted by controller/server.ts). */
export function createWebhookRouter(deps: WebhookRouterDeps): Router {
  const router = express.Router();
  const notifier = deps.notifier ?? createJobNotifier(deps.pool);
  const batcher = createDeliveryBatcher(deps.pool);
  const raw = express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT });
  router.post('/webhooks/github', checkHeaders(deps), raw, (req, res, next) => {
    receive(deps, notifier, batcher, req, res).catch(next);
  });
  router.use('/webhooks/github', (err: unknown, req: Request, res: Response, _next: NextFunction) => answerError(deps.logger, err, req, res));
  return router;
}

function header(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Cheap checks before reading a (possibly 25 MB) body. */
function checkHeaders(deps: WebhookRouterDeps) {
  return (req: Request, _res: Response, next: NextFunction) => {
    if (!deps.secrets.length || !header(req, 'x-hub-signature-256')) return next();
    if (!EVENT.test(header(req, 'x-github-event') ?? '')) {
      return next(new HttpError(400, 'missing or invalid X-GitHub-Event header: this endpoint only takes GitHub webhook deliveries', 'invalid'));
    }
    if (!DELIVERY.test(header(req, 'x-github-delivery') ?? '')) {
      return next(new HttpError(400, 'missing or invalid X-GitHub-Delivery header: this endpoint only takes GitHub webhook deliveries', 'invalid'));
    }
    if (!req.is('application/json')) {
      return next(new HttpError(415, 'the content type must be application/json: set the webhook\'s content type to application/json on GitHub', 'invalid'));
    }
    next();
  };
}

async function receive(deps: WebhookRouterDeps, notifier: JobNotifier, batcher: DeliveryBatcher, req: Request, res: Response): Promise<void> {
  const body = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
  const check = await verifySignature(deps.secrets, body || ' ', header(req, 'x-hub-signature-256'), header(req, 'x-hub-signature'));
  if (!check.ok) throw new HttpError(401, check.message, 'unauthorized');
  const event = header(req, 'x-github-event')!;
  const delivery = header(req, 'x-github-delivery')!;
  const record = parseDelivery(event, delivery, body);
  if (event === 'ping') {
    deliveriesTotal.inc({ event, outcome: 'ping' });
    res.status(200).json({ ok: true, zen: (JSON.parse(body) as { zen?: unknown }).zen ?? null });
    return;
  }
  const stored = await batcher.store(record);
  deliveriesTotal.inc({ event, outcome: stored.duplicate ? 'duplicate' : 'accepted' });
  if (stored.duplicate) {
    deps.logger.info({ delivery, event }, 'delivery already received: ignored');
    res.status(200).json({ duplicate: true, delivery });
    return;
  }
  notifier.kick();
  deps.logger.info({ delivery, event, action: record.action, repo: record.repository, job: stored.jobId }, 'delivery accepted');
  res.status(202).json({ accepted: true, delivery });
}

/** Extracts what the deliveries table indexes; the JSON text itself is stored as signed. */
function parseDelivery(event: string, id: string, body: string): DeliveryRecord {
  let payload: unknown;
  try {
    payload = JSON.parse(body);
  } catch (err) {
    throw new HttpError(400, `the body is not valid JSON (${(err as Error).message})`, 'invalid');
  }
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) throw new HttpError(400, 'the payload must be a JSON object', 'invalid');
  const p = payload as { action?: unknown; repository?: { full_name?: unknown } | null; installation?: { id?: unknown } | null };
  const repository = typeof p.repository?.full_name === 'string' ? p.repository.full_name : null;
  const installationId = typeof p.installation?.id === 'number' && Number.isSafeInteger(p.installation.id) ? p.installation.id : null;
  return { id, event, action: typeof p.action === 'string' ? p.action.slice(0, 200) : null, repository, installationId, payload: body };
}

function answerError(logger: Logger, err: unknown, req: Request, res: Response): void {
  const { status, message, outcome } = classify(err);
  const event = outcome === 'unauthorized' ? '-' : EVENT.test(header(req, 'x-github-event') ?? '') ? header(req, 'x-github-event')! : '-';
  deliveriesTotal.inc({ event, outcome });
  const log = { delivery: header(req, 'x-github-delivery')?.slice(0, 200), status, reason: message };
  if (status >= 500) logger.error({ ...log, err }, 'could not store a webhook delivery');
  else logger.warn(log, 'webhook delivery refused');
  if (res.headersSent) return;
  if (status === 503) res.set('Retry-After', '10');
  // The unread rest of an oversized body is not worth receiving: close instead of draining it.
  if (status === 413) res.set('Connection', 'close');
  res.status(status).json({ error: message });
}

function classify(err: unknown): { status: number; message: string; outcome: string } {
  if (err instanceof HttpError) return { status: err.status, message: err.message, outcome: err.outcome };
  const e = err as { status?: number; type?: string; code?: string; message?: string };
  if (e?.type === 'entity.too.large') return { status: 413, message: `the body is larger than GitHub's 25 MB maximum`, outcome: 'invalid' };
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) return { status: e.status, message: e.message ?? 'bad request', outcome: 'invalid' };
  // PostgreSQL data exceptions (class 22), e.g. \u0000 in a JSON string, are the payload's fault.
  if (typeof e?.code === 'string' && e.code.startsWith('22')) {
    return { status: 400, message: `the payload cannot be stored: ${e.message ?? e.code}`, outcome: 'invalid' };
  }
  return { status: 503, message: 'the delivery could not be stored right now (database unavailable); GitHub can redeliver it', outcome: 'error' };
}
