/**
 * The HostConnector Politburo runs with: SSH (ssh2) with host keys always verified against known_hosts before
 * authentication, one connection per host shared by every step, and the local machine for `local` hosts.
 */
import { appendFile, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import ssh2, { Client, type AnyAuthMethod, type ConnectConfig, type ParsedKey } from 'ssh2';
import { PolitburoError, type HostConnection, type HostConnector } from '../kernel/types.js';
import type { HostConnectorOptions, SshTarget } from './connector-options.js';
import { ensureRemoteDeps, remoteDepsPath } from './deps-upload.js';
import type { ExecOptions } from '../kernel/exec-options.js';
import {
  certAuthorities,
  fingerprint,
  keyTypeOf,
  knownKeyTypes,
  parseKnownHosts,
  revokedEntry,
  verifyHostKey,
  type KnownHostEntry,
} from './known-hosts.js';
import { checkHostCertificate, HOST_CERTIFICATE_ALGORITHMS, isCertificateKeyType } from './host-certificate.js';
import { createLocalConnection } from './local-connection.js';
import { SshSession } from './ssh-session.js';
import { SshConfigSet } from './ssh-config.js';
import { endpointLabel, resolveRoute, type Endpoint, type Route } from './jump-hosts.js';
import { proxyCommandError, startProxyCommand, type ProxyCommandProcess } from './proxy-command.js';
import { KeeperLink } from './keeper-client.js';

// ssh2 is CommonJS: its `utils` is only reachable through the default export.
const { utils } = ssh2;

/**
 * Whether this installation's ssh2 negotiates host certificates: ssh2 1.17.0 does with patches/ssh2+1.17.0.patch, which
 * `npm install` applies in a clone and in the image; a package cannot patch its dependencies where it is installed as
 * one (docs/cli.md, "Host certificates"). Read from ssh2's own list of algorithms (a private module, checked here only).
 * The default of the connector's `hostCertificates` option.
 */
export const HOST_CERTIFICATES_SUPPORTED: boolean = (() => {
  try {
    const constants = createRequire(import.meta.url)('ssh2/lib/protocol/constants.js') as {
      SUPPORTED_SERVER_HOST_KEY?: string[];
      CERT_SERVER_HOST_KEY?: object;
    };
    return (
      constants.CERT_SERVER_HOST_KEY !== undefined &&
      HOST_CERTIFICATE_ALGORITHMS.every((a) => constants.SUPPORTED_SERVER_HOST_KEY?.includes(a))
    );
  } catch {
    return false;
  }
})();

export type { HostConnectorOptions, SshTarget, Target } from './connector-options.js';

/** What Politburo's connector reports beyond the port's stats. */
export interface ConnectorStats {
  /** SSH connections opened, by the host's name as given (jump hosts included); `local` for the local machine. */
  connections: Record<string, number>;
  /** Deps uploads by address (ensureDeps that had to send the directory). */
  depsUploads: Record<string, number>;
  /** Connection attempts retried after a transient failure, by host name. */
  retries: Record<string, number>;
  /** Babushka commands started ahead and held (docs/babushka.md, "Started ahead"), by address. */
  held: Record<string, number>;
  /** Held commands that a release ran (the others were discarded, or ran afresh), by address. */
  released: Record<string, number>;
  /** Connections the keeper had kept from an earlier run and this one used (`persist`), by the host's name as given. */
  reused: Record<string, number>;
}

export interface PolitburoHostConnector extends HostConnector {
  stats(): ConnectorStats;
}

/** The connector as the connection keeper uses it: the session of a host itself, whose channels it passes on. */
export interface KeeperHostConnector extends PolitburoHostConnector {
  sessionFor(target: SshTarget): Promise<SshSession>;
}

export const DEFAULT_RETRIES = 3;

/** The waits before `retries` retries: 0.5 s, doubled each time, at most 8 s. */
export function retryDelays(retries: number): number[] {
  return Array.from({ length: Math.max(0, Math.floor(retries)) }, (_, i) => Math.min(500 * 2 ** i, 8000));
}

/** The waits before each retry of a connection to `e` (docs/operations.md, "Connection retries"). */
function delaysFor(opts: HostConnectorOptions, e: Endpoint): number[] {
  if (opts.retryDelaysMs) return opts.retryDelaysMs;
  if (opts.retries !== undefined) return retryDelays(opts.retries);
  if (e.connectionAttempts !== undefined) return retryDelays(e.connectionAttempts - 1);
  return retryDelays(DEFAULT_RETRIES);
}

/**
 * Creates a connector: at most one SSH connection per host (user@host:port, and the same jump hosts), one per jump
 * host shared by every host behind it, host keys of every hop verified first.
 */
export function createHostConnector(opts: HostConnectorOptions): KeeperHostConnector {
  const entries: KnownHostEntry[] = opts.knownHosts.flatMap((content, i) => {
    const parsed = parseKnownHosts(content, `known_hosts#${i + 1}`);
    parsed.errors.forEach((e) => opts.onWarning?.(`skipping a known_hosts line: ${e}`));
    return parsed.entries;
  });
  const config = new SshConfigSet(opts.sshConfig ?? []);
  const warned = new Set<string>();
  const warn = (m: string) => {
    if (!warned.has(m)) opts.onWarning?.(m);
    warned.add(m);
  };
  const sessions = new Map<string, Promise<SshSession>>();
  /** Keys of jump-host connections, closed after the rest. */
  const jumpKeys = new Set<string>();
  const stats: ConnectorStats = { connections: {}, depsUploads: {}, retries: {}, held: {}, released: {}, reused: {} };
  // The keeper, once a host is to be kept: at once when every host is (started while the run gets ready).
  let keeper: KeeperLink | null = null;
  const keeperLink = () => (keeper ??= new KeeperLink(opts.persist!.dir));
  if (opts.persist && opts.persist.ms !== undefined) keeperLink().warm();
  /** How long the keeper keeps the route's connection (undefined: it is the run's own). */
  const keptFor = (route: Route): number | null | undefined =>
    !opts.persist ? undefined : opts.persist.ms !== undefined ? opts.persist.ms : route.target.controlPersistMs;
  const depsPromises = new Map<string, Promise<string>>();
  let local: HostConnection | null = null;
  let closed = false;
  const keyCache = new Map<string, Promise<Buffer | null>>();
  const readKey = (file: string, explicit: boolean) => {
    let p = keyCache.get(file);
    if (!p) {
      p = readFile(file).catch((err: NodeJS.ErrnoException) => {
        if (explicit) warn(`IdentityFile ${file} cannot be read (${err.code ?? err.message}): skipped`);
        return null;
      });
      keyCache.set(file, p);
    }
    return p;
  };

  const bump = (record: Record<string, number>, key: string) => (record[key] = (record[key] ?? 0) + 1);

  // Keys are parsed once per connector, not once per connection (ssh2 takes a parsed key as it is).
  const parsedKeys = new Map<string | Buffer, ParsedKey | Error>();
  const parseOnce = (key: string | Buffer): ParsedKey | Error => {
    let parsed = parsedKeys.get(key);
    if (!parsed) {
      const p = utils.parseKey(key, opts.passphrase);
      parsed = Array.isArray(p) ? (p[0] as ParsedKey) : p;
      parsedKeys.set(key, parsed);
    }
    return parsed;
  };
  const keyError = () => {
    const parsed = opts.privateKey !== undefined ? parseOnce(opts.privateKey) : undefined;
    return parsed instanceof Error ? parsed : undefined;
  };

  const authFor = async (e: Endpoint): Promise<AnyAuthMethod[]> => {
    const methods: AnyAuthMethod[] = [];
    if (opts.privateKey !== undefined) {
      const parsed = parseOnce(opts.privateKey);
      const key = parsed instanceof Error ? opts.privateKey : parsed;
      methods.push({ type: 'publickey', username: e.user, key, passphrase: opts.passphrase });
    }
    if (opts.agent) methods.push({ type: 'agent', username: e.user, agent: opts.agent });
    const explicit = e.identityFiles.length > 0;
    const files = explicit ? e.identityFiles : opts.privateKey === undefined ? (opts.defaultIdentityFiles ?? []) : [];
    for (const file of files) {
      const key = await readKey(file, explicit);
      if (!key) continue;
      const parsed = parseOnce(key);
      if (parsed instanceof Error) {
        warn(`${file} cannot be used as a key (${parsed.message}): skipped`);
        continue;
      }
      methods.push({ type: 'publickey', username: e.user, key: parsed, passphrase: opts.passphrase });
    }
    return methods;
  };

  /** The session over `route`'s hops up to and including `hop` (index into jumps, or jumps.length for the target). */
  const sessionAt = (route: Route, hop: number, original?: SshTarget): Promise<SshSession> => {
    const chain = [...route.jumps, route.target].slice(0, hop + 1);
    const key = chain
      .map((e) => `${e.proxyCommand ? `[${e.proxyCommand}] ` : ''}${e.user}@${e.hostName}:${e.port}`)
      .join(' > ');
    let p = sessions.get(key);
    const persistMs = original && hop === route.jumps.length ? keptFor(route) : undefined;
    if (!p && persistMs !== undefined) {
      p = keptSession(keeperLink(), route, original!, persistMs);
      sessions.set(key, p);
      p.then(
        (s) => s.onClose(() => sessions.get(key) === p && sessions.delete(key)),
        () => sessions.get(key) === p && sessions.delete(key),
      );
    }
    if (!p) {
      const endpoint = chain[hop];
      const isJump = hop < route.jumps.length;
      if (isJump) jumpKeys.add(key);
      const via = hop > 0 ? sessionAt(route, hop - 1) : null;
      p = withRetries(endpoint, isJump, async () => {
        const sock = via ? await forwardTo(await via, endpoint) : undefined;
        bump(stats.connections, endpoint.name);
        opts.onConnection?.(endpoint.name);
        return openSession(endpoint, isJump, opts, entries, await authFor(endpoint), keyError(), sock);
      });
      sessions.set(key, p);
      p.then(
        (s) => s.onClose(() => sessions.get(key) === p && sessions.delete(key)),
        () => sessions.get(key) === p && sessions.delete(key), // a later connect may try again
      );
    }
    return p;
  };

  /** The target's connection through the keeper, which connects (jump hosts, retries) or has it kept already. */
  const keptSession = async (
    link: KeeperLink,
    route: Route,
    target: SshTarget,
    persistMs: number | null,
  ): Promise<SshSession> => {
    const t = route.target;
    // The target as given: the keeper resolves the same route with the same options (ssh_config among them).
    const kept = await link.connect(opts, target, persistMs);
    for (const name of kept.opened) bump(stats.connections, name);
    if (!kept.opened.includes(t.name)) bump(stats.reused, t.name);
    return new SshSession(kept.client, kept.label, opts.maxSessionsPerHost ?? 10);
  };

  const withRetries = async (e: Endpoint, isJump: boolean, attempt: () => Promise<SshSession>): Promise<SshSession> => {
    const delays = delaysFor(opts, e);
    for (let n = 0; ; n++) {
      try {
        return await attempt();
      } catch (err) {
        const failure = err instanceof ConnectFailure ? err : null;
        if (!failure || !failure.transient || n >= delays.length || closed) throw failure ? failure.error : err;
        bump(stats.retries, e.name);
        await opts.onRetry?.({ host: endpointLabel(e), attempt: n + 1, delayMs: delays[n], error: failure.error });
        await new Promise((r) => setTimeout(r, delays[n]));
        if (closed) throw new PolitburoError('Interrupted', 'the host connector is closed');
      }
    }
  };

  const handle = (session: SshSession, target: Endpoint, address: string): HostConnection => {
    const depsKey = (hash: string) => `${target.user}@${target.hostName}:${target.port}#${hash}`;
    return {
      address,
      exec: (command: string, execOpts?: ExecOptions) => session.exec(command, execOpts),
      ensureDeps: (localDir: string, hash: string) => {
        let p = depsPromises.get(depsKey(hash));
        if (!p) {
          const exec = (c: string, o?: ExecOptions) => session.exec(c, o);
          p = ensureRemoteDeps(exec, address, localDir, hash, () => bump(stats.depsUploads, address));
          depsPromises.set(depsKey(hash), p);
          p.catch(() => depsPromises.delete(depsKey(hash)));
        }
        return p;
      },
      // A command over SSH starts in the user's home directory, where ensureRemoteDeps puts them.
      depsDirFor: remoteDepsPath,
      hold: (command: string) => {
        const started = session.hold(
          command,
          () => bump(stats.released, address),
          () =>
            warn(
              `${address}: Babushka cannot be started ahead on this host (its babushka did not load Politburo's hold, or the hold could not be set up; docs/babushka.md, "Started ahead"): each Babushka process starts when its node runs`,
            ),
        );
        if (started) bump(stats.held, address);
        return started;
      },
      discard: (command: string) => session.discard(command),
      // The connection is shared by every step of the run: it closes with the connector.
      close: async () => undefined,
    };
  };

  const targetSession = async (target: SshTarget): Promise<{ session: SshSession; route: Route }> => {
    const route = resolveRoute(target, config, opts.localUser);
    config.warnings.splice(0).forEach(warn);
    try {
      return { session: await sessionAt(route, route.jumps.length, target), route };
    } catch (err) {
      // Through the keeper, its connector has said which hop failed already.
      if (!(err instanceof PolitburoError) || route.jumps.length === 0 || keptFor(route) !== undefined) throw err;
      const via = route.jumps.map(endpointLabel).join(' -> ');
      throw new PolitburoError(err.reason, `${endpointLabel(route.target)} via ${via}: ${err.message}`);
    }
  };

  return {
    async connect(target) {
      if (closed) throw new PolitburoError('Interrupted', 'the host connector is closed');
      if (target.kind === 'local') {
        if (!local) {
          bump(stats.connections, 'local');
          local = createLocalConnection();
        }
        return local;
      }
      const { session, route } = await targetSession(target);
      return handle(session, route.target, target.address);
    },
    async sessionFor(target) {
      if (closed) throw new PolitburoError('Interrupted', 'the host connector is closed');
      return (await targetSession(target)).session;
    },
    stats: () => ({
      connections: { ...stats.connections },
      depsUploads: { ...stats.depsUploads },
      retries: { ...stats.retries },
      held: { ...stats.held },
      released: { ...stats.released },
      reused: { ...stats.reused },
    }),
    async close() {
      closed = true;
      const endAll = (keys: string[]) =>
        Promise.all(
          keys.map((k) =>
            sessions.get(k)?.then(
              (s) => s.end(),
              () => undefined,
            ),
          ),
        );
      const all = [...sessions.keys()];
      // Hosts first, then jump hosts from the innermost out: a bastion's connection carries the others.
      await endAll(all.filter((k) => !jumpKeys.has(k)));
      const jumps = all.filter((k) => jumpKeys.has(k)).sort((a, b) => b.split(' > ').length - a.split(' > ').length);
      for (const k of jumps) await endAll([k]);
      sessions.clear();
      await keeper?.close();
    },
  };
}

const DEFAULT_HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/**
 * Host key algorithms with the ones known_hosts has for this host first, as OpenSSH orders them: host certificates
 * before everything when a `@cert-authority` line names the host (and only then, and only when ssh2 negotiates them:
 * `supported`), then the plain key types known.
 */
export function hostKeyAlgorithms(
  known: string[],
  certificates: boolean,
  supported: boolean = HOST_CERTIFICATES_SUPPORTED,
): string[] {
  const preferred = known.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]));
  const first = preferred.filter((a) => DEFAULT_HOST_KEY_ALGORITHMS.includes(a));
  const certs = certificates && supported ? HOST_CERTIFICATE_ALGORITHMS : [];
  return [...new Set([...certs, ...first, ...DEFAULT_HOST_KEY_ALGORITHMS])];
}

