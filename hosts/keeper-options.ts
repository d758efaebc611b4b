/**
 * Connection options as sent to the connection keeper (keeper-server.ts): everything that decides how a host is
 * reached and trusted, without the callbacks. Two processes share a kept connection only when these are equal.
 */
import type { HostConnectorOptions } from './connector-options.js';
import type { SshConfigSource } from './ssh-config.js';
import type { IncludedFile } from './ssh-include.js';

/** An ssh_config source as JSON carries it: its per-block Includes as entries rather than a Map. */
type WireSshConfig = Omit<SshConfigSource, 'blockIncludes'> & { blockIncludes?: [string, IncludedFile[]][] };

/** The options but the callbacks and `persist` (the keeper's own connector keeps nothing itself), as JSON. */
export type WireOptions = Omit<
  HostConnectorOptions,
  'privateKey' | 'sshConfig' | 'onRetry' | 'onWarning' | 'onConnection' | 'persist'
> & {
  privateKey?: { base64: string } | { text: string };
  sshConfig?: WireSshConfig[];
};

export function optionsToWire(o: HostConnectorOptions): WireOptions {
  const { privateKey, sshConfig, onRetry: _r, onWarning: _w, onConnection: _c, persist: _p, ...rest } = o;
  return {
    ...rest,
    ...(privateKey === undefined
      ? {}
      : { privateKey: Buffer.isBuffer(privateKey) ? { base64: privateKey.toString('base64') } : { text: privateKey } }),
    ...(sshConfig
      ? {
          sshConfig: sshConfig.map(({ blockIncludes, ...source }) => ({
            ...source,
            ...(blockIncludes ? { blockIncludes: [...blockIncludes] } : {}),
          })),
        }
      : {}),
  };
}

export function optionsFromWire(w: WireOptions): HostConnectorOptions {
  const { privateKey, sshConfig, ...rest } = w;
  return {
    ...rest,
    ...(privateKey === undefined
      ? {}
      : { privateKey: 'base64' in privateKey ? Buffer.from(privateKey.base64, 'base64') : privateKey.text }),
    ...(sshConfig
      ? {
          sshConfig: sshConfig.map(({ blockIncludes, ...source }) => ({
            ...source,
            ...(blockIncludes ? { blockIncludes: new Map(blockIncludes) } : {}),
          })),
        }
      : {}),
  };
}
