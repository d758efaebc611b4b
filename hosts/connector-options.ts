/**
 * What a host connector (ssh-connector.ts) is created with, and the hosts it is asked for: apart, so that the
 * connection keeper's modules (keeper-client.ts, keeper-options.ts) can name them without depending on the connector.
 */
import type { PolitburoError } from '../kernel/types.js';
import type { SshConfigSource } from './ssh-config.js';

export interface HostConnectorOptions {
  privateKey?: string | Buffer;
  passphrase?: string;
  /** Contents of known_hosts files. */
  knownHosts: string[];
  /**
   * Only when explicitly configured: unknown host keys are accepted and appended to this file (changed keys never are).
   */
  acceptNewHostKeysFile?: string;
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  /** Channels open at once per connection; sshd's MaxSessions defaults to 10. */
  maxSessionsPerHost?: number;
  /** An ssh-agent socket (SSH_AUTH_SOCK) whose keys are offered (after privateKey, before identity files). */
  agent?: string;
  /** ssh_config files, first one first: HostName, User, Port, IdentityFile, ProxyJump... (hosts/ssh-config.ts). */
  sshConfig?: SshConfigSource[];
  /**
   * Key files tried when neither privateKey nor an IdentityFile is configured (OpenSSH's ~/.ssh/id_*); missing ones are
   * skipped.
   */
  defaultIdentityFiles?: string[];
  /**
   * How many times a transient failure (refused, reset) is retried, per host: `--ssh-retries`. Wins over ssh_config's
   * ConnectionAttempts (attempts in all, so one more), as options on ssh's command line do; default 3. Waits 0.5 s
   * before the first retry, doubled each time up to 8 s.
   */
  retries?: number;
  /** The waits before each retry, when given: they say how many retries there are too ([] never retries). */
  retryDelaysMs?: number[];
  /** Told before each retry (and awaited): for logs. */
  onRetry?(info: { host: string; attempt: number; delayMs: number; error: PolitburoError }): void | Promise<void>;
  /** The user when neither the description nor ssh_config names one (default: the local user, as OpenSSH). */
  localUser?: string;
  /** Told about known_hosts lines that cannot be read (`known_hosts#N:LINE: why`); they are skipped. */
  onWarning?(message: string): void;
  /**
   * `false`: host certificates are not negotiated, as where this installation's ssh2 cannot (HOST_CERTIFICATES_SUPPORTED
   * false: an installed npm package of Politburo, whose ssh2 is not patched). Tests use it to see that case here; `true`
   * or unset leaves it to HOST_CERTIFICATES_SUPPORTED.
   */
  hostCertificates?: boolean;
  /**
   * Connections kept between runs (docs/cli.md, "Connections kept between runs"): hosts are reached through the
   * connection keeper listening in `dir` (keeper-server.ts, started when none answers), which keeps each connection open
   * once no process uses it: for `ms` (null: until `politburo connections --close`) for every host, or, without `ms`,
   * for the hosts whose ssh_config says ControlMaster and ControlPersist, for their ControlPersist. Unset: nothing is
   * kept (`--ssh-persist no`).
   */
  persist?: { dir: string; ms?: number | null };
  /** Told of every SSH connection opened, by the host's name as given (the keeper's, to say which caller opened it). */
  onConnection?(name: string): void;
}

export type SshTarget = {
  kind: 'ssh';
  address: string;
  /** Default: ssh_config's Port, else 22. */
  port?: number;
  /** Default: ssh_config's User, else the local user. */
  user?: string;
  hostKeyAlias?: string;
  /** Jump hosts (`[user@]host[:port]`), outermost first; when set, ssh_config's ProxyJump is not used. */
  jump?: string[];
};
export type Target = { kind: 'local' } | SshTarget;
