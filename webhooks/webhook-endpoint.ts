/**
 * `POST /webhooks/github`: verify, store with its job, answer. Every client mistake gets a 4xx naming the problem and
 * stores nothing; only a database outage answers 503 (the delivery can then be redelivered from GitHub). No input
 * makes it a 5xx or a crash.
 *
 * This is the controller's hot path (bench/webhooks), so it is a plain Node request handler in front of the express
 * app (controller/server.ts) rather than an express route: no router, no body parser, no response helpers. The body
 * stays
 * a Buffer from the socket to PostgreSQL, which checks and indexes the JSON (controller/store/ingest-deliveries.ts,
 * given as a DeliveryStore: webhooks/ingest-ports.ts); it is decoded once, as the text @octokit/webhooks verifies the
 * signature of.
 */
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import getRawBody from 'raw-body';
import { createDeliveryBatcher } from './delivery-batcher.js';
import type { DeliveryCounter, DeliveryStore, IngestPressureSink } from './ingest-ports.js';
import { signsBytes, verifySignature } from './verify-signature.js';

export interface WebhookEndpointDeps {
  /** Where deliveries are stored with their jobs. */
  store: DeliveryStore;
  /** Current secret first, then old ones still accepted. */
  secrets: readonly string[];
  logger: Logger;
  /** Deliveries by event and outcome (default: not counted). */
  counter?: DeliveryCounter;
  /** Told about bursts of deliveries, so the queue worker can give way (controller/queue/delivery-gate.ts). */
  pressure?: IngestPressureSink;
}

const WEBHOOK_PATH = '/webhooks/github';

/** GitHub's maximum payload is 25 MB; anything above is not from GitHub. */
const WEBHOOK_BODY_LIMIT = 26 * 1024 * 1024;

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

/** A request handler for the webhook path: answers and returns true for `POST /webhooks/github`, false otherwise. */
export type WebhookEndpoint = (req: IncomingMessage, res: ServerResponse) => boolean;

/** The webhook endpoint (see module comment). */
export function createWebhookEndpoint(deps: WebhookEndpointDeps): WebhookEndpoint {
  const pressure = deps.pressure;
  const batcher = createDeliveryBatcher(deps.store, {
    onOverlap: pressure ? () => pressure.noteOverlap() : undefined,
  });
  const count = (event: string, outcome: string) => deps.counter?.inc({ event, outcome });
  return (req, res) => {
    if (req.method !== 'POST' || !isWebhookPath(req.url)) return false;
    receive(req, res).catch((err: unknown) => answerError(deps, err, req, res));
    return true;
  };

  async function receive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    checkHeaders(deps, req);
    const body = await readBody(req);
    if (!body.length) throw new HttpError(400, 'the body is empty: a webhook delivery is a JSON object', 'invalid');
    const check = await verifySignature(
      deps.secrets,
      body.toString('utf8'),
      header(req, 'x-hub-signature-256'),
      header(req, 'x-hub-signature'),
    );
    if (!check.ok) {
      // Decoding a body that is not UTF-8 changed its bytes, so the text's signature cannot match. If the bytes are
      // what
      // was signed, the sender is authentic and only the body is wrong: a 400 saying so, not a 401 blaming the secret.
      if (check.reason === 'mismatch' && !isUtf8(body)) {
        if (signsBytes(deps.secrets, body, header(req, 'x-hub-signature-256')!)) {
          throw new HttpError(400, 'the body is not valid UTF-8: a webhook delivery is UTF-8 JSON', 'invalid');
        }
        throw new HttpError(
          401,
          `${check.message} (the body is not valid UTF-8 either; GitHub sends UTF-8 JSON)`,
          'unauthorized',
        );
      }
      throw new HttpError(401, check.message, 'unauthorized');
    }
    const event = header(req, 'x-github-event')!;
    const delivery = header(req, 'x-github-delivery')!;
    if (event === 'ping') return answerPing(res, body, count);
    const stored = await batcher.store({ id: delivery, event, body });
    if (stored.status === 'not-an-object') throw new HttpError(400, 'the payload must be a JSON object', 'invalid');
    if (stored.status === 'duplicate') {
      count(event, 'duplicate');
      deps.logger.info({ delivery, event }, 'delivery already received: ignored');
      send(res, 200, { duplicate: true, delivery });
      return;
    }
    count(event, 'accepted');
    deps.store.jobQueued();
    deps.logger.info(
      { delivery, event, action: stored.action, repo: stored.repository, job: stored.jobId },
      'delivery accepted',
    );
    send(res, 202, { accepted: true, delivery });
  }
}

