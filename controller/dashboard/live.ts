/**
 * Live updates of the dashboard (docs/controller.md, "Live updates"): server-sent event streams of a run, of an
 * environment and of the lists, fed by PostgreSQL's LISTEN/NOTIFY (live-feed.ts, live-hub.ts), and the small script
 * that applies them to the pages (assets/live-client.ts). Pages work without it.
 */
import { createHash } from 'node:crypto';
import express, { type Request, type RequestHandler, type Response } from 'express';
import type pg from 'pg';
import { liveEnvironmentId, liveRun } from '../store/live-changes.js';
import { LIVE_CLIENT } from './assets/live-client.js';
import { createChangeFeed, type ChangeFeed } from './live-feed.js';
import { LiveHub, STREAM_LOG_BUDGET, type LiveStream } from './live-hub.js';

export interface LiveDeps {
  /** Reads of the state (the store's pool); the change feed connects with its settings. */
  pool: pg.Pool;
  /** The same access check as the pages (every /events route). */
  auth: RequestHandler | RequestHandler[];
  /** Whether this request's viewer may read a repository; absent: whoever passes `auth` reads everything. */
  canRead?: (req: Request, repository: string) => boolean | Promise<boolean>;
  /** A feed to use instead of one opened from the pool's settings (tests). */
  feed?: ChangeFeed;
  /** Most streams open at once in this process (default 500); more are refused with 503. */
  maxStreams?: number;
  /** Comment lines keeping idle streams open through proxies (default 20 s). */
  heartbeatMs?: number;
  /**
   * A stream is ended after this long (default 10 minutes); the browser reconnects at once and passes the access check
   * again, so a signed-out or expired session stops receiving.
   */
  maxStreamMs?: number;
  /** A stream whose client does not read is closed once this much is waiting to be sent (default 4 MiB). */
  maxBufferedBytes?: number;
  log?: (msg: string) => void;
}

export interface LiveRouter extends express.Router {
  readonly hub: LiveHub;
  /** Streams open now. */
  readonly openStreams: number;
  /** The feed, once a stream has opened it (tests). */
  readonly feed: ChangeFeed | null;
  /** Ends every stream and the feed's connection. */
  close(): Promise<void>;
}

/**
 * JSON with `<`, `>` and `&` as \u escapes: the same value once parsed, and no markup in the stream even if something
 * displays it raw. JSON never holds a raw line break, so one `data:` line carries the whole event.
 */
