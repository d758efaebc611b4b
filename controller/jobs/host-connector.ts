/**
 * The host connector of a run: the controller's SSH key, and host keys from the environment's known_hosts file in the
 * repository plus the controller's own (POLITBURO_KNOWN_HOSTS). Host keys are always verified.
 */
import { readFile } from 'node:fs/promises';
import { readRepositoryKnownHosts } from '../../hosts/known-hosts.js';
import { operatorSshOptions, repositorySshConfig } from '../../hosts/operator-ssh.js';
import type { HostConnectorOptions } from '../../hosts/ssh-connector.js';
import type { HostConnector, ResolvedEnvironment } from '../../kernel/types.js';
import type { JobDeps } from './job-deps.js';

/** Builds the options and, with the connector factory the composition root chose, the connector of one environment. */
export async function connectorFor(
  deps: Pick<JobDeps, 'config' | 'logger' | 'connector'>,
  checkoutDir: string,
  env: ResolvedEnvironment,
): Promise<{ connector: HostConnector; options: HostConnectorOptions }> {
  const knownHosts: string[] = [];
  // Only from inside the checkout, symlinks resolved; validation refuses anything else before a job gets here.
  if (env.knownHosts) knownHosts.push(await readRepositoryKnownHosts(checkoutDir, env.knownHosts).catch(() => ''));
  if (deps.config.ssh.knownHosts) knownHosts.push(await readConfigured(deps.config.ssh.knownHosts));
  // ssh_config: the environment's file first (its values win), then POLITBURO_SSH_CONFIG or ~/.ssh/config; the agent
  // of SSH_AUTH_SOCK (docs/configuration.md).
  const { configFile, agentSocket } = deps.config.ssh;
  const operator = await operatorSshOptions({
    configFile: configFile ? { path: configFile, what: 'POLITBURO_SSH_CONFIG' } : undefined,
    agentSocket,
  });
  if (env.sshConfig) operator.sshConfig.unshift(await repositorySshConfig(checkoutDir, env.sshConfig));
  const options: HostConnectorOptions = {
    knownHosts,
    privateKey: deps.config.ssh.keyPath ? await readFile(deps.config.ssh.keyPath) : undefined,
    passphrase: deps.config.ssh.passphrase,
    // Connections kept between jobs by the connection keeper (POLITBURO_SSH_PERSIST, docs/configuration.md).
    persist: deps.config.ssh.persist,
    ...operator,
    onWarning: (message) => deps.logger.warn({ environment: env.name }, message),
    onRetry: (r) =>
      deps.logger.warn(
        { environment: env.name, host: r.host, attempt: r.attempt, delayMs: r.delayMs },
        `SSH connect failed, trying again: ${r.error.message}`,
      ),
  };
  return { connector: deps.connector(options), options };
}

/** POLITBURO_KNOWN_HOSTS is a file path, or the known_hosts lines themselves. */
async function readConfigured(value: string): Promise<string> {
  if (value.includes('\n') || /^\S+\s+(ssh-|ecdsa-)/.test(value)) return value;
  return readFile(value, 'utf8');
}
