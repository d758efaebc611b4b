/**
 * The SSH settings of whoever runs Politburo, as OpenSSH would use them: their ssh_config (`~/.ssh/config`, or the
 * file given instead: `--ssh-config`, POLITBURO_SSH_CONFIG), their ssh-agent (SSH_AUTH_SOCK) and their default key
 * files (~/.ssh/id_ed25519, id_ecdsa, id_rsa). See docs/cli.md and docs/configuration.md.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PolitburoError } from '../kernel/types.js';
import type { HostConnectorOptions } from './ssh-connector.js';
import type { SshConfigSource } from './ssh-config.js';
import { expandIncludes } from './ssh-include.js';

const read = (file: string) => readFile(file, 'utf8');
import { readRepositoryFile } from './known-hosts.js';

export interface OperatorSsh {
  /** An ssh_config file instead of ~/.ssh/config (as `ssh -F`), and what named it, for messages. */
  configFile?: { path: string; what: string };
  /** SSH_AUTH_SOCK. */
  agentSocket?: string;
  home?: string;
}

/** Connector options from the operator's SSH setup. A named config file that cannot be read is an error. */
export async function operatorSshOptions(
  o: OperatorSsh,
): Promise<Pick<HostConnectorOptions, 'agent' | 'defaultIdentityFiles'> & { sshConfig: SshConfigSource[] }> {
  const home = o.home ?? os.homedir();
  const sshConfig: SshConfigSource[] = [];
  if (o.configFile) {
    const file = path.resolve(o.configFile.path);
    const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new PolitburoError(
        'InvalidSpec',
        `cannot read ${o.configFile!.what} (${file}): ${err.code ?? err.message}`,
      );
    });
    sshConfig.push({ ...(await expandIncludes(text, o.configFile.path, read, home)), where: o.configFile.path });
  } else {
    const file = path.join(home, '.ssh', 'config');
    const text = await readFile(file, 'utf8').catch(() => null);
    if (text !== null)
      sshConfig.push({ ...(await expandIncludes(text, '~/.ssh/config', read, home)), where: '~/.ssh/config' });
  }
  return {
    sshConfig,
    agent: o.agentSocket || undefined,
    defaultIdentityFiles: ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => path.join(home, '.ssh', f)),
  };
}

/**
 * The environment's `ssh_config` file (a path inside the repository, checked like every repository path): read
 * before the operator's, so its values win; its IdentityFile lines are ignored, its ProxyCommand never run and its
 * Include never followed (docs/language.md, "ssh_config"; docs/cli.md, "SSH configuration").
 */
export async function repositorySshConfig(root: string, name: string): Promise<SshConfigSource> {
  return { text: await readRepositoryFile(root, name, 'ssh_config file'), where: name, fromRepository: true };
}