function isWebhookPath(url: string | undefined): boolean {
  if (!url?.startsWith(WEBHOOK_PATH)) return false;
  const rest = url.slice(WEBHOOK_PATH.length);
  return rest === '' || rest === '/' || rest.startsWith('?') || rest.startsWith('/?');
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Cheap checks before reading a (possibly 25 MB) body. Unsigned requests go on to get the signature's 401. */
function checkHeaders(deps: WebhookEndpointDeps, req: IncomingMessage): void {
  if (!deps.secrets.length || !header(req, 'x-hub-signature-256')) return;
  if (!EVENT.test(header(req, 'x-github-event') ?? '')) {
    throw new HttpError(
      400,
      'missing or invalid X-GitHub-Event header: this endpoint only takes GitHub webhook deliveries',
      'invalid',
    );
  }
  if (!DELIVERY.test(header(req, 'x-github-delivery') ?? '')) {
    throw new HttpError(
      400,
      'missing or invalid X-GitHub-Delivery header: this endpoint only takes GitHub webhook deliveries',
      'invalid',
    );
  }
  const type = (header(req, 'content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(
      415,
      "the content type must be application/json: set the webhook's content type to application/json on GitHub",
      'invalid',
    );
  }
  const encoding = (header(req, 'content-encoding') ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity')
    throw new HttpError(
      415,
      `content encoding ${encoding} is not accepted: GitHub sends webhook bodies uncompressed`,
      'invalid',
    );
}

/** The body, up to the limit; a declared length over the limit is refused before anything is read. */
async function readBody(req: IncomingMessage): Promise<Buffer> {
  try {
    return await getRawBody(req, { length: header(req, 'content-length'), limit: WEBHOOK_BODY_LIMIT });
  } catch (err) {
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.too.large')
      throw new HttpError(413, "the body is larger than GitHub's 25 MB maximum", 'invalid');
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500)
      throw new HttpError(e.status, e.message ?? 'bad request', 'invalid');
    throw err;
  }
}

function answerPing(res: ServerResponse, body: Buffer, count: (event: string, outcome: string) => void): void {
  let zen: unknown = null;
  try {
    const p = JSON.parse(body.toString('utf8')) as unknown;
    if (p && typeof p === 'object' && !Array.isArray(p)) zen = (p as { zen?: unknown }).zen ?? null;
    else throw new HttpError(400, 'the payload must be a JSON object', 'invalid');
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, `the body is not valid JSON (${(err as Error).message})`, 'invalid');
  }
  count('ping', 'ping');
  send(res, 200, { ok: true, zen });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function answerError(deps: WebhookEndpointDeps, err: unknown, req: IncomingMessage, res: ServerResponse): void {
  const logger = deps.logger;
  const { status, message, outcome } = classify(deps.store, err);
  const event =
    outcome === 'unauthorized'
      ? '-'
      : EVENT.test(header(req, 'x-github-event') ?? '')
        ? header(req, 'x-github-event')!
        : '-';
  deps.counter?.inc({ event, outcome });
  const log = { delivery: header(req, 'x-github-delivery')?.slice(0, 200), status, reason: message };
  // A 503 is the database being away, an expected outage: its message and code say enough (no stack, no client).
  if (status === 503) logger.warn({ ...log, error: errorFields(err) }, 'could not store a webhook delivery');
  else if (status >= 500) logger.error({ ...log, err }, 'could not store a webhook delivery');
  else logger.warn(log, 'webhook delivery refused');
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = {};
  if (status === 503) headers['retry-after'] = '10';
  // The unread rest of an oversized body is not worth receiving: close instead of draining it. (Other early refusals
  // leave a small unread body, which Node drains to keep the connection.)
  if (status === 413) headers.connection = 'close';
  send(res, status, { error: message }, headers);
}

function classify(store: DeliveryStore, err: unknown): { status: number; message: string; outcome: string } {
  if (err instanceof HttpError) return { status: err.status, message: err.message, outcome: err.outcome };
  const payloadFault = store.describeError(err);
  if (payloadFault) return { status: 400, message: payloadFault, outcome: 'invalid' };
  return {
    status: 503,
    message: 'the delivery could not be stored right now (database unavailable); GitHub can redeliver it',
    outcome: 'error',
  };
}

/** What a log line says about an error: its class, message and code (an error may carry a whole pg client or pool). */
function errorFields(err: unknown): { type?: string; message: string; code?: string } {
  if (!(err instanceof Error)) return { message: String(err) };
  const code = (err as { code?: unknown }).code;
  return { type: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}) };
}
