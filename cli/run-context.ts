/**
 * Shared setup of CLI commands that reach hosts (apply, drift, plan --live): the description, the state store, the
 * SSH connector with the environment's known_hosts, secrets, live progress and Ctrl-C. The composition root of a run.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { formatValidationError, loadDescription } from '../schema/load-description.js';
import { createHostConnector, type HostConnectorOptions } from '../hosts/ssh-connector.js';
import { readRepositoryKnownHosts } from '../hosts/known-hosts.js';
import { openStore, type OpenedStore } from '../store/open-store.js';
import { createLineProgress } from '../render/progress/line-progress.js';
import { createTtyProgress } from '../render/progress/tty-progress.js';
import type { EngineInput } from '../reconciler/run-engine.js';
import type { Description, HostConnector, ResolvedEnvironment, RunEvent } from '../kernel/types.js';
import { EXIT_ERROR, headCommit, readCliEnv, repositoryId, type CommonOptions } from './common.js';
import { stderrLog } from './commands/migrate.js';
import { didYouMean } from '../kernel/did-you-mean.js';

/** A usage or setup problem: printed as is, with its exit code. */
export class CliExit extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

export interface RunContext {
  /** Everything an engine entry point needs, but the target and options of the command. */
  input: EngineInput;
  description: Description;
  close(): Promise<void>;
  /** Stops live progress (call before printing the result). */
  stopProgress(): void;
}

/** The environment `name` of a description, or an error naming the known ones (with a "did you mean"). */
export function selectEnvironment(description: Description, name: string): ResolvedEnvironment {
  const env = description.environments.get(name);
  if (env) return env;
  const known = [...description.environments.keys()];
  const list = known.length ? `known environments: ${known.join(', ')}` : 'the description defines no environments';
  throw new Error(`unknown environment '${name}'${didYouMean(name, known)}; ${list}`);
}

/** Loads the description, opens the store and the connector, wires progress and Ctrl-C. Throws CliExit on problems. */
export async function openRunContext(opts: CommonOptions, environment: string, command: string): Promise<RunContext> {
  const cliEnv = readCliEnv();
  const loaded = await loadDescription({ dir: opts.dir, file: opts.file ?? cliEnv.file });
  if (!loaded.ok) {
    throw new CliExit(
      EXIT_ERROR,
      `the description is invalid:\n${loaded.errors.map(formatValidationError).join('\n')}`,
    );
  }
  const description = loaded.description;
  let env: ResolvedEnvironment;
  try {
    env = selectEnvironment(description, environment);
  } catch (err) {
    throw new CliExit(EXIT_ERROR, (err as Error).message);
  }
  const connectorOptions = await connectorOptionsFor(opts, cliEnv, description.root, env.knownHosts);
  const opened: OpenedStore = await openStore({ databaseUrl: opts.databaseUrl ?? cliEnv.databaseUrl, log: stderrLog });
  const connector: HostConnector = createHostConnector(connectorOptions);
  const abort = new AbortController();
  const progress = progressFor(`${command} ${environment}`, !!opts.json);
  const onSigint = () => {
    if (abort.signal.aborted) process.exit(130); // a second Ctrl-C: leave now
    process.stderr.write(
      `\npolitburo: interrupted: starting nothing new; running tasks get 10s to finish (Ctrl-C again to quit now)\n`,
    );
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  const input: EngineInput = {
    description,
    environment,
    repository: repositoryId(opts.dir),
    commit: headCommit(opts.dir),
    store: opened.store,
    connector,
    secrets: { ...cliEnv.secrets },
    signal: abort.signal,
    onEvent: progress.onEvent,
    trigger: `cli:${command}`,
    log: (line) => process.stderr.write(`politburo: ${line}\n`),
    connectorWithKnownHosts: (lines) =>
      createHostConnector({
        ...connectorOptions,
        knownHosts: [...connectorOptions.knownHosts, lines.join('\n') + '\n'],
      }),
  };
  return {
    input,
    description,
    stopProgress: progress.stop,
    async close() {
      process.off('SIGINT', onSigint);
      progress.stop();
      await connector.close().catch(() => undefined);
      await opened.close();
    },
  };
}

async function connectorOptionsFor(
  opts: CommonOptions,
  cliEnv: ReturnType<typeof readCliEnv>,
  root: string,
  envKnownHosts: string | undefined,
): Promise<HostConnectorOptions & { knownHosts: string[] }> {
  const knownHosts: string[] = [];
  if (envKnownHosts) {
    // Only from inside the repository, symlinks resolved (validation refuses the rest already).
    const content = await readRepositoryKnownHosts(root, envKnownHosts).catch((err: Error) => {
      throw new CliExit(EXIT_ERROR, `cannot read the environment's known_hosts file: ${err.message}`);
    });
    knownHosts.push(content);
  }
  if (opts.knownHosts) knownHosts.push(await readOrExit(path.resolve(opts.knownHosts), '--known-hosts'));
  const keyPath = opts.sshKey ?? cliEnv.sshKey;
  const privateKey = keyPath
    ? await readOrExit(path.resolve(keyPath), opts.sshKey ? '--ssh-key' : 'POLITBURO_SSH_KEY')
    : undefined;
  return { privateKey, passphrase: cliEnv.sshKeyPassphrase, knownHosts };
}

async function readOrExit(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new CliExit(
      EXIT_ERROR,
      `cannot read ${what} (${file}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/** Live redrawn progress on an interactive stderr, one line per event otherwise; nothing extra on stdout. */
function progressFor(title: string, json: boolean): { onEvent(e: RunEvent): void; stop(): void } {
  if (process.stderr.isTTY) {
    const tty = createTtyProgress(process.stderr, { title });
    let stopped = false;
    return { onEvent: tty.onEvent, stop: () => (stopped ? undefined : ((stopped = true), tty.stop())) };
  }
  if (json) return { onEvent: () => undefined, stop: () => undefined };
  const line = createLineProgress((l) => process.stderr.write(`${l}\n`));
  return { onEvent: line, stop: () => undefined };
}
