/** Opens the state store the CLI and controller use: a given PostgreSQL URL, or the embedded server by default. */
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

/** Connects (starting the embedded PostgreSQL when no URL is given), brings the schema up to date, returns the store. */
export async function openStore(opts: OpenStoreOptions = {}): Promise<OpenedStore> {
  const log = opts.log ?? (() => {});
  let embedded: EmbeddedServer | undefined;
  let url = opts.databaseUrl;
  if (!url) {
    embedded = await startEmbeddedPostgres({ dataDir: opts.dataDir ?? defaultDataDir(), log });
    url = embedded.url;
  }
  let pool: pg.Pool | undefined;
  let applied: string[];
  try {
    applied = await migrate(url);
    if (applied.length) log(`applied migrations: ${applied.join(', ')}`);
    pool = new pg.Pool({ connectionString: url, max: opts.maxConnections });
    // An idle connection dropped by the server must not crash the process; the next query reconnects.
    pool.on('error', (err) => log(`database connection lost: ${err.message}`));
  } catch (err) {
    await pool?.end().catch(() => {});
    await embedded?.stop();
    throw new Error(`cannot open the state store at ${redactUrl(url)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
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

/** A URL fit for messages: the password replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable database URL)';
  }
}