export type Verdict =
  | {
      result: 'ok' | 'unknown' | 'mismatch' | 'accepted';
      keyType: string;
      fingerprint: string;
      line: string;
      /** The host presented a certificate by a CA not trusted for it, and this is its certified key: why. */
      certificate?: string;
    }
  /** A host certificate refused (hosts/host-certificate.ts): the reason and the message saying what and where. */
  | { result: 'refused'; reason: 'HostKeyMismatch' | 'HostKeyUnknown'; message: string }
  | null;

interface KeyLookup {
  host: string;
  port: number;
}

/**
 * The hostVerifier: runs during key exchange, before any authentication, so nothing is sent to a host whose key is
 * unknown or changed. A host certificate is checked against the `@cert-authority` lines for the host; one signed by
 * another CA counts as its certified key, as in OpenSSH. Records its verdict for the error message.
 */
function makeHostVerifier(
  entries: KnownHostEntry[],
  lookup: KeyLookup,
  acceptNewFile: string | undefined,
  setVerdict: (v: Verdict) => void,
) {
  return (presented: Buffer, done: (ok: boolean) => void): void => {
    let key = presented;
    let certificate: string | undefined;
    if (isCertificateKeyType(keyTypeOf(presented) ?? '')) {
      const check = checkHostCertificate(presented, {
        host: lookup.host,
        port: lookup.port,
        authorities: certAuthorities(entries, lookup.host, lookup.port),
        revoked: (blob) => revokedEntry(entries, lookup.host, lookup.port, blob),
      });
      if (check.result === 'refused') {
        setVerdict({ result: 'refused', reason: check.reason, message: check.message });
        return done(false);
      }
      if (check.result === 'trusted') {
        const c = check.cert;
        setVerdict({ result: 'ok', keyType: c.type, fingerprint: fingerprint(c.key), line: '' });
        return done(true);
      }
      key = check.cert.key;
      certificate = check.message;
    }
    const keyType = keyTypeOf(key) ?? 'unknown-type';
    const result = verifyHostKey(entries, lookup.host, lookup.port, keyType, key);
    const line = `${lookup.port === 22 ? lookup.host : `[${lookup.host}]:${lookup.port}`} ${keyType} ${key.toString('base64')}`;
    setVerdict({ result, keyType, fingerprint: fingerprint(key), line, certificate });
    if (result !== 'unknown' || !acceptNewFile) return done(result === 'ok');
    // accept-new (explicitly configured): remember the key for this connector and in the configured file.
    entries.push(...parseKnownHosts(line, acceptNewFile).entries);
    setVerdict({ result: 'accepted', keyType, fingerprint: fingerprint(key), line });
    appendFile(acceptNewFile, line + '\n').then(
      () => done(true),
      () => done(false),
    );
  };
}

