/** Opens the state store the CLI and controller use: a given PostgreSQL URL, or the embedded server by default. */
import ms from 'ms';
import pg from 'pg';
import { defaultDataDir, startEmbeddedPostgres, type EmbeddedServer } from './embedded.js';
import { migrate } from './migrate.js';
import { createPgStore, type PgStateStore } from './pg-store.js';

export interface OpenStoreOptions {
  /** PostgreSQL URL; without one an embedded server is started (or reused) under dataDir. */
  databaseUrl?: string;
  /** Data directory of the embedded server (default: see defaultDataDir()). */
  dataDir?: string;
  /** Progress messages; nothing is ever written to stdout. */
  log?: (msg: string) => void;
  /** Pool size (default pg's 10). */
  maxConnections?: number;
  /** How long to wait for the database (default: databaseTimeouts() of the environment). */
  timeouts?: DatabaseTimeouts;
}

/** How long to wait for the database: a connection (handshake included), and one query (0: no limit). */
export interface DatabaseTimeouts {
  connectMs: number;
  queryMs: number;
}

const DEFAULT_CONNECT_TIMEOUT = '10s';

/**
 * The timeouts of POLITBURO_DB_CONNECT_TIMEOUT (default 10s) and POLITBURO_DB_QUERY_TIMEOUT (default none: waiting for
 * an environment's lock is a query that may rightly last as long as another apply), documented in
 * docs/configuration.md. A duration like `500ms`, `10s`, `2m`, or a bare number of seconds; throws on anything else.
 */
function databaseTimeouts(env: NodeJS.ProcessEnv = process.env): DatabaseTimeouts {
  return {
    connectMs: parseTimeout('POLITBURO_DB_CONNECT_TIMEOUT', env.POLITBURO_DB_CONNECT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT),
    queryMs: parseTimeout('POLITBURO_DB_QUERY_TIMEOUT', env.POLITBURO_DB_QUERY_TIMEOUT, '0'),
  };
}

/** A duration setting in milliseconds (see databaseTimeouts); `0` is no limit. */
function parseTimeout(name: string, value: string | undefined, fallback: string): number {
  const text = value?.trim() || fallback;
  const parsed = /^\d+(\.\d+)?$/.test(text) ? Number(text) * 1000 : ms(text as ms.StringValue);
  if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed < 0) {
    throw new Error(`${name}=${JSON.stringify(value)} is not a duration: write e.g. 500ms, 10s or 2m (0: no limit)`);
  }
  return Math.round(parsed);
}

export interface OpenedStore {
  store: PgStateStore;
  pool: pg.Pool;
  url: string;
  /** Migrations this call applied (empty when the schema was already current). */
  applied: string[];
  /** The embedded server, when one is in use. */
  embedded?: EmbeddedServer;
  /** Closes the pool and stops the embedded server this process started. */
  close(): Promise<void>;
}

/**
 * Connects (starting the embedded PostgreSQL when no URL is given), brings the schema up to date, returns the store.
 */
export async function openStore(opts: OpenStoreOptions = {}): Promise<OpenedStore> {
  const log = opts.log ?? (() => {});
  let embedded: EmbeddedServer | undefined;
  let url = opts.databaseUrl;
  if (!url) {
    embedded = await startEmbeddedPostgres({ dataDir: opts.dataDir ?? defaultDataDir(), log });
    url = embedded.url;
  }
  const timeouts = opts.timeouts ?? databaseTimeouts();
  let pool: pg.Pool | undefined;
  let applied: string[];
  try {
    // Within the connect timeout, or a clear error: a server that accepts the connection and never answers would
    // otherwise hold every command forever (the migrations' own connections have no timeout).
    await probe(url, timeouts);
    applied = await migrate(url);
    if (applied.length) log(`applied migrations: ${applied.join(', ')}`);
    pool = new pg.Pool({
      connectionString: url,
      max: opts.maxConnections,
      connectionTimeoutMillis: timeouts.connectMs,
      ...(timeouts.queryMs ? { query_timeout: timeouts.queryMs } : {}),
      keepAlive: true,
    });
    // An idle connection dropped by the server must not crash the process; the next query reconnects.
    pool.on('error', (err) => log(`database connection lost: ${err.message}`));
  } catch (err) {
    await pool?.end().catch(() => {});
    await embedded?.stop();
    throw new Error(`cannot open the state store at ${redactUrl(url)}: ${describeConnectError(err, timeouts)}`, {
      cause: err,
    });
  }
  const store = createPgStore(pool);
  let closed = false;
  return {
    store,
    pool,
    url,
    applied,
    embedded,
    async close() {
      if (closed) return;
      closed = true;
      await store.close();
      await embedded?.stop();
    },
  };
}

/** Connects once and runs `SELECT 1`, within the timeouts. */
async function probe(url: string, timeouts: DatabaseTimeouts): Promise<void> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: timeouts.connectMs,
    query_timeout: timeouts.connectMs || undefined,
  });
  client.on('error', () => {}); // reported by connect() or the query
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => {});
  }
}

/** pg's timeout messages say neither which limit nor how to change it. */
function describeConnectError(err: unknown, timeouts: DatabaseTimeouts): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/timeout/i.test(message)) {
    return `no answer within ${timeouts.connectMs} ms (${message}): is it a PostgreSQL server, and reachable? POLITBURO_DB_CONNECT_TIMEOUT sets the limit`;
  }
  return message;
}

/** A URL fit for messages: the password replaced by `***`. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable database URL)';
  }
}
