/**
 * The HostConnector Politburo runs with: SSH (ssh2) with host keys always verified against known_hosts before
 * authentication, one connection per host shared by every step, and the local machine for `local` hosts.
 */
import { appendFile } from 'node:fs/promises';
import { Client, type ConnectConfig } from 'ssh2';
import { PolitburoError, type HostConnection, type HostConnector } from '../kernel/types.js';
import { ensureRemoteDeps } from './deps-upload.js';
import type { ExecOptions } from '../kernel/exec-options.js';
import {
  fingerprint,
  keyTypeOf,
  knownKeyTypes,
  parseKnownHosts,
  verifyHostKey,
  type KnownHostEntry,
} from './known-hosts.js';
import { createLocalConnection } from './local-connection.js';
import { SshSession } from './ssh-session.js';

export interface HostConnectorOptions {
  privateKey?: string | Buffer;
  passphrase?: string;
  /** Contents of known_hosts files. */
  knownHosts: string[];
  /** Only when explicitly configured: unknown host keys are accepted and appended to this file (changed keys never are). */
  acceptNewHostKeysFile?: string;
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  /** Channels open at once per connection; sshd's MaxSessions defaults to 10. */
  maxSessionsPerHost?: number;
  /** An ssh-agent socket to authenticate with (instead of or besides privateKey). */
  agent?: string;
  /** Told about known_hosts lines that cannot be read (`known_hosts#N:LINE: why`); they are skipped. */
  onWarning?(message: string): void;
}

export type SshTarget = { kind: 'ssh'; address: string; port: number; user: string; hostKeyAlias?: string };
export type Target = { kind: 'local' } | SshTarget;

/** What Politburo's connector reports beyond the port's stats. */
export interface ConnectorStats {
  connections: Record<string, number>;
  /** Deps uploads by address (ensureDeps that had to send the directory). */
  depsUploads: Record<string, number>;
}

export interface PolitburoHostConnector extends HostConnector {
  stats(): ConnectorStats;
}

/** Creates a connector: at most one SSH connection per host (user@address:port), host keys verified first. */
export function createHostConnector(opts: HostConnectorOptions): PolitburoHostConnector {
  const entries: KnownHostEntry[] = opts.knownHosts.flatMap((content, i) => {
    const parsed = parseKnownHosts(content, `known_hosts#${i + 1}`);
    parsed.errors.forEach((e) => opts.onWarning?.(`skipping a known_hosts line: ${e}`));
    return parsed.entries;
  });
  const sessions = new Map<string, Promise<SshSession>>();
  const stats: ConnectorStats = { connections: {}, depsUploads: {} };
  const depsPromises = new Map<string, Promise<string>>();
  let local: HostConnection | null = null;
  let closed = false;

  const bump = (record: Record<string, number>, key: string) => (record[key] = (record[key] ?? 0) + 1);

  const sessionFor = (target: SshTarget): Promise<SshSession> => {
    const key = `${target.user}@${target.address}:${target.port}`;
    let p = sessions.get(key);
    if (!p) {
      bump(stats.connections, target.address);
      p = openSession(target, opts, entries);
      sessions.set(key, p);
      p.then(
        (s) => s.onClose(() => sessions.get(key) === p && sessions.delete(key)),
        () => sessions.get(key) === p && sessions.delete(key), // a later connect may try again
      );
    }
    return p;
  };

  const handle = (session: SshSession, target: SshTarget): HostConnection => {
    const depsKey = (hash: string) => `${target.user}@${target.address}:${target.port}#${hash}`;
    return {
      address: target.address,
      exec: (command: string, execOpts?: ExecOptions) => session.exec(command, execOpts),
      ensureDeps: (localDir: string, hash: string) => {
        let p = depsPromises.get(depsKey(hash));
        if (!p) {
          const exec = (c: string, o?: ExecOptions) => session.exec(c, o);
          p = ensureRemoteDeps(exec, target.address, localDir, hash, () => bump(stats.depsUploads, target.address));
          depsPromises.set(depsKey(hash), p);
          p.catch(() => depsPromises.delete(depsKey(hash)));
        }
        return p;
      },
      // The connection is shared by every step of the run: it closes with the connector.
      close: async () => undefined,
    };
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
      return handle(await sessionFor(target), target);
    },
    stats: () => ({ connections: { ...stats.connections }, depsUploads: { ...stats.depsUploads } }),
    async close() {
      closed = true;
      const all = [...sessions.values()];
      sessions.clear();
      await Promise.all(
        all.map((p) =>
          p.then(
            (s) => s.end(),
            () => undefined,
          ),
        ),
      );
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

/** Host key algorithms with the ones known_hosts has for this host first, as OpenSSH orders them. */
function hostKeyAlgorithms(known: string[]): string[] {
  const preferred = known.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]));
  const first = preferred.filter((a) => DEFAULT_HOST_KEY_ALGORITHMS.includes(a));
  return [...new Set([...first, ...DEFAULT_HOST_KEY_ALGORITHMS])];
}

