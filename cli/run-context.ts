/**
 * Shared setup of CLI commands that reach hosts (apply, drift, plan --live): the description, the state store, the
 * SSH connector with the environment's known_hosts, secrets, live progress and Ctrl-C. The composition root of a run.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadDescription } from '../schema/load-description.js';
import { createHostConnector, type HostConnectorOptions } from '../hosts/ssh-connector.js';
import { readRepositoryKnownHosts } from '../hosts/known-hosts.js';
import { operatorSshOptions, repositorySshConfig } from '../hosts/operator-ssh.js';
import { defaultKeeperDir, persistOption } from '../hosts/keeper-socket.js';
import { openStore, type OpenedStore } from '../store/open-store.js';
import { createLineProgress } from '../render/progress/line-progress.js';
import { createTtyProgress } from '../render/progress/tty-progress.js';
import type { EngineInput } from '../reconciler/run-engine.js';
import type { Description, HostConnector, ResolvedEnvironment, RunEvent } from '../kernel/types.js';
import {
  CliExit,
  EXIT_ERROR,
  headCommit,
  invalidDescription,
  readCliEnv,
  repositoryId,
  selectEnvironment,
  sshPersist,
  sshRetries,
  useColour,
  type CommonOptions,
} from './common.js';
import { stderrLog } from './commands/migrate.js';
import { renderValidationErrors } from './render/validation-errors.js';

export interface RunContext {
  /** Everything an engine entry point needs, but the target and options of the command. */
  input: EngineInput;
  description: Description;
  close(): Promise<void>;
  /** Stops live progress (call before printing the result). */
  stopProgress(): void;
}

/** Loads the description, opens the store and the connector, wires progress and Ctrl-C. Throws CliExit on problems. */
export async function openRunContext(opts: CommonOptions, environment: string, command: string): Promise<RunContext> {
  const cliEnv = readCliEnv();
  const loaded = await loadDescription({ dir: opts.dir, file: opts.file ?? cliEnv.file });
  if (!loaded.ok) {
    process.stderr.write(renderValidationErrors(loaded.errors));
    throw invalidDescription(loaded.errors);
  }
  const description = loaded.description;
  const env: ResolvedEnvironment = selectEnvironment(description, environment);
  const connectorOptions = await connectorOptionsFor(opts, cliEnv, description.root, env);
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
  env: ResolvedEnvironment,
): Promise<HostConnectorOptions & { knownHosts: string[] }> {
  const envKnownHosts = env.knownHosts;
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
  // ssh_config: the environment's file first (its values win), then --ssh-config or ~/.ssh/config; SSH_AUTH_SOCK's
  // agent.
  const operator = await operatorSshOptions({
    configFile: opts.sshConfig ? { path: opts.sshConfig, what: '--ssh-config' } : undefined,
    agentSocket: cliEnv.sshAuthSock,
  }).catch((err: Error) => {
    throw new CliExit(EXIT_ERROR, err.message);
  });
  if (env.sshConfig) {
    const own = await repositorySshConfig(root, env.sshConfig).catch((err: Error) => {
      throw new CliExit(EXIT_ERROR, `cannot read the environment's ssh_config file: ${err.message}`);
    });
    operator.sshConfig.unshift(own);
  }
  const log = (line: string): void => void process.stderr.write(`politburo: ${line}\n`);
  const retries = sshRetries(opts.sshRetries);
  const persistMs =
    opts.sshPersist !== undefined
      ? sshPersist(opts.sshPersist)
      : sshPersist(cliEnv.sshPersist, 'POLITBURO_SSH_PERSIST');
  return {
    persist: persistOption(persistMs, cliEnv.sshPersistDir ?? defaultKeeperDir()),
    privateKey,
    passphrase: cliEnv.sshKeyPassphrase,
    ...(retries !== undefined ? { retries } : {}),
    knownHosts,
    ...operator,
    onWarning: log,
    onRetry: (r) =>
      log(`${r.host}: ${r.error.message}; trying again in ${r.delayMs / 1000}s (attempt ${r.attempt + 1})`),
  };
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

/**
 * Live redrawn progress on an interactive stderr (coloured unless NO_COLOR is set), one line per event otherwise;
 * nothing extra on stdout.
 */
export function progressFor(
  title: string,
  json: boolean,
  stream: NodeJS.WriteStream = process.stderr,
  env: NodeJS.ProcessEnv = process.env,
): { onEvent(e: RunEvent): void; stop(): void } {
  if (stream.isTTY) {
    const tty = createTtyProgress(stream, { title, colour: useColour(stream, env) });
    let stopped = false;
    return { onEvent: tty.onEvent, stop: () => (stopped ? undefined : ((stopped = true), tty.stop())) };
  }
  if (json) return { onEvent: () => undefined, stop: () => undefined };
  const line = createLineProgress((l) => stream.write(`${l}\n`));
  return { onEvent: line, stop: () => undefined };
}
