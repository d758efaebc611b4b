/**
 * The host connector of a run: the controller's SSH key, and host keys from the environment's known_hosts file in the
 * repository plus the controller's own (POLITBURO_KNOWN_HOSTS). Host keys are always verified.
 */
import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { createHostConnector, type HostConnectorOptions } from '../../reconciler/hosts/ssh-connector.js';
import type { HostConnector, ResolvedEnvironment } from '../../reconciler/types.js';
import type { JobDeps } from './job-deps.js';

/** Builds the options and the connector for one environment of a checked-out commit. */
export async function connectorFor(deps: JobDeps, checkoutDir: string, env: ResolvedEnvironment): Promise<{ connector: HostConnector; options: HostConnectorOptions }> {
  const knownHosts: string[] = [];
  if (env.knownHosts) knownHosts.push(await readInside(checkoutDir, env.knownHosts));
  if (deps.config.ssh.knownHosts) knownHosts.push(await readConfigured(deps.config.ssh.knownHosts));
  const options: HostConnectorOptions = {
    knownHosts,
    privateKey: deps.config.ssh.keyPath ? await readFile(deps.config.ssh.keyPath) : undefined,
    passphrase: deps.config.ssh.passphrase,
  };
  const make = deps.connector ?? createHostConnector;
  return { connector: make(options), options };
}

/** A file named by the repository, read only if it (symlinks resolved) stays inside the checkout; else nothing. */
async function readInside(checkoutDir: string, name: string): Promise<string> {
  try {
    const root = await realpath(checkoutDir);
    const file = await realpath(path.resolve(root, name));
    return file.startsWith(root + path.sep) ? await readFile(file, 'utf8') : '';
  } catch {
    return '';
  }
}

/** POLITBURO_KNOWN_HOSTS is a file path, or the known_hosts lines themselves. */
async function readConfigured(value: string): Promise<string> {
  if (value.includes('\n') || /^\S+\s+(ssh-|ecdsa-)/.test(value)) return value;
  return readFile(value, 'utf8');
}
