/**
 * Real OpenSSH servers on loopback for tests: one `/usr/sbin/sshd` per host, each on its own 127.x.y.z address and free
 * port, with its own host key and its own unix user (so `~` differs per host), PATH leading to the Babushka stand-in
 * (or, with `babushkaBin: realBabushkaBin`, to the real Babushka).
 * Needs root (CI runs as root) to start sshd and create the users.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, writeFile, chmod, chown, appendFile, open } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));

/** Directory holding the `babushka` stand-in executable. */
export const standInBin = path.join(here, 'babushka', 'bin');
/**
 * Directory of the real Babushka's wrapper: POLITBURO_BABUSHKA_BIN, else `shared/vendor/bin` in the directory that
 * holds the checkout (where CI puts it). It may be absent on a developer's machine: see realBabushka().
 */
export const realBabushkaBin = process.env.POLITBURO_BABUSHKA_BIN
  ? path.resolve(process.env.POLITBURO_BABUSHKA_BIN)
  : path.resolve(here, '..', '..', '..', 'shared', 'vendor', 'bin');

/**
 * The real Babushka when it is beside the repository (and `ruby` can run it), else the stand-in, with a sentence
 * saying which one a test is using, for its output.
 */
export function realBabushka(): { bin: string; real: boolean; note: string } {
  if (existsSync(path.join(realBabushkaBin, 'babushka'))) {
    return {
      bin: realBabushkaBin,
      real: true,
      note: `using the real Babushka of ${path.join(realBabushkaBin, 'babushka')}`,
    };
  }
  return {
    bin: standInBin,
    real: false,
    note: `the real Babushka is not at ${path.join(realBabushkaBin, 'babushka')} (set POLITBURO_BABUSHKA_BIN to the directory of its wrapper): ran on the stand-in instead`,
  };
}

/** Deps of docs/babushka.md's transcripts and a few test helpers (`echo args`, `slow`). */
export const fixtureDepsDir = path.join(here, 'babushka', 'fixtures', 'babushka-deps');

export interface SshHost {
  address: string;
  port: number;
  user: string;
  home: string;
  /** `[address]:port ssh-ed25519 AAAA...` */
  knownHostsLine: string;
  /** The host's public key line (`ssh-ed25519 AAAA...`). */
  hostPublicKey: string;
  /** Every host key the server offers, by type (`ed25519`, `rsa`, `ecdsa`): `TYPE BASE64` lines. */
  hostPublicKeys: Record<string, string>;
  /** With `hostCertificateOnly`: the key of the CA that signed the host certificate (`TYPE BASE64`). */
  certificateAuthority?: string;
  /** With `hostCertificate`: the certificates the server presents, by host key type (`TYPE-cert-v01@... BASE64`). */
  hostCertificates?: Record<string, string>;
}

export interface SshHosts {
  hosts: SshHost[];
  privateKeyPath: string;
  privateKey: string;
  /** known_hosts content with every host's line. */
  knownHosts: string;
  /** Scratch directory of this set of servers (removed by stop). */
  dir: string;
  /** Adds a public key line to every host's authorized keys. */
  authorize(publicKeyLine: string): Promise<void>;
  stop(): Promise<void>;
}

export interface SshHostsOptions {
  /** sshd MaxSessions (channels per connection); OpenSSH's default is 10. */
  maxSessions?: number;
  /** Host key types each server offers (default ed25519 only); knownHostsLine and hostPublicKey are for the first. */
  hostKeyTypes?: ('ed25519' | 'rsa' | 'ecdsa')[];
  /**
   * Directory put first on each host's PATH for its `babushka` (default standInBin; realBabushkaBin for the real one).
   */
  babushkaBin?: string;
  /** The server offers only a host certificate of its first key (signed by a CA of its own), no plain host key. */
  hostCertificateOnly?: boolean;
  /** Host certificates for every host key (sshd's HostCertificate), signed by a test CA: per host `i`, or the same. */
  hostCertificate?: HostCertificateOptions | ((i: number) => HostCertificateOptions);
}

/** How `ssh-keygen -s CA -h -I ID -n PRINCIPALS -V VALIDITY host_key.pub` signs a host's keys. */
export interface HostCertificateOptions {
  /** The CA's private key file (generateKeyPair); its public key goes on known_hosts' `@cert-authority` lines. */
  caKeyPath: string;
  /** `-n`, default the host's address; an empty list signs a certificate without principals. */
  principals?: string[] | ((address: string) => string[]);
  /** `-V`, default `-5m:+1h`; `always:forever` for no limit. */
  validity?: string;
  /** `-I`, default `test-host`. */
  id?: string;
  /** More ssh-keygen arguments (`-t ssh-rsa` for a SHA-1 signature by an RSA CA, `-O critical:NAME=VALUE`...). */
  args?: string[];
  /** Offer only the certificates (sshd's HostKeyAlgorithms), not the plain host keys too. */
  only?: boolean;
}

