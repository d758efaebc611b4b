/**
 * Connection options as sent to the connection keeper (keeper-server.ts): everything that decides how a host is
 * reached and trusted, without the callbacks. Two processes share a kept connection only when these are equal.
 */
import type { HostConnectorOptions } from './connector-options.js';
import type { SshConfigSource } from './ssh-config.js';
import type { IncludedFile } from './ssh-include.js';

/** An ssh_config source as JSON carries it: its per-block Includes as entries rather than a Map. */
type WireSshConfig = Omit<SshConfigSource, 'blockIncludes'> & { blockIncludes?: [string, IncludedFile[]][] };

export interface WireOptions {
  privateKey?: { base64: string } | { text: string };
  passphrase?: string;
  knownHosts: string[];
  acceptNewHostKeysFile?: string;
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  maxSessionsPerHost?: number;
  agent?: string;
  sshConfig?: WireSshConfig[];
  defaultIdentityFiles?: string[];
  retries?: number;
  retryDelaysMs?: number[];
  localUser?: string;
  hostCertificates?: boolean;
}

export function optionsToWire(o: HostConnectorOptions): WireOptions {
  const { privateKey } = o;
  return {
    ...(privateKey === undefined
      ? {}
      : { privateKey: Buffer.isBuffer(privateKey) ? { base64: privateKey.toString('base64') } : { text: privateKey } }),
    passphrase: o.passphrase,
    knownHosts: o.knownHosts,
    acceptNewHostKeysFile: o.acceptNewHostKeysFile,
    connectTimeoutMs: o.connectTimeoutMs,
    keepaliveIntervalMs: o.keepaliveIntervalMs,
    maxSessionsPerHost: o.maxSessionsPerHost,
    agent: o.agent,
    sshConfig: o.sshConfig?.map(({ blockIncludes, ...source }) => ({
      ...source,
      ...(blockIncludes ? { blockIncludes: [...blockIncludes] } : {}),
    })),
    defaultIdentityFiles: o.defaultIdentityFiles,
    retries: o.retries,
    retryDelaysMs: o.retryDelaysMs,
    localUser: o.localUser,
    hostCertificates: o.hostCertificates,
  };
}

export function optionsFromWire(w: WireOptions): HostConnectorOptions {
  const { privateKey, sshConfig, ...rest } = w;
  return {
    ...rest,
    sshConfig: sshConfig?.map(({ blockIncludes, ...source }) => ({
      ...source,
      ...(blockIncludes ? { blockIncludes: new Map(blockIncludes) } : {}),
    })),
    ...(privateKey === undefined
      ? {}
      : { privateKey: 'base64' in privateKey ? Buffer.from(privateKey.base64, 'base64') : privateKey.text }),
  };
}
