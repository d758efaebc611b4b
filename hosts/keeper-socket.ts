/**
 * Where the connection keeper listens and who may reach it: a Unix socket in a directory of the operator's own that
 * nobody else can enter (docs/cli.md, "Connections kept between runs"), checked before every use as OpenSSH checks
 * its ControlPath's directory.
 */
import { lstat, mkdir, unlink } from 'node:fs/promises';
import net from 'node:net';
import ms from 'ms';
import os from 'node:os';
import path from 'node:path';
import { PolitburoError } from '../kernel/types.js';
import { KEEPER_PROTOCOL } from './keeper-protocol.js';

/** The longest time connections may be kept once unused. */
const MAX_PERSIST_MS = 7 * 24 * 3600 * 1000;

/**
 * How long connections are kept once unused, as `--ssh-persist` and POLITBURO_SSH_PERSIST say it (docs/cli.md,
 * "Connections kept between runs"): a duration (`60s`, `10m`) or a number of seconds, at most 7 days; `yes`: until
 * closed (null); `no` or `0`: none kept, whatever ssh_config says (false); nothing: as ssh_config says (undefined).
 * Throws an Error saying what it takes otherwise.
 */
export function parsePersist(value: string | undefined): number | null | false | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (v === '') return undefined;
  if (v === 'no' || v === '0') return false;
  if (v === 'yes') return null;
  let time: number | undefined;
  try {
    time = /^\d+$/.test(v) ? Number(v) * 1000 : ms(v as ms.StringValue);
  } catch {
    time = undefined; // ms throws on text too long
  }
  if (typeof time !== 'number' || !Number.isFinite(time) || time <= 0 || time > MAX_PERSIST_MS)
    throw new Error(
      `'${value}' is not a time to keep connections: use a duration such as '60s' or '10m' (at most 7d), a number of seconds, 'yes' (until \`politburo connections --close\`) or 'no'`,
    );
  return time;
}

/** The default directory: `$XDG_RUNTIME_DIR/politburo`, else `~/.politburo/run`. */
export function defaultKeeperDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, 'politburo');
  return path.join(os.homedir(), '.politburo', 'run');
}

export function keeperSocketPath(dir: string): string {
  return path.join(dir, `keeper-${KEEPER_PROTOCOL}.sock`);
}

/** Creates `dir` (mode 0700) when missing; refuses one another user owns or others may enter. */
export async function checkKeeperDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
    throw new PolitburoError('InvalidSpec', `cannot create the connection keeper's directory ${dir}: ${err.code}`);
  });
  const st = await lstat(dir);
  const uid = process.getuid?.();
  const why = !st.isDirectory()
    ? 'it is not a directory'
    : uid !== undefined && st.uid !== uid
      ? `it belongs to uid ${st.uid}, not to you (uid ${uid})`
      : (st.mode & 0o077) !== 0
        ? `others may enter it (mode ${(st.mode & 0o777).toString(8)}; it must be 700)`
        : null;
  if (why)
    throw new PolitburoError(
      'InvalidSpec',
      `refusing to keep connections in ${dir}: ${why} (docs/cli.md, "--ssh-persist")`,
    );
}

/**
 * Runs `listen` (which listens on `socketPath`); when the path is taken, ends quietly if a keeper answers there, else
 * removes the stale socket and tries again.
 */
export async function listenAfterStale(
  socketPath: string,
  listen: () => Promise<void>,
  log: (line: string) => void,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await listen();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 3) throw err;
      if (await answers(socketPath)) return log('another keeper is listening already: ending');
      await unlink(socketPath).catch(() => undefined);
    }
  }
}

/** Whether something accepts connections on the socket. */
export function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** The connector's `persist` option for what parsePersist read: undefined when nothing may be kept. */
export function persistOption(
  time: number | null | false | undefined,
  dir: string,
): { dir: string; ms?: number | null } | undefined {
  if (time === false) return undefined;
  return time === undefined ? { dir } : { dir, ms: time };
}