/** sshd's certificate algorithms for a host key type. */
const CERT_ALGORITHMS: Record<string, string[]> = {
  ed25519: ['ssh-ed25519-cert-v01@openssh.com'],
  ecdsa: ['ecdsa-sha2-nistp256-cert-v01@openssh.com'],
  rsa: ['rsa-sha2-512-cert-v01@openssh.com', 'rsa-sha2-256-cert-v01@openssh.com'],
};

/** Signs each host key for `address` (the `-cert.pub` beside it); the sshd_config lines that present them. */
async function signHostKeys(
  keyPaths: string[],
  types: readonly string[],
  address: string,
  c: HostCertificateOptions,
): Promise<{ lines: string[]; certificates: Record<string, string> }> {
  const principals = typeof c.principals === 'function' ? c.principals(address) : (c.principals ?? [address]);
  const certificates: Record<string, string> = {};
  for (const [k, keyPath] of keyPaths.entries()) {
    await run('ssh-keygen', [
      '-q',
      '-s',
      c.caKeyPath,
      '-h',
      '-I',
      c.id ?? 'test-host',
      ...(principals.length ? ['-n', principals.join(',')] : []),
      '-V',
      c.validity ?? '-5m:+1h',
      ...(c.args ?? []),
      keyPath + '.pub',
    ]);
    certificates[types[k]] = (await readFile(keyPath + '-cert.pub', 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
  }
  const lines = keyPaths.map((k) => `HostCertificate ${k}-cert.pub`);
  if (c.only) lines.push(`HostKeyAlgorithms ${types.flatMap((t) => CERT_ALGORITHMS[t]).join(',')}`);
  return { lines, certificates };
}

const USER_SLOTS = 200;
const LOCK_DIR = path.join(os.tmpdir(), 'politburo-test-users');

/** Starts `n` sshd processes, each with its own user, address, port and host key. */
export async function startSshHosts(n: number, opts: SshHostsOptions = {}): Promise<SshHosts> {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'test/helpers/sshd.ts needs root: it starts /usr/sbin/sshd and creates test users (CI runs as root)',
    );
  }
  await mkdir('/run/sshd', { recursive: true });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'politburo-sshd-'));
  await chmod(dir, 0o755); // sshd reads authorized_keys as the user
  const userKey = await generateKeyPair(dir, 'ed25519');
  const started: Started[] = [];
  const stop = async () => {
    await Promise.all(started.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  const attempts = await Promise.allSettled(
    Array.from({ length: n }, (_, i) => startOne(dir, i, userKey.publicKey, opts)),
  );
  for (const a of attempts) if (a.status === 'fulfilled') started.push(a.value);
  const failed = attempts.find((a): a is PromiseRejectedResult => a.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  const hosts = started.map((s) => s.host);
  return {
    hosts,
    privateKeyPath: userKey.privateKeyPath,
    privateKey: userKey.privateKey,
    knownHosts: hosts.map((h) => h.knownHostsLine).join('\n') + '\n',
    dir,
    authorize: async (line) => {
      await Promise.all(started.map((s) => appendFile(s.authorizedKeys, line.trim() + '\n')));
    },
    stop,
  };
}

interface Started {
  host: SshHost;
  authorizedKeys: string;
  stop(): Promise<void>;
}

async function startOne(root: string, i: number, userPublicKey: string, opts: SshHostsOptions): Promise<Started> {
  const dir = path.join(root, `host-${i}`);
  await mkdir(dir, { mode: 0o755 });
  const slot = await lockUserSlot();
  try {
    const user = `pbt${slot.n}`;
    const home = await prepareUser(user);
    const types = opts.hostKeyTypes?.length ? opts.hostKeyTypes : (['ed25519'] as const);
    const hostKeys = await Promise.all(types.map((t) => generateKeyPair(dir, t, '', `host_${t}`)));
    const hostKey = hostKeys[0];
    const authorizedKeys = path.join(dir, 'authorized_keys');
    await writeFile(authorizedKeys, userPublicKey + '\n', { mode: 0o644 });
    const keyPaths = hostKeys.map((k) => k.privateKeyPath);
    let certificateAuthority: string | undefined;
    const extra: string[] = [];
    if (opts.hostCertificateOnly) {
      const ca = await generateKeyPair(dir, 'ed25519', '', 'host_ca');
      await run('ssh-keygen', [
        '-q',
        '-s',
        ca.privateKeyPath,
        '-I',
        'test-host',
        '-h',
        hostKey.privateKeyPath + '.pub',
      ]);
      certificateAuthority = ca.publicKey;
      extra.push(
        `HostCertificate ${hostKey.privateKeyPath}-cert.pub`,
        `HostKeyAlgorithms ${types[0] === 'ed25519' ? 'ssh-ed25519' : 'ecdsa-sha2-nistp256'}-cert-v01@openssh.com`,
      );
    }
    const certificate = typeof opts.hostCertificate === 'function' ? opts.hostCertificate(i) : opts.hostCertificate;
    let hostCertificates: Record<string, string> | undefined;
    const configFor = async (address: string) => {
      if (!certificate) return extra;
      const signed = await signHostKeys(keyPaths, types, address, certificate);
      hostCertificates = signed.certificates;
      return [...extra, ...signed.lines];
    };
    const { child, address, port } = await spawnSshd(dir, user, keyPaths, authorizedKeys, { ...opts, configFor });
    const host: SshHost = {
      address,
      port,
      user,
      home,
      knownHostsLine: `[${address}]:${port} ${hostKey.publicKey}`,
      hostPublicKey: hostKey.publicKey,
      hostPublicKeys: Object.fromEntries(types.map((t, k) => [t, hostKeys[k].publicKey])),
    };
    if (certificateAuthority) host.certificateAuthority = certificateAuthority;
    if (hostCertificates) host.hostCertificates = hostCertificates;
    const stop = async () => {
      await killAndWait(child);
      await slot.release();
    };
    return { host, authorizedKeys, stop };
  } catch (err) {
    await slot.release();
    throw err;
  }
}

async function spawnSshd(
  dir: string,
  user: string,
  hostKeyPaths: string[],
  authorizedKeys: string,
  opts: SshHostsOptions & { configFor(address: string): Promise<string[]> },
) {
  let lastError = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const address = randomLoopback();
    const port = await freePort(address);
    const config = path.join(dir, 'sshd_config');
    await writeFile(
      config,
      sshdConfig({
        address,
        port,
        user,
        hostKeyPaths,
        authorizedKeys,
        dir,
        maxSessions: opts.maxSessions,
        babushkaBin: opts.babushkaBin,
        extra: await opts.configFor(address),
      }),
    );
    const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    trackChild(child);
    if (await waitForBanner(address, port, child)) return { child, address, port };
    await killAndWait(child);
    lastError = stderr;
  }
  throw new Error(`sshd did not start: ${lastError.trim()}`);
}

export function sshdConfig(c: {
  address: string;
  port: number;
  user: string;
  hostKeyPaths: string[];
  authorizedKeys: string;
  dir: string;
  maxSessions?: number;
  babushkaBin?: string;
  /** `AllowUsers USER@FROM`: only connections from this address are let in. */
  from?: string;
  logLevel?: string;
  /** More sshd_config lines. */
  extra?: string[];
}): string {
  return [
    `ListenAddress ${c.address}:${c.port}`,
    ...c.hostKeyPaths.map((k) => `HostKey ${k}`),
    `PidFile ${path.join(c.dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${c.authorizedKeys}`,
    `AllowUsers ${c.user}${c.from ? `@${c.from}` : ''}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'PermitRootLogin no',
    'UseDNS no',
    'PrintMotd no',
    `LogLevel ${c.logLevel ?? 'ERROR'}`,
    `MaxSessions ${c.maxSessions ?? 10}`,
    'MaxStartups 200',
    `SetEnv PATH=${c.babushkaBin ?? standInBin}:/usr/local/bin:/usr/bin:/bin`,
    ...(c.extra ?? []),
    '',
  ].join('\n');
}

export function randomLoopback(): string {
  const r = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));
  return `127.${r(2, 250)}.${r(0, 255)}.${r(2, 254)}`;
}

/** A free TCP port on `address` (listen on 0, then release it). */
export async function freePort(address = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, resolve);
  });
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether the sshd `child` answers with its SSH banner on `address:port` within `timeoutMs` (false once it exits). */
export async function waitForBanner(
  address: string,
  port: number,
  child: ChildProcess,
  timeoutMs = 5000,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && child.exitCode === null) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, address);
      s.setTimeout(500);
      s.once('data', (d) => {
        s.destroy();
        resolve(d.toString().startsWith('SSH-'));
      });
      s.once('error', () => resolve(false));
      s.once('timeout', () => {
        s.destroy();
        resolve(false);
      });
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

const children = new Set<ChildProcess>();
export function trackChild(child: ChildProcess) {
  if (children.size === 0) process.once('exit', () => children.forEach((c) => c.kill('SIGKILL')));
  children.add(child);
  child.once('exit', () => children.delete(child));
}

export async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
}

/** Takes one of the test-user slots, so parallel test files never share a user (and a home). */
export async function lockUserSlot(): Promise<{ n: number; release(): Promise<void> }> {
  await mkdir(LOCK_DIR, { recursive: true });
  const start = Math.floor(Math.random() * USER_SLOTS);
  for (let k = 0; k < USER_SLOTS; k++) {
    const n = (start + k) % USER_SLOTS;
    const file = path.join(LOCK_DIR, `slot-${n}.lock`);
    if (await tryLock(file)) return { n, release: () => rm(file, { force: true }) };
  }
  throw new Error(`all ${USER_SLOTS} test user slots in ${LOCK_DIR} are taken`);
}

async function tryLock(file: string): Promise<boolean> {
  try {
    const fh = await open(file, 'wx');
    await fh.writeFile(String(process.pid));
    await fh.close();
    return true;
  } catch {
    const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
    if (pid && pid !== process.pid && !alive(pid)) {
      await rm(file, { force: true }); // left by a test process that died
      return tryLock(file);
    }
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Creates the user when missing and gives it an empty home; returns the home directory. */
export async function prepareUser(user: string): Promise<string> {
  const home = `/home/${user}`;
  for (let attempt = 0; ; attempt++) {
    try {
      await run('id', ['-u', user]);
      break;
    } catch {
      // `*` (not `!`) as password: sshd refuses public keys of locked accounts when PAM is off.
      const failure = await run('useradd', ['-m', '-d', home, '-s', '/bin/bash', '-p', '*', user]).then(
        () => null,
        (e: Error) => e,
      );
      if (failure === null) break;
      if (attempt > 30) throw new Error(`useradd ${user} failed: ${failure.message}`);
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100)); // /etc/passwd locked by a parallel useradd
    }
  }
  const uid = Number((await run('id', ['-u', user])).stdout.trim());
  const gid = Number((await run('id', ['-g', user])).stdout.trim());
  await rm(home, { recursive: true, force: true });
  await mkdir(home, { mode: 0o755 });
  await chown(home, uid, gid);
  return home;
}

/** Generates a key pair with ssh-keygen; returns the private key (OpenSSH format) and the public key line. */
export async function generateKeyPair(
  dir: string,
  type: 'ed25519' | 'rsa' | 'ecdsa',
  passphrase = '',
  name = `id_${type}_${Math.random().toString(36).slice(2, 8)}`,
): Promise<{ privateKeyPath: string; privateKey: string; publicKey: string }> {
  const privateKeyPath = path.join(dir, name);
  const args = ['-q', '-t', type, '-N', passphrase, '-C', '', '-f', privateKeyPath];
  if (type === 'rsa') args.push('-b', '2048');
  await run('ssh-keygen', args);
  const privateKey = await readFile(privateKeyPath, 'utf8');
  const publicKey = (await readFile(privateKeyPath + '.pub', 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
  return { privateKeyPath, privateKey, publicKey };
}

/** A port on 127.0.0.1 where nothing listens: connections are refused. */
export async function refusingPort(): Promise<{ address: string; port: number }> {
  return { address: '127.0.0.1', port: await freePort('127.0.0.1') };
}

/** A TCP server that accepts connections and never says a word (an SSH connect must time out). */
export async function silentServer(): Promise<{ address: string; port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    address: '127.0.0.1',
    port,
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  };
}

/** A known_hosts line for `address:port` with a freshly generated key: the real host's key will not match it. */
export async function wrongKnownHostsLine(address: string, port: number): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'politburo-wrongkey-'));
  try {
    const key = await generateKeyPair(dir, 'ed25519');
    return `[${address}]:${port} ${key.publicKey}`;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Command lines of the live (not zombie) processes on this machine matching `pattern`, read from /proc (test hosts
 * are local, and procps may be missing on a fresh machine).
 */
export function liveProcesses(pattern: RegExp): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      const state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0];
      if (state !== 'Z' && pattern.test(cmd)) found.push(`${pid} ${cmd}`);
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}