/** The stream from the previous hop to `e`; a hop that cannot reach it fails like a refused connection would. */
async function forwardTo(via: SshSession, e: Endpoint): Promise<Duplex> {
  try {
    return await via.forwardOut(e.hostName, e.port);
  } catch (err) {
    if (err instanceof PolitburoError) throw err; // the jump host's connection is gone
    const error = new PolitburoError(
      'HostUnreachable',
      `${endpointLabel(e)}: ${via.label} could not open a connection to it: ${(err as Error).message}`,
    );
    throw new ConnectFailure(error, isTransientConnectError(err as Error, null));
  }
}

/** A failed attempt to connect: the error to report and whether trying again may help. */
class ConnectFailure extends Error {
  constructor(
    readonly error: PolitburoError,
    readonly transient: boolean,
  ) {
    super(error.message);
  }
}

/**
 * Connects to `e` (over `sock` from the previous hop, or through its ProxyCommand, else directly) and authenticates.
 * A ProxyCommand is started only once the keys are known, ended when the connection fails or closes; a failure through
 * it is not retried (OpenSSH runs it once too).
 */
function openSession(
  e: Endpoint,
  isJump: boolean,
  opts: HostConnectorOptions,
  entries: KnownHostEntry[],
  auth: AnyAuthMethod[],
  keyError: Error | undefined,
  sock?: Duplex,
): Promise<SshSession> {
  const label = (isJump ? 'jump host ' : '') + endpointLabel(e);
  const lookup = e.hostKeyAlias ? { host: e.hostKeyAlias, port: 22 } : { host: e.hostName, port: e.port };
  const timeoutMs = e.connectTimeoutMs ?? opts.connectTimeoutMs ?? 15_000;
  const certificatesSupported = HOST_CERTIFICATES_SUPPORTED && opts.hostCertificates !== false;
  const refuse = (message: string) => {
    sock?.destroy();
    return Promise.reject(
      new ConnectFailure(new PolitburoError('AuthenticationFailed', `${label}: ${message}`), false),
    );
  };
  if (keyError) return refuse(`the private key could not be used: ${keyError.message}`);
  if (auth.length === 0)
    return refuse(
      'no SSH key to offer: give a key (--ssh-key, POLITBURO_SSH_KEY), an IdentityFile in ssh_config, or run ssh-agent (SSH_AUTH_SOCK)',
    );
  let proxy: ProxyCommandProcess | undefined;
  if (e.proxyCommand && !sock) {
    proxy = startProxyCommand(e.proxyCommand);
    sock = proxy.stream;
  }
  let verdict: Verdict = null;
  const config: ConnectConfig = {
    host: e.hostName,
    port: e.port,
    username: e.user,
    authHandler: auth,
    readyTimeout: timeoutMs,
    keepaliveInterval: e.keepaliveIntervalMs ?? opts.keepaliveIntervalMs ?? 15_000,
    keepaliveCountMax: e.keepaliveCountMax ?? 3,
    hostVerifier: makeHostVerifier(
      entries,
      lookup,
      opts.acceptNewHostKeysFile,
      (v) => (verdict = v),
    ) as ConnectConfig['hostVerifier'],
    algorithms: {
      serverHostKey: hostKeyAlgorithms(
        knownKeyTypes(entries, lookup.host, lookup.port),
        certAuthorities(entries, lookup.host, lookup.port).length > 0,
        certificatesSupported,
      ) as never,
    },
  };
  if (sock) config.sock = sock;
  // The host key algorithms the server offers, for the message when none can be used (a host presenting only a
  // certificate). Only during the handshake: the debug hook is removed once connected (it would see every packet).
  let offered: string[] | undefined;
  config.debug = (msg: string) => {
    const m = /^Handshake: \(remote\) Host key format: (.*)$/.exec(msg);
    if (m) offered = m[1].split(',');
  };

  return new Promise((resolve, reject) => {
    const client = new Client();
    let settled = false;
    const fail = (err: Error & { level?: string; code?: string }) => {
      if (settled) return;
      settled = true;
      // Before the stream is destroyed: whether the ProxyCommand was ending by itself.
      const proxyEnd = proxy?.stop();
      client.end();
      sock?.destroy();
      const error = connectError(err, label, verdict, timeoutMs, {
        certAuthority: certAuthorities(entries, lookup.host, lookup.port)[0],
        offeredHostKeys: offered,
        certificatesSupported,
      });
      if (!proxy || !proxyEnd) return reject(new ConnectFailure(error, isTransientConnectError(err, verdict)));
      const command = proxy.command;
      void proxyEnd.then((end) => reject(new ConnectFailure(proxyCommandError(label, command, end, error), false)));
    };
    client.once('ready', () => {
      settled = true;
      if (proxy) client.once('close', () => void proxy.stop());
      stopDebug(client);
      resolve(new SshSession(client, label, opts.maxSessionsPerHost ?? 10));
    });
    client.on('error', fail);
    client.once('close', () => fail(new Error('the server closed the connection')));
    try {
      client.connect(config);
    } catch (err) {
      settled = true;
      sock?.destroy();
      void proxy?.stop();
      const error = new PolitburoError(
        'AuthenticationFailed',
        `${label}: the private key could not be used: ${(err as Error).message}`,
      );
      reject(new ConnectFailure(error, false));
    }
  });
}