export function inertJson(data: unknown): string {
  return JSON.stringify(data).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** What a browser is told to wait before reconnecting. */
const RETRY_MS = 3000;

const SCRIPT_HASH = createHash('sha256').update(LIVE_CLIENT).digest('hex').slice(0, 16);

/** The script's URL for pages: its content hash makes it cacheable for good. */
export const LIVE_SCRIPT_URL = `/assets/live.js?v=${SCRIPT_HASH}`;

/** The stream URLs pages name in `data-live` (repository keys travel encoded in one path segment). */
export const liveRunUrl = (runId: string): string => `/events/runs/${encodeURIComponent(runId)}`;
export const liveEnvironmentUrl = (repository: string, environment: string): string =>
  `/events/environments/${encodeURIComponent(repository)}/${encodeURIComponent(environment)}`;
export const LIVE_LIST_URL = '/events';

export function createLiveRouter(deps: LiveDeps): LiveRouter {
  const log = deps.log ?? (() => {});
  const maxStreams = deps.maxStreams ?? 500;
  const heartbeatMs = deps.heartbeatMs ?? 20_000;
  const maxBuffered = deps.maxBufferedBytes ?? 4 * 1024 * 1024;
  const maxStreamMs = deps.maxStreamMs ?? 10 * 60_000;
  let feed: ChangeFeed | null = deps.feed ?? null;
  const ownFeed = !deps.feed;
  const onError = (err: Error) => log(`live updates: ${err.message}`);
  let hub: LiveHub | null = null;
  const open = new Set<() => void>();
  const auth = Array.isArray(deps.auth) ? deps.auth : [deps.auth];

  const getHub = (): LiveHub => {
    if (!feed) feed = createChangeFeed({ connection: deps.pool.options, log });
    hub ??= new LiveHub(deps.pool, feed, onError);
    return hub;
  };

  let eventId = 0;

  /** Opens the event stream and joins the topic; the topic's snapshot is its first event. */
  async function stream(
    req: Request,
    res: Response,
    key: Parameters<LiveHub['join']>[0],
    canRead: (repository: string) => Promise<boolean>,
  ): Promise<void> {
    if (open.size >= maxStreams) {
      res
        .status(503)
        .set('Retry-After', '10')
        .set('Cache-Control', 'no-store')
        .json({ error: 'too many live streams' });
      return;
    }
    const resumed = req.get('last-event-id') !== undefined;
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Accel-Buffering': 'no',
      'X-Content-Type-Options': 'nosniff',
      Connection: 'keep-alive',
    });
    res.flushHeaders();
    res.write(`retry: ${RETRY_MS}\n\n`);
    let closed = false;
    let leave: (() => void) | null = null;
    const end = () => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      clearTimeout(lifetime);
      open.delete(end);
      leave?.();
      res.end();
    };
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), heartbeatMs);
    heartbeat.unref();
    const lifetime = setTimeout(() => end(), maxStreamMs);
    lifetime.unref();
    open.add(end);
    req.on('close', end);
    res.on('error', end);
    const readable = new Map<string, Promise<boolean>>();
    const s: LiveStream = {
      send(event, data) {
        if (closed) return;
        res.write(`id: ${++eventId}\nevent: ${event}\ndata: ${inertJson(data)}\n\n`);
        if (res.writableLength > maxBuffered) {
          log('live updates: a client does not read its stream; closing it (it reconnects with a fresh snapshot)');
          end();
        }
      },
      canRead(repository) {
        let p = readable.get(repository);
        if (!p) readable.set(repository, (p = canRead(repository).catch(() => false)));
        return p;
      },
      logBudget: STREAM_LOG_BUDGET,
      capped: new Set(),
    };
    let left: () => void;
    try {
      left = await getHub().join(key, s, resumed);
    } catch (err) {
      end(); // the stream is answered already: it ends, and the browser reconnects after `retry`
      throw err;
    }
    if (closed) left();
    else leave = left;
  }

  const viewer =
    (req: Request) =>
    async (repository: string): Promise<boolean> =>
      deps.canRead ? Boolean(await deps.canRead(req, repository)) : true;

  const fail = (res: Response, err: unknown) => {
    const message = `could not read the state store: ${err instanceof Error ? err.message : String(err)}`;
    if (res.headersSent) res.end();
    else res.status(500).set('Cache-Control', 'no-store').json({ error: message });
  };
  const notFound = (res: Response, what: string) =>
    void res.status(404).set('Cache-Control', 'no-store').json({ error: what });

  const router = express.Router() as LiveRouter;

  router.get('/assets/live.js', (req, res) => {
    const etag = `"${SCRIPT_HASH}"`;
    res.set({
      'Content-Type': 'text/javascript; charset=utf-8',
      'X-Content-Type-Options': 'nosniff',
      ETag: etag,
      'Cache-Control': req.query.v === SCRIPT_HASH ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    if (req.get('if-none-match') === etag) return void res.status(304).end();
    res.send(LIVE_CLIENT);
  });

  router.get('/events/runs/:id', ...auth, async (req, res) => {
    try {
      const id = String(req.params.id);
      const run = /^[1-9]\d{0,18}$/.test(id) ? await liveRun(deps.pool, id) : null;
      const can = viewer(req);
      if (!run || !(await can(run.repository))) return notFound(res, `no run ${id}`);
      await stream(req, res, { run: id }, can);
    } catch (err) {
      fail(res, err);
    }
  });

  router.get('/events/environments/:repository/:environment', ...auth, async (req, res) => {
    try {
      const repository = String(req.params.repository);
      const environment = String(req.params.environment);
      const can = viewer(req);
      const id = (await can(repository)) ? await liveEnvironmentId(deps.pool, repository, environment) : null;
      if (!id) return notFound(res, `no environment ${environment} in ${repository}`);
      await stream(req, res, { environmentId: id }, can);
    } catch (err) {
      fail(res, err);
    }
  });

  router.get('/events', ...auth, async (req, res) => {
    try {
      await stream(req, res, 'list', viewer(req));
    } catch (err) {
      fail(res, err);
    }
  });

  Object.defineProperties(router, {
    hub: { get: () => getHub() },
    openStreams: { get: () => open.size },
    feed: { get: () => feed },
  });
  router.close = async () => {
    for (const end of [...open]) end();
    hub?.close();
    if (ownFeed && feed) await feed.close();
  };
  return router;
}
