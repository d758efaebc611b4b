/**
 * A fleet behind a bastion, with real OpenSSH servers: the inner hosts' sshd run in a private network namespace
 * (`unshare -n`), so nothing on this machine's network can reach them; the bastion listens on a loopback address of the
 * machine and runs each connection's `sshd -i` inside that namespace, so it is the only way in. The inner hosts also
 * accept their user only from 127.0.0.1 of the namespace (`AllowUsers user@127.0.0.1`), which is where the bastion's
 * forwarded connections come from. The relay counts the connections to the bastion.
 * Every host has its own host key and the same unix user (one test-user slot of sshd.ts). Needs root.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { appendFile, chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  freePort,
  generateKeyPair,
  killAndWait,
  lockUserSlot,
  prepareUser,
  randomLoopback,
  sshdConfig,
  trackChild,
} from './sshd.js';

const run = promisify(execFile);

export interface FleetHost {
  address: string;
  port: number;
  /** `ssh-ed25519 AAAA...` */
  hostPublicKey: string;
  /** `address key` on port 22, `[address]:port key` otherwise (as OpenSSH looks it up). */
  knownHostsLine: string;
}

export interface Fleet {
  user: string;
  home: string;
  /** Reachable from the test process; the only way to the inner hosts. */
  bastion: FleetHost;
  /** Inside the private network: reachable only through the bastion. */
  inner: FleetHost[];
  privateKey: string;
  privateKeyPath: string;
  /** `ssh-ed25519 AAAA...` of privateKey. */
  publicKey: string;
  /** Lines of every host (bastion and inner). */
  knownHosts: string;
  dir: string;
  /** Connections the bastion has accepted so far. */
  bastionConnections(): number;
  /** Adds a public key line to the authorized keys of every host of the fleet. */
  authorize(publicKeyLine: string): Promise<void>;
  /** Starts an inner host given in `deferred` (its address and port refuse connections until then). */
  startInner(i: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startFleet(opts: { inner: number; deferred?: number[] }): Promise<Fleet> {
  if (process.getuid?.() !== 0) throw new Error('test/helpers/ssh-fleet.ts needs root (sshd, users, namespaces)');
  await mkdir('/run/sshd', { recursive: true });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'politburo-fleet-'));
  await chmod(dir, 0o755);
  const cleanups: (() => Promise<unknown>)[] = [() => rm(dir, { recursive: true, force: true })];
  const stop = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    const slot = await lockUserSlot();
    cleanups.push(() => slot.release());
    const user = `pbt${slot.n}`;
    const home = await prepareUser(user);
    const userKey = await generateKeyPair(dir, 'ed25519');
    const authorizedKeys = path.join(dir, 'authorized_keys');
    await writeFile(authorizedKeys, userKey.publicKey + '\n', { mode: 0o644 });

    const ns = await privateNetwork(cleanups);
    const inNs = (cmd: string[]) => ['--net=' + ns, ...cmd];