/** Removes the debug hook of a connected client (ssh2 1.x keeps it on its protocol object). */
function stopDebug(client: Client): void {
  const c = client as unknown as { config?: { debug?: unknown }; _protocol?: { _debug?: unknown } };
  if (c._protocol) c._protocol._debug = undefined;
  if (c.config) c.config.debug = undefined;
}

/**
 * Whether a failed connect may succeed when tried again: a refused or reset connection, one lost before the SSH
 * handshake, a temporary DNS failure, a jump host that could not reach the next hop. Never a host key or
 * authentication failure, a timeout or an unknown name (docs/operations.md, "Connection retries").
 */
export function isTransientConnectError(err: Error & { level?: string; code?: string }, verdict: Verdict): boolean {
  if (verdict && verdict.result !== 'ok' && verdict.result !== 'accepted') return false;
  if (err.level === 'client-authentication') return false;
  if (err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET' || err.code === 'EAI_AGAIN') return true;
  if (/Connection lost before handshake/i.test(err.message)) return true;
  if (/Channel open failure/i.test(err.message) && /refused|connect failed/i.test(err.message)) return true;
  return false;
}

const NO_CERTIFICATES =
  'its SSH library (ssh2) has no host-certificate algorithms without the patch a clone of Politburo and its image ' +
  'apply (patches/ssh2+1.17.0.patch), which an installed npm package cannot apply to its dependency';

/**
 * Turns an ssh2 connect error into a PolitburoError whose message says what to do. `host`: the first `@cert-authority`
 * line for the host, the host key algorithms it offered, and whether ssh2 negotiates host certificates here (default
 * HOST_CERTIFICATES_SUPPORTED).
 */
export function connectError(
  err: Error & { level?: string; code?: string },
  label: string,
  verdict: Verdict,
  timeoutMs: number,
  host: { certAuthority?: KnownHostEntry; offeredHostKeys?: string[]; certificatesSupported?: boolean } = {},
): PolitburoError {
  const { certAuthority, offeredHostKeys, certificatesSupported = HOST_CERTIFICATES_SUPPORTED } = host;
  if (/no matching host key format/i.test(err.message)) {
    const offered = offeredHostKeys?.join(', ') ?? 'unknown';
    if (offeredHostKeys?.length && offeredHostKeys.every((a) => a.includes('-cert-v'))) {
      const why = !certificatesSupported
        ? `which this installation cannot verify: ${NO_CERTIFICATES}. Let sshd offer its plain host key too (do ` +
          `not limit HostKeyAlgorithms to certificates) and put that key in known_hosts.`
        : certAuthority
          ? `none of a type Politburo accepts (${HOST_CERTIFICATE_ALGORITHMS.join(', ')})`
          : `and no @cert-authority line of known_hosts names this host: add one with the public key of the CA ` +
            `that signs its certificates (@cert-authority HOST KEYTYPE BASE64KEY).`;
      return new PolitburoError(
        'HostKeyUnknown',
        `${label}: the host presents only host certificates (${offered}), ${why}`,
      );
    }
    return new PolitburoError(
      'HostUnreachable',
      `${label}: no host key algorithm in common: the host offers ${offered}; Politburo accepts ${DEFAULT_HOST_KEY_ALGORITHMS.join(', ')}`,
    );
  }
  if (verdict?.result === 'refused') return new PolitburoError(verdict.reason, `${label}: ${verdict.message}`);
  if (verdict?.result === 'unknown' && verdict.certificate) {
    return new PolitburoError(
      'HostKeyUnknown',
      `${label}: ${verdict.certificate}, and its key ${verdict.keyType} ${verdict.fingerprint} is not in known_hosts ` +
        `either. If that CA signs this host's certificates, add an @cert-authority line with its public key; else, ` +
        `after checking the fingerprint, add this line to known_hosts: ${verdict.line}`,
    );
  }
  if (verdict?.result === 'unknown' && certAuthority) {
    const why = certificatesSupported
      ? `the host presented no certificate (is sshd's HostCertificate set?)`
      : `this installation cannot verify host certificates (${NO_CERTIFICATES})`;
    return new PolitburoError(
      'HostKeyUnknown',
      `${label}: known_hosts trusts host certificates for this host (@cert-authority, ${certAuthority.where}), but ` +
        `${why}, and the host's plain key ${verdict.keyType} ${verdict.fingerprint} is not in known_hosts. After ` +
        `checking the fingerprint, add this line to known_hosts: ${verdict.line}`,
    );
  }
  if (verdict?.result === 'unknown') {
    return new PolitburoError(
      'HostKeyUnknown',
      `${label}: host key ${verdict.keyType} ${verdict.fingerprint} is not in known_hosts. Check the fingerprint with the host's ` +
        `administrator, then add this line to known_hosts: ${verdict.line} (or configure accept-new explicitly).`,
    );
  }
  if (verdict?.result === 'mismatch') {
    return new PolitburoError(
      'HostKeyMismatch',
      `${label}: host key ${verdict.keyType} ${verdict.fingerprint} does NOT match known_hosts (or is revoked). Someone may be ` +
        `intercepting the connection; if the host was reinstalled, replace its line in known_hosts.`,
    );
  }
  if (err.level === 'client-authentication') {
    return new PolitburoError(
      'AuthenticationFailed',
      `${label}: authentication failed: the server did not accept the configured SSH key`,
    );
  }
  const code = err.code ?? '';
  if (err.level === 'client-timeout' || /timed out/i.test(err.message)) {
    return new PolitburoError(
      'HostUnreachable',
      `${label}: no SSH answer within ${Math.round(timeoutMs / 100) / 10}s (connect timeout); check the address, port and firewall`,
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new PolitburoError(
      'HostUnreachable',
      `${label}: the host name could not be resolved (${code}); check the address`,
    );
  }
  if (code === 'ECONNREFUSED') {
    return new PolitburoError(
      'HostUnreachable',
      `${label}: connection refused; is sshd running and listening on that port?`,
    );
  }
  if (/private ?key|passphrase/i.test(err.message)) {
    return new PolitburoError('AuthenticationFailed', `${label}: the private key could not be used: ${err.message}`);
  }
  return new PolitburoError('HostUnreachable', `${label}: ${code ? code + ': ' : ''}${err.message}`);
}
