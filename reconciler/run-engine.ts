/**
 * What every run against hosts shares (apply, drift, live plan): its inputs, the hosts of its nodes, the deps
 * directory shipped once per host, and the per-node result being built.
 */
import path from 'node:path';
import { hashDepsDir } from '../kernel/deps-hash.js';
import { unknownEnvironmentMessage } from '../kernel/did-you-mean.js';
import type { LeaseSettings } from './run-lock.js';
import type { Target } from './target.js';
import {
  PolitburoError,
  type Description,
  type HostConnection,
  type HostConnector,
  type NodeResult,
  type NodeUpdate,
  type RecordedNode,
  type ResolvedEnvironment,
  type ResolvedNode,
  type RunEvent,
  type StateStore,
} from '../kernel/types.js';

/** Inputs of every engine entry point (applyEnvironment, driftEnvironment, runLivePlan). */
export interface EngineInput {
  description: Description;
  environment: string;
  repository: string;
  commit: string | null;
  store: StateStore;
  connector: HostConnector;
  secrets: Record<string, string>;
  target?: Target;
  all?: boolean;
  concurrency?: number;
  /**
   * Start a dependent's first Babushka process while its dependencies run, held until they are ready (default: true
   * unless POLITBURO_START_AHEAD is `0`; docs/babushka.md, "Started ahead").
   */
  startAhead?: boolean;
  signal?: AbortSignal;
  onEvent?: (e: RunEvent) => void;
  trigger: string;
  log?: (line: string) => void;
  /**
   * A connector that also trusts extra known_hosts lines (host keys printed by a provider's create). Without it, hosts
   * with a provided key are reached through `connector`, whose known hosts must then list them.
   */
  connectorWithKnownHosts?: (lines: string[]) => HostConnector;
  /** Ctrl-C: how long running tasks may go on before they are aborted (default 10 s). */
  graceMs?: number;
  /** Provider scripts' timeout (default 10 min). */
  providerTimeoutMs?: number;
  /**
   * How often the run renews its lease and how long it keeps it (default: POLITBURO_RUN_HEARTBEAT,
   * POLITBURO_RUN_LEASE).
   */
  lease?: LeaseSettings;
}

/** Where a node's host is, once known. */
export interface HostInfo {
  /** `local`, or the address. */
  label: string;
  target: Parameters<HostConnector['connect']>[0];
  /** The connector that trusts this host's key. */
  connector: HostConnector;
}

/** The state of one run in progress. */
export interface EngineRun {
  input: EngineInput;
  env: ResolvedEnvironment;
  runId: string;
  recorded: Map<string, RecordedNode>;
  /** Hosts of on-demand nodes, by path: recorded ones and those provisioned in this run. */
  provided: Map<string, HostInfo>;
  /** Addresses for symbolic `${address(PATH)}`, by node path. */
  addresses: Record<string, string>;
  results: Map<string, NodeResult>;
  /** Extra connectors this run opened (closed at its end). */
  extraConnectors: HostConnector[];
  depsHash?: Promise<string>;
  /** Called on every piece of output of a node's tasks while it runs (Babushka started ahead listens). */
  onOutput?: (path: string) => void;
  /** Connections made by connectAhead, by connector and host label. */
  ahead: Map<HostConnector, Map<string, Promise<HostConnection>>>;
  /** Final node states the database refused (it was away): written again before the run is finished. */
  unsaved: Map<string, NodeUpdate>;
  emit(e: RunEvent): void;
}

/** The environment named by the input, or an InvalidSpec error listing the known ones. */
export function environmentOf(input: EngineInput): ResolvedEnvironment {
  const env = input.description.environments.get(input.environment);
  if (!env) {
    throw new PolitburoError(
      'InvalidSpec',
      unknownEnvironmentMessage(input.environment, input.description.environments.keys()),
    );
  }
  return env;
}

/** A fresh run state for a started run record. */
export function createEngineRun(
  input: EngineInput,
  env: ResolvedEnvironment,
  runId: string,
  recorded: RecordedNode[],
): EngineRun {
  const run: EngineRun = {
    input,
    env,
    runId,
    recorded: new Map(recorded.map((r) => [r.path, r])),
    provided: new Map(),
    addresses: {},
    results: new Map(),
    extraConnectors: [],
    ahead: new Map(),
    unsaved: new Map(),
    emit: (e) => input.onEvent?.(e),
  };
  const trusting = recordedKeysConnector(run);
  for (const node of env.nodes) {
    const rec = run.recorded.get(node.path);
    if (node.host.kind === 'static') run.addresses[node.path] = node.host.address;
    else if (node.host.kind === 'local') run.addresses[node.path] = '127.0.0.1';
    else if (rec?.host) {
      const host = {
        address: rec.host,
        port: rec.port ?? undefined,
        user: rec.user ?? undefined,
        knownHostsLine: rec.hostKey ?? undefined,
      };
      setProvided(run, node, host, trusting);
    }
  }
  return run;
}

/**
 * One connector trusting the host keys recorded for the run's on-demand hosts (printed by their create in an earlier
 * run): one for all of them rather than one per node, so nodes sharing a host share its connection.
 */
