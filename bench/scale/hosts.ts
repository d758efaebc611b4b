/**
 * A lean starter of many loopback sshd hosts for the scale benchmark: one `/usr/sbin/sshd` per host on its own
 * 127.x.y.z address, but one unix user (one home) and one host key for all of them, so 1,000 hosts cost 1,000 small
 * processes and no `useradd` each (test/helpers/sshd.ts has a user per host and 200 user slots). Every process it
 * started (the servers and the per-connection processes they fork) is stopped by `stop()`, and a user it had to
 * create is removed.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  freePort,
  generateKeyPair,
  killAndWait,
  lockUserSlot,
  prepareUser,
  sshdConfig,
  standInBin,
  trackChild,
  waitForBanner,
} from '../../test/helpers/sshd.js';

const run = promisify(execFile);

export interface ScaleHost {
  address: string;
  port: number;
  user: string;
}

export interface ScaleHosts {
  hosts: ScaleHost[];
  user: string;
  home: string;
  privateKey: string;
  knownHosts: string;
  /** Pids of the servers (their per-connection processes are their children). */
  pids: number[];
  stop(): Promise<void>;
}

/** Starts `n` servers, `parallel` at a time. */
export async function startScaleHosts(
  n: number,
  opts: { babushkaBin?: string; parallel?: number } = {},
): Promise<ScaleHosts> {
  if (process.getuid?.() !== 0) throw new Error('bench/scale needs root: it starts /usr/sbin/sshd');
  await mkdir('/run/sshd', { recursive: true });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'politburo-bench-scale-'));
  await chmod(dir, 0o755);
  const slot = await lockUserSlot();
  const user = `pbt${slot.n}`;
  const existed = await run('id', ['-u', user]).then(
    () => true,
    () => false,
  );
  const home = await prepareUser(user);
  const userKey = await generateKeyPair(dir, 'ed25519');
  const hostKey = await generateKeyPair(dir, 'ed25519', '', 'host_ed25519');
  const authorizedKeys = path.join(dir, 'authorized_keys');
  await writeFile(authorizedKeys, userKey.publicKey + '\n', { mode: 0o644 });
  const children: ChildProcess[] = [];
  const hosts: ScaleHost[] = [];
  const used = new Set<string>();
  const stop = async () => {
    const pids = new Set(children.map((c) => c.pid!));
    const forked = descendants(pids);
    await Promise.all(children.map((c) => killAndWait(c)));
    for (const pid of forked) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    await rm(dir, { recursive: true, force: true });
    if (!existed) await run('userdel', ['-r', user]).catch(() => undefined);
    await slot.release();
  };
  try {
    const parallel = opts.parallel ?? 50;
    for (let i = 0; i < n; i += parallel) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(parallel, n - i) }, async (_, k) => {
          const hostDir = path.join(dir, `host-${i + k}`);
          await mkdir(hostDir, { mode: 0o755 });
          for (let attempt = 0; attempt < 5; attempt++) {
            let address = loopback();
            while (used.has(address)) address = loopback();
            used.add(address);
            const port = await freePort(address);
            const config = path.join(hostDir, 'sshd_config');
            await writeFile(
              config,
              sshdConfig({
                address,
                port,
                user,
                hostKeyPaths: [hostKey.privateKeyPath],
                authorizedKeys,
                dir: hostDir,
                babushkaBin: opts.babushkaBin ?? standInBin,
              }),
            );
            const log = path.join(hostDir, 'sshd.log');
            const child = spawn('/usr/sbin/sshd', ['-D', '-E', log, '-f', config], { stdio: 'ignore' });
            trackChild(child);
            children.push(child);
            if (await waitForBanner(address, port, child, 10_000)) return { address, port, user };
            await killAndWait(child);
          }
          throw new Error(`sshd did not start on host ${i + k} (see ${hostDir}/sshd.log)`);
        }),
      );
      hosts.push(...batch);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    hosts,
    user,
    home,
    privateKey: userKey.privateKey,
    knownHosts: hosts.map((h) => `[${h.address}]:${h.port} ${hostKey.publicKey}`).join('\n') + '\n',
    pids: children.map((c) => c.pid!),
    stop,
  };
}

/** Addresses in 127.100.0.0/14, away from test/helpers/sshd.ts's random ones only by chance: uniqueness is per set. */
function loopback(): string {
  const r = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));
  return `127.${r(100, 103)}.${r(0, 255)}.${r(2, 254)}`;
}

/** Every live descendant of the given processes (read from /proc). */
export function descendants(roots: Set<number>): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // ended while we looked
    }
  }
  const found: number[] = [];
  const seen = new Set(roots);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (!seen.has(pid) && seen.has(ppid)) {
        seen.add(pid);
        found.push(pid);
        grew = true;
      }
    }
  }
  return found;
}