type Verdict = {
  result: 'ok' | 'unknown' | 'mismatch' | 'accepted';
  keyType: string;
  fingerprint: string;
  line: string;
} | null;

interface KeyLookup {
  host: string;
  port: number;
}

/**
 * The hostVerifier: runs during key exchange, before any authentication, so nothing is sent to a host whose key is
 * unknown or changed. Records its verdict for the error message.
 */
function makeHostVerifier(
  entries: KnownHostEntry[],
  lookup: KeyLookup,
  acceptNewFile: string | undefined,
  setVerdict: (v: Verdict) => void,
) {
  return (key: Buffer, done: (ok: boolean) => void): void => {
    const keyType = keyTypeOf(key) ?? 'unknown-type';
    const result = verifyHostKey(entries, lookup.host, lookup.port, keyType, key);
    const line = `${lookup.port === 22 ? lookup.host : `[${lookup.host}]:${lookup.port}`} ${keyType} ${key.toString('base64')}`;
    setVerdict({ result, keyType, fingerprint: fingerprint(key), line });
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

function openSession(target: SshTarget, opts: HostConnectorOptions, entries: KnownHostEntry[]): Promise<SshSession> {
  const label = `${target.user}@${target.address}:${target.port}`;
  const lookup = target.hostKeyAlias
    ? { host: target.hostKeyAlias, port: 22 }
    : { host: target.address, port: target.port };
  const timeoutMs = opts.connectTimeoutMs ?? 15_000;
  let verdict: Verdict = null;
  const config: ConnectConfig = {
    host: target.address,
    port: target.port,
    username: target.user,
    privateKey: opts.privateKey,
    passphrase: opts.passphrase,
    agent: opts.agent,
    readyTimeout: timeoutMs,
    keepaliveInterval: opts.keepaliveIntervalMs ?? 15_000,
    keepaliveCountMax: 3,
    hostVerifier: makeHostVerifier(
      entries,
      lookup,
      opts.acceptNewHostKeysFile,
      (v) => (verdict = v),
    ) as ConnectConfig['hostVerifier'],
    algorithms: { serverHostKey: hostKeyAlgorithms(knownKeyTypes(entries, lookup.host, lookup.port)) as never },
  };

  return new Promise((resolve, reject) => {
    const client = new Client();
    let settled = false;
    client.once('ready', () => {
      settled = true;
      resolve(new SshSession(client, label, opts.maxSessionsPerHost ?? 10));
    });
    client.on('error', (err: Error & { level?: string; code?: string }) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(connectError(err, label, verdict, timeoutMs));
    });
    client.once('close', () => {
      if (settled) return;
      settled = true;
      reject(connectError(new Error('the server closed the connection'), label, verdict, timeoutMs));
    });
    try {
      client.connect(config);
    } catch (err) {
      settled = true;
      reject(
        new PolitburoError(
          'AuthenticationFailed',
          `${label}: the private key could not be used: ${(err as Error).message}`,
        ),
      );
    }
  });
}

/** Turns an ssh2 connect error into a PolitburoError whose message says what to do. */
export function connectError(
  err: Error & { level?: string; code?: string },
  label: string,
  verdict: Verdict,
  timeoutMs: number,
): PolitburoError {
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
