/** Options and helpers shared by every CLI command. */
import { execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
/** validate: invalid; plan/drift: changes or drift found. */
export const EXIT_CHANGES = 2;
export const EXIT_USAGE = 64;

export interface CommonOptions {
  dir: string;
  file?: string;
  databaseUrl?: string;
  sshKey?: string;
  knownHosts?: string;
  json?: boolean;
}

/** The CLI's view of the environment, read once. */
export interface CliEnv {
  databaseUrl?: string;
  file?: string;
  sshKey?: string;
  sshKeyPassphrase?: string;
  /** POLITBURO_SECRET_<NAME> values by upper-case NAME. */
  secrets: Readonly<Record<string, string>>;
}

/** Reads the variables the CLI honours. Nothing else in the CLI reads process.env. */
export function readCliEnv(env: NodeJS.ProcessEnv = process.env): CliEnv {
  const secrets: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith('POLITBURO_SECRET_') && value !== undefined)
      secrets[key.slice('POLITBURO_SECRET_'.length)] = value;
  }
  return Object.freeze({
    databaseUrl: env.DATABASE_URL || undefined,
    file: env.POLITBURO_FILE || undefined,
    sshKey: env.POLITBURO_SSH_KEY || undefined,
    sshKeyPassphrase: env.POLITBURO_SSH_KEY_PASSPHRASE || undefined,
    secrets: Object.freeze(secrets),
  });
}

/** Adds --dir, --file, --database-url, --ssh-key, --known-hosts. */
export function addCommonOptions(cmd: Command): Command {
  return cmd
    .option('--dir <path>', 'the repository checkout', '.')
    .option('--file <path>', 'the description file (default politburo.yml, or POLITBURO_FILE)')
    .option('--database-url <url>', 'PostgreSQL URL (default DATABASE_URL; with neither, an embedded PostgreSQL)')
    .option('--ssh-key <path>', 'private key for SSH (default POLITBURO_SSH_KEY)')
    .option('--known-hosts <path>', "known_hosts file, in addition to the environment's own");
}

/**
 * The identity of a repository in the state store: its `origin` remote URL when it has one, else its absolute path.
 * The same checkout planned from a laptop and applied by the controller then shares its recorded state.
 */
export function repositoryId(dir: string): string {
  const abs = realpathSync(path.resolve(dir));
  try {
    const url = execFileSync('git', ['-C', abs, 'remote', 'get-url', 'origin'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (url) return url;
  } catch {
    // not a git checkout, or no origin: the path identifies it
  }
  return abs;
}

/** The commit checked out in dir, or null outside git. */
export function headCommit(dir: string): string | null {
  try {
    return (
      execFileSync('git', ['-C', dir, 'rev-parse', 'HEAD'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim() || null
    );
  } catch {
    return null;
  }
}
