/** Options and helpers shared by every CLI command. */
import { execFileSync } from 'node:child_process';
import { parsePersist } from '../hosts/keeper-socket.js';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { unknownEnvironmentMessage } from '../kernel/did-you-mean.js';
import type { Description, ResolvedEnvironment, ValidationError } from '../kernel/types.js';

export const EXIT_OK = 0;
/** An error; also `plan --detailed-exitcode` and `drift` when something could not be checked. */
export const EXIT_ERROR = 1;
/** validate: invalid; plan --detailed-exitcode: changes (or drift with --live); drift: drift found. */
export const EXIT_CHANGES = 2;
export const EXIT_USAGE = 64;

/** --dir and --file: where the description is. */
export interface DescriptionOptions {
  dir: string;
  file?: string;
}

/** --database-url: the state store. */
export interface StoreOptions {
  databaseUrl?: string;
}

/** --ssh-key, --known-hosts, --ssh-config, --ssh-retries and --ssh-persist: how hosts are reached. */
export interface HostOptions {
  sshKey?: string;
  knownHosts?: string;
  sshConfig?: string;
  sshRetries?: string;
  sshPersist?: string;
}

export interface JsonOption {
  json?: boolean;
}

/** Everything a command that reaches hosts takes (apply, drift, plan --live). */
export type CommonOptions = DescriptionOptions & StoreOptions & HostOptions & JsonOption;

/**
 * A problem that ends a command: printed as `politburo: message` on stderr (and as the `{"error": …}` document with
 * --json), then the process exits with exitCode. `code` names the kind for tools reading the JSON.
 */
export class CliExit extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
    readonly code: string = exitCode === EXIT_USAGE ? 'usage' : 'error',
    readonly details: Record<string, unknown> = {},
    /** The message (or more) is on stderr already. */
    readonly reported = false,
  ) {
    super(message);
  }
}

/** The error thrown for an environment no description (or recorded state) knows: exit 1 in every command. */
export function unknownEnvironment(name: string, known: Iterable<string>): CliExit {
  return new CliExit(EXIT_ERROR, unknownEnvironmentMessage(name, known), 'unknown-environment');
}

/** The environment `name` of a description, or the unknown-environment error (with a "did you mean"). */
export function selectEnvironment(description: Description, name: string): ResolvedEnvironment {
  const env = description.environments.get(name);
  if (env) return env;
  throw unknownEnvironment(name, description.environments.keys());
}

/** The error for an invalid description; with --json its errors are listed in the document. */
/** The error for an invalid description, once its errors are on stderr; with --json they are in the document too. */
export function invalidDescription(errors: ValidationError[]): CliExit {
  return new CliExit(
    EXIT_ERROR,
    'the description is invalid',
    'invalid-description',
    { errors: errors.map(validationErrorJson) },
    true,
  );
}

export function validationErrorJson(e: ValidationError): Record<string, unknown> {
  return { file: e.file, line: e.line, column: e.column, message: e.message };
}

/** Whether this process has printed its JSON document (each run of the CLI prints at most one). */
let jsonPrinted = false;

/** Prints the command's one JSON document on stdout (compact when indent is 0). */
export function printJson(doc: unknown, indent = 2): void {
  jsonPrinted = true;
  process.stdout.write(`${JSON.stringify(doc, null, indent)}\n`);
}

/** Forgets a printed document: for running several commands in one process (tests). */
export function resetJsonPrinted(): void {
  jsonPrinted = false;
}

/**
 * Reports a problem that ends the command: `politburo: message` on stderr and, with --json, the error document on
 * stdout unless the command already printed its document. Returns the exit code.
 */
export function reportError(err: unknown, json: boolean): number {
  const problem =
    err instanceof CliExit ? err : new CliExit(EXIT_ERROR, err instanceof Error ? err.message : String(err), 'error');
  if (!problem.reported) process.stderr.write(`politburo: ${problem.message}\n`);
  if (json && !jsonPrinted) {
    printJson({
      error: { code: problem.code, message: problem.message, exitCode: problem.exitCode, ...problem.details },
    });
  }
  return problem.exitCode;
}

/**
 * Whether to colour terminal output: never when NO_COLOR is set to anything non-empty (https://no-color.org, as
 * docs/cli.md says), else when the stream is a terminal.
 */
export function useColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  return !!stream.isTTY;
}

/** The CLI's view of the environment, read once. */
export interface CliEnv {
  databaseUrl?: string;
  file?: string;
  sshKey?: string;
  sshKeyPassphrase?: string;
  /** SSH_AUTH_SOCK: the ssh-agent whose keys are offered. */
  sshAuthSock?: string;
  /** POLITBURO_SSH_PERSIST: how long connections are kept for the next run (as --ssh-persist). */
  sshPersist?: string;
  /** POLITBURO_SSH_PERSIST_DIR: where the connection keeper listens (default: keeper-socket.ts defaultKeeperDir). */
  sshPersistDir?: string;
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
    sshAuthSock: env.SSH_AUTH_SOCK || undefined,
    sshPersist: env.POLITBURO_SSH_PERSIST || undefined,
    sshPersistDir: env.POLITBURO_SSH_PERSIST_DIR || undefined,
    secrets: Object.freeze(secrets),
  });
}

/** Adds --dir and --file. */
export function addDescriptionOptions(cmd: Command): Command {
  return cmd
    .option('--dir <path>', 'the repository checkout', '.')
    .option('--file <path>', 'the description file (default politburo.yml, or POLITBURO_FILE)');
}

/** Adds --database-url. */
export function addStoreOption(cmd: Command): Command {
  return cmd.option(
    '--database-url <url>',
    'PostgreSQL URL (default DATABASE_URL; with neither, an embedded PostgreSQL)',
  );
}

/** Adds --ssh-key, --known-hosts, --ssh-config, --ssh-retries and --ssh-persist. */
export function addHostOptions(cmd: Command): Command {
  return cmd
    .option('--ssh-key <path>', 'private key for SSH (default POLITBURO_SSH_KEY; the ssh-agent of SSH_AUTH_SOCK too)')
    .option('--known-hosts <path>', "known_hosts file, in addition to the environment's own")
    .option('--ssh-config <path>', 'OpenSSH client configuration to use instead of ~/.ssh/config')
    .option(
      '--ssh-retries <n>',
      "retries of a connection refused or reset, per host (default: ssh_config's ConnectionAttempts - 1, else 3)",
    )
    .option(
      '--ssh-persist <time>',
      "keep the connections open for the next run this long once unused, as OpenSSH's ControlPersist ('10m'; 'yes': until `politburo connections --close`; default POLITBURO_SSH_PERSIST, else off)",
    );
}

/**
 * --ssh-persist (else POLITBURO_SSH_PERSIST) as milliseconds, null for `yes` (until closed), false for `no` or `0`,
 * undefined when not given (ssh_config's ControlPersist decides); a usage error saying what is wrong otherwise.
 */
export function sshPersist(value: string | undefined, what = '--ssh-persist'): number | null | false | undefined {
  try {
    return parsePersist(value);
  } catch (err) {
    throw new CliExit(EXIT_USAGE, `${what}: ${(err as Error).message}`);
  }
}

/** --ssh-retries as a count, or a usage error saying what is wrong with it. */
export function sshRetries(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || Number(value) > 100)
    throw new CliExit(EXIT_USAGE, `--ssh-retries: '${value}' is not a number of retries (0-100)`);
  return Number(value);
}

/** Adds --json. */
export function addJsonOption(cmd: Command): Command {
  return cmd.option('--json', 'print exactly one JSON document on stdout, errors included');
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
