/**
 * The change feed of the dashboard's live updates (docs/controller.md, "Live updates"): one dedicated PostgreSQL
 * connection per controller process LISTENs to politburo_changes (migrations/097_live_updates.sql: a run started or
 * ended) and hands each change to the process's subscribers. A lost connection is opened again with backoff;
 * subscribers are then told to read everything again (`resync`), since changes made meanwhile were not announced to
 * this process. It never throws into its caller and never stops the process.
 */
import pg from 'pg';
import { CHANGES_CHANNEL } from '../store/live-changes.js';

/** A run started, ended or got its summary (migrations/097_live_updates.sql). */
export interface Change {
  kind: 'run';
  run?: string;
  env?: string;
}

export interface ChangeFeed {
  /** Called with each change, or with `resync` after the feed was down. Returns the unsubscribe function. */
  subscribe(fn: (change: Change | 'resync') => void): () => void;
  /** Whether the LISTEN connection is up. */
  readonly listening: boolean;
  /** Resolves once the first LISTEN is in place (or the feed was closed). */
  ready(): Promise<void>;
  /** The backend pid of the listening connection (for tests), or null. */
  readonly pid: number | null;
  close(): Promise<void>;
}

const KINDS = new Set(['run']);
const ID = /^[1-9]\d{0,18}$/;

/** A payload from the trigger, or null for anything else on the channel. */
export function parseChange(payload: string | undefined): Change | null {
  if (!payload) return null;
  let v: unknown;
  try {
    v = JSON.parse(payload);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (typeof o.k !== 'string' || !KINDS.has(o.k)) return null;
  const change: Change = { kind: o.k as Change['kind'] };
  if (typeof o.run === 'string' && ID.test(o.run)) change.run = o.run;
  if (typeof o.env === 'string' && ID.test(o.env)) change.env = o.env;
  return change;
}

export function createChangeFeed(opts: {
  /** Connection settings of the listening client (those of the store's pool). */
  connection: pg.ClientConfig;
  log?: (msg: string) => void;
  /** Backoff between reconnects: from minMs, doubling, up to maxMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}): ChangeFeed {
  const log = opts.log ?? (() => {});
  const minBackoff = opts.minBackoffMs ?? 250;
  const maxBackoff = opts.maxBackoffMs ?? 10_000;
  const subscribers = new Set<(change: Change | 'resync') => void>();
  let client: pg.Client | null = null;
  let listening = false;
  let closed = false;
  let pid: number | null = null;
  let everListened = false;
  let backoff = minBackoff;
  let retry: NodeJS.Timeout | null = null;
  let resolveReady: () => void = () => {};
  const readyPromise = new Promise<void>((r) => (resolveReady = r));

  const emit = (change: Change | 'resync') => {
    for (const fn of [...subscribers]) {
      try {
        fn(change);
      } catch (err) {
        log(`live updates: a subscriber failed: ${(err as Error).message}`);
      }
    }
  };

  const lost = (c: pg.Client, why: string) => {
    if (client !== c) return; // already handled
    client = null;
    listening = false;
    pid = null;
    c.removeAllListeners('notification');
    c.end().catch(() => {});
    if (closed) return;
    log(`live updates: the change feed's connection was lost (${why}); reconnecting in ${backoff} ms`);
    schedule();
  };

  const schedule = () => {
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = null;
      void connect();
    }, backoff);
    retry.unref();
    backoff = Math.min(maxBackoff, backoff * 2);
  };

  const connect = async () => {
    if (closed) return;
    const c = new pg.Client(opts.connection);
    client = c;
    c.on('error', (err) => lost(c, err.message));
    c.on('end', () => lost(c, 'connection ended'));
    c.on('notification', (msg) => {
      if (msg.channel !== CHANGES_CHANNEL) return;
      const change = parseChange(msg.payload);
      if (change) emit(change);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANGES_CHANNEL}`);
      const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      if (client !== c) return;
      listening = true;
      pid = rows[0].pid;
      backoff = minBackoff;
      if (everListened) emit('resync');
      everListened = true;
      resolveReady();
    } catch (err) {
      lost(c, (err as Error).message);
    }
  };

  void connect();

  return {
    subscribe(fn) {
      subscribers.add(fn);
      return () => void subscribers.delete(fn);
    },
    get listening() {
      return listening;
    },
    get pid() {
      return pid;
    },
    ready: () => readyPromise,
    async close() {
      closed = true;
      resolveReady();
      if (retry) clearTimeout(retry);
      retry = null;
      const c = client;
      client = null;
      listening = false;
      subscribers.clear();
      if (c) {
        c.removeAllListeners('notification');
        await c.end().catch(() => {});
      }
    },
  };
}