function recordedKeysConnector(run: EngineRun): HostConnector | undefined {
  const lines = run.env.nodes
    .filter((n) => n.host.kind === 'provider')
    .map((n) => run.recorded.get(n.path))
    .filter((rec) => !!rec?.host && !!rec.hostKey)
    .map((rec) => rec!.hostKey as string);
  if (!lines.length || !run.input.connectorWithKnownHosts) return undefined;
  const connector = run.input.connectorWithKnownHosts([...new Set(lines)]);
  run.extraConnectors.push(connector);
  return connector;
}

/**
 * Records where an on-demand node's host is (from the state or a provider's create). A host with a known_hosts line is
 * reached through `trusting` when given (a connector already trusting that line), else through a new connector.
 */
export function setProvided(
  run: EngineRun,
  node: ResolvedNode,
  host: { address: string; port?: number; user?: string; knownHostsLine?: string },
  trusting?: HostConnector,
): HostInfo {
  if (node.host.kind !== 'provider') throw new Error(`setProvided: ${node.path} has no provider`);
  let connector = run.input.connector;
  if (host.knownHostsLine && trusting) connector = trusting;
  else if (host.knownHostsLine && run.input.connectorWithKnownHosts) {
    connector = run.input.connectorWithKnownHosts([host.knownHostsLine]);
    run.extraConnectors.push(connector);
  }
  const info: HostInfo = {
    label: host.address,
    target: {
      kind: 'ssh',
      address: host.address,
      port: host.port ?? node.host.port,
      user: host.user ?? node.host.user,
      jump: node.host.jump,
    },
    connector,
  };
  run.provided.set(node.path, info);
  run.addresses[node.path] = host.address;
  return info;
}

/** The host of a node, or null for an on-demand node not provisioned yet. */
export function hostOf(run: EngineRun, node: ResolvedNode): HostInfo | null {
  const h = node.host;
  if (h.kind === 'static')
    return {
      label: h.address,
      target: { kind: 'ssh', address: h.address, port: h.port, user: h.user, jump: h.jump },
      connector: run.input.connector,
    };
  if (h.kind === 'local') return { label: 'local', target: { kind: 'local' }, connector: run.input.connector };
  return run.provided.get(node.path) ?? null;
}

/**
 * Connects to a node's host and ships the deps directory when the node has Babushka tasks. `connect` says how: the
 * connector's own connect (a node's run), or connectAhead.
 */
export async function connectNode(
  run: EngineRun,
  node: ResolvedNode,
  host: HostInfo,
  connect: () => Promise<HostConnection> = () => host.connector.connect(host.target),
): Promise<{ conn: HostConnection; remoteDepsDir: string | null }> {
  const conn = await connect();
  if (!node.tasks.some((t) => t.kind === 'babushka')) return { conn, remoteDepsDir: null };
  const remoteDepsDir = await conn.ensureDeps(localDepsDir(run), await depsHashOf(run));
  return { conn, remoteDepsDir };
}

/**
 * connectNode ahead of a node's run (prewarming, Babushka started ahead), through connectAhead: a host that could not be
 * reached ahead is not tried again ahead; the node's own run still tries (a dependency may bring it up). The deps are
 * shipped once per host (the connection memoises ensureDeps).
 */
export function warmNode(
  run: EngineRun,
  node: ResolvedNode,
  host: HostInfo,
): Promise<{ conn: HostConnection; remoteDepsDir: string | null }> {
  return connectNode(run, node, host, () => connectAhead(run, host));
}

/**
 * The connector's connect for work other than a node's run in dependency order (checks of `apply --all`, dry runs of
 * `drift` and `plan --live`, prewarming, Babushka started ahead), once per host and run: when the connector could not
 * connect (after its own retries), no such work of the run tries that host again, so a host that is down is tried once
 * however many of its nodes are checked, whenever they are. A node's run in dependency order connects on its own (a
 * dependency may have brought its host up), unless its check could not connect (check-node.ts).
 */
export function connectAhead(run: EngineRun, host: HostInfo): Promise<HostConnection> {
  let byLabel = run.ahead.get(host.connector);
  if (!byLabel) run.ahead.set(host.connector, (byLabel = new Map()));
  let p = byLabel.get(host.label);
  if (!p) {
    p = host.connector.connect(host.target);
    p.catch(() => undefined);
    byLabel.set(host.label, p);
  }
  return p;
}

/** The content hash of the run's deps directory, computed once per run. */
export function depsHashOf(run: EngineRun): Promise<string> {
  return (run.depsHash ??= hashDepsDir(localDepsDir(run)));
}

function localDepsDir(run: EngineRun): string {
  const d = run.input.description;
  return path.resolve(d.root, run.env.depsDir ?? d.depsDir);
}

/** Closes the connectors the run opened for provided host keys. */
export async function closeExtraConnectors(run: EngineRun): Promise<void> {
  await Promise.all(run.extraConnectors.map((c) => c.close().catch(() => undefined)));
}

/** `Reason: message` for an error, PolitburoErrors keeping their reason constant. */
export function errorReason(err: unknown): string {
  if (err instanceof PolitburoError) return `${err.reason}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