    const inner: FleetHost[] = [];
    const configs: string[] = [];
    const used = new Set<string>();
    for (let i = 0; i < opts.inner; i++) {
      const hostDir = path.join(dir, `inner-${i}`);
      await mkdir(hostDir, { mode: 0o755 });
      const key = await generateKeyPair(hostDir, 'ed25519', '', 'host_ed25519');
      let address = randomLoopback();
      while (used.has(address)) address = randomLoopback();
      used.add(address);
      const port = i === 0 ? 22 : 2200 + i;
      const config = path.join(hostDir, 'sshd_config');
      await writeFile(
        config,
        sshdConfig({
          address,
          port,
          user,
          hostKeyPaths: [key.privateKeyPath],
          authorizedKeys,
          dir: hostDir,
          from: '127.0.0.1',
        }),
      );
      configs.push(config);
      const line = `${port === 22 ? address : `[${address}]:${port}`} ${key.publicKey}`;
      inner.push({ address, port, hostPublicKey: key.publicKey, knownHostsLine: line });
    }
    const startInner = async (i: number) => {
      const child = spawn('nsenter', inNs(['/usr/sbin/sshd', '-D', '-e', '-f', configs[i]]), {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      trackChild(child);
      cleanups.push(() => killAndWait(child));
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && child.exitCode === null) {
        const probe = await run(
          'nsenter',
          inNs(['bash', '-c', `exec 3<>/dev/tcp/${inner[i].address}/${inner[i].port} && head -c 4 <&3`]),
        ).then(
          (r) => r.stdout,
          () => '',
        );
        if (probe.startsWith('SSH-')) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`inner sshd ${i} did not start: ${stderr.trim()}`);
    };
    await Promise.all(inner.map((_, i) => (opts.deferred?.includes(i) ? null : startInner(i))));

    // The bastion: `sshd -i` per connection, inside the private network.
    const bastionDir = path.join(dir, 'bastion');
    await mkdir(bastionDir, { mode: 0o755 });
    const bastionKey = await generateKeyPair(bastionDir, 'ed25519', '', 'host_ed25519');
    const bastionConfig = path.join(bastionDir, 'sshd_config');
    await writeFile(
      bastionConfig,
      sshdConfig({
        address: '127.0.0.1',
        port: 22,
        user,
        hostKeyPaths: [bastionKey.privateKeyPath],
        authorizedKeys,
        dir: bastionDir,
      }),
    );
    let accepted = 0;
    const relays = new Set<ChildProcess>();
    const sockets = new Set<net.Socket>();
    const server = net.createServer((sock) => {
      accepted++;
      sockets.add(sock);
      const child = spawn('nsenter', inNs(['/usr/sbin/sshd', '-i', '-e', '-f', bastionConfig]), {
        stdio: ['pipe', 'pipe', 'ignore'],
      });
      trackChild(child);
      relays.add(child);
      sock.pipe(child.stdin!);
      child.stdout!.pipe(sock);
      const end = () => {
        sock.destroy();
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      };
      sock.on('error', end);
      sock.on('close', () => (sockets.delete(sock), end()));
      child.stdin!.on('error', () => undefined);
      child.once('exit', () => (relays.delete(child), end()));
    });
    const bastionAddress = randomLoopback();
    const bastionPort = await freePort(bastionAddress);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(bastionPort, bastionAddress, resolve);
    });
    cleanups.push(async () => {
      sockets.forEach((s) => s.destroy());
      await Promise.all([...relays].map((c) => killAndWait(c)));
      await new Promise((r) => server.close(r));
    });
    const bastion: FleetHost = {
      address: bastionAddress,
      port: bastionPort,
      hostPublicKey: bastionKey.publicKey,
      knownHostsLine: `[${bastionAddress}]:${bastionPort} ${bastionKey.publicKey}`,
    };
    return {
      user,
      home,
      bastion,
      inner,
      privateKey: userKey.privateKey,
      privateKeyPath: userKey.privateKeyPath,
      publicKey: userKey.publicKey,
      knownHosts: [bastion, ...inner].map((h) => h.knownHostsLine).join('\n') + '\n',
      dir,
      bastionConnections: () => accepted,
      authorize: (line) => appendFile(authorizedKeys, line.trim() + '\n'),
      startInner,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A new network namespace with `lo` up, kept alive by a `sleep`; returns its /proc path. */
async function privateNetwork(cleanups: (() => Promise<unknown>)[]): Promise<string> {
  const holder = spawn('unshare', ['-n', 'sleep', 'infinity'], { stdio: 'ignore' });
  trackChild(holder);
  cleanups.push(() => killAndWait(holder));
  const ns = `/proc/${holder.pid}/ns/net`;
  const ours = readlinkSync('/proc/self/ns/net');
  const deadline = Date.now() + 5000;
  for (;;) {
    let link = ours;
    try {
      link = readlinkSync(ns);
    } catch {
      // not there yet
    }
    if (link !== ours) break;
    if (Date.now() > deadline || holder.exitCode !== null) throw new Error('unshare -n did not create a namespace');
    await new Promise((r) => setTimeout(r, 10));
  }
  await run('nsenter', ['--net=' + ns, 'ip', 'link', 'set', 'lo', 'up']);
  return ns;
}

/** A running `ssh-agent` on its own socket, holding the given private key files. */
export async function startAgent(dir: string, keyFiles: string[]): Promise<{ socket: string; stop(): Promise<void> }> {
  const socket = path.join(dir, `agent-${Math.random().toString(36).slice(2, 8)}.sock`);
  const child = spawn('ssh-agent', ['-a', socket, '-D'], { stdio: ['ignore', 'ignore', 'pipe'] });
  trackChild(child);
  const deadline = Date.now() + 5000;
  for (;;) {
    const ok = await run('ssh-add', ['-l'], { env: { ...process.env, SSH_AUTH_SOCK: socket } }).then(
      () => true,
      (e: { code?: number }) => e.code === 1, // 1: the agent answers but holds no key yet
    );
    if (ok) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      await killAndWait(child);
      throw new Error('ssh-agent did not start');
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  for (const k of keyFiles) await run('ssh-add', ['-q', k], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
  return {
    socket,
    stop: async () => {
      await killAndWait(child);
      await rm(socket, { force: true });
    },
  };
}
