/**
 * Shared setup of the engine's integration tests: a repository made from test/fixtures/engine/lamp with real sshd
 * hosts filled in (git-committed), a real test database, and helpers to run the engine or the CLI against them.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { applyEnvironment } from '../../reconciler/apply-environment.js';
import { createHostConnector, type ConnectorStats, type HostConnectorOptions } from '../../hosts/ssh-connector.js';
import type { EngineInput } from '../../reconciler/run-engine.js';
import { createPgStore, type PgStateStore } from '../../store/pg-store.js';
import type { Target } from '../../reconciler/target.js';
import type { HostConnection, RunEvent, RunResult } from '../../kernel/types.js';
import { loadDescription } from '../../schema/load-description.js';
import pg from 'pg';
import { startSshHosts, type SshHost, type SshHosts } from './sshd.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { GitRepo } from './git-repo.js';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../..');
export const fixtureDir = path.join(repoRoot, 'test/fixtures/engine/lamp');
export const LAMP_PATHS = ['database/master', 'database/replica', 'web', 'lb'] as const;

export type HostSpec = SshHost | { address: string; port: number; user: string };

/** `{ address: A, port: P, user: U }` as YAML flow. */
export function hostYaml(h: HostSpec): string {
  return `{ address: '${h.address}', port: ${h.port}, user: ${h.user} }`;
}

export interface RepoOptions {
  /** Hosts by path (`web` takes a list). */
  hosts: Record<string, HostSpec | HostSpec[]>;
  knownHosts: string;
  params?: Record<string, string>;
  timeout?: string;
  /** YAML lines appended under the environment (4-space indented keys). */
  extra?: string;
}

/** Copies the fixture to a temp dir, fills in hosts and params, writes known_hosts, commits it with git. */
export async function makeRepo(opts: RepoOptions): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'politburo-engine-'));
  await cp(fixtureDir, dir, { recursive: true });
  await writeRepo(dir, opts);
  await (await GitRepo.init(dir)).commitAll('initial');
  return dir;
}

/** Rewrites politburo.yml of a repository made by makeRepo (then commit it with commitAll). */
export async function writeRepo(dir: string, opts: RepoOptions): Promise<void> {
  const template = await readFile(path.join(fixtureDir, 'politburo.yml'), 'utf8');
  const hosts = Object.entries(opts.hosts)
    .filter(([, h]) => h !== undefined)
    .map(([p, h]) => `'${p}': ${Array.isArray(h) ? `[${h.map(hostYaml).join(', ')}]` : hostYaml(h)}`)
    .join(', ');
  const params = Object.entries(opts.params ?? {})
    .map(([k, v]) => `${k}: '${v}'`)
    .join(', ');
  const text = template
    .replace('{{HOSTS}}', `{ ${hosts} }`)
    .replace('{{PARAMS}}', `{ ${params} }`)
    .replace('{{TIMEOUT}}', opts.timeout ?? '20s')
    .replace('{{EXTRA}}', opts.extra ?? '');
  await writeFile(path.join(dir, 'politburo.yml'), text);
  await writeFile(path.join(dir, 'known_hosts'), opts.knownHosts);
}

/** Commits everything in `dir` (a repository made by makeRepo); returns the new commit. */
export function commitAll(dir: string, message: string): Promise<string> {
  return new GitRepo(dir).commitAll(message);
}

/** A store on a test database (migrated template clone). */
export function storeFor(url: string): { store: PgStateStore; close(): Promise<void> } {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on('error', () => {}); // idle connections are cut when the test database is dropped
  const store = createPgStore(pool);
  return { store, close: () => store.close() };
}

export interface EngineOptions {
  dir: string;
  store: PgStateStore;
  privateKey: string;
  knownHosts: string[];
  target?: Target;
  all?: boolean;
  signal?: AbortSignal;
  connector?: Partial<HostConnectorOptions>;
  events?: RunEvent[];
}

/** Engine input for a repository: description loaded, a fresh connector (closed by the returned close()). */
export async function engineInput(o: EngineOptions): Promise<{
  input: EngineInput;
  close(): Promise<void>;
  connections(): Record<string, number>;
  stats(): ConnectorStats;
}> {
  const loaded = await loadDescription({ dir: o.dir });
  if (!loaded.ok) throw new Error(`fixture invalid: ${JSON.stringify(loaded.errors)}`);
  const base: HostConnectorOptions = {
    privateKey: o.privateKey,
    knownHosts: o.knownHosts,
    connectTimeoutMs: 20_000,
    ...o.connector,
  }; // generous: a busy machine slows handshakes
  const connector = createHostConnector(base);
  const commit = (await run('git', ['-C', o.dir, 'rev-parse', 'HEAD'])).stdout.trim();
  const input: EngineInput = {
    description: loaded.description,
    environment: 'test',
    repository: o.dir,
    commit,
    store: o.store,
    connector,
    secrets: {},
    target: o.target,
    all: o.all,
    signal: o.signal,
    trigger: 'test',
    onEvent: o.events ? (e) => o.events!.push(e) : undefined,
    connectorWithKnownHosts: (lines) =>
      createHostConnector({ ...base, knownHosts: [...base.knownHosts, lines.join('\n') + '\n'] }),
  };
  return {
    input,
    close: () => connector.close(),
    connections: () => connector.stats().connections,
    stats: () => connector.stats(),
  };
}

/** Applies with a fresh connector. */
export async function applyOnce(o: EngineOptions): Promise<RunResult> {
  const { input, close } = await engineInput(o);
  try {
    return await applyEnvironment(input);
  } finally {
    await close();
  }
}

/** Runs the CLI as a child process; resolves with its exit code, stdout and stderr. */
export async function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(repoRoot, 'cli/bin.ts'), ...args],
      { cwd: repoRoot, env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Node result by path. */
export function byPath(r: RunResult): Record<string, RunResult['nodes'][number]> {
  return Object.fromEntries(r.nodes.map((n) => [n.path, n]));
}

/**
 * Runs the CLI in this process (the command modules load once per test file instead of once per call): stdout and
 * stderr are captured while it runs; pass --database-url and --ssh-key explicitly.
 */
export async function cliInProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { main } = await import('../../cli/main.js');
  const out = { stdout: '', stderr: '' };
  const original = { stdout: process.stdout.write, stderr: process.stderr.write };
  const capture = (key: 'stdout' | 'stderr') =>
    ((chunk: string | Uint8Array) => {
      out[key] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture('stdout');
  process.stderr.write = capture('stderr');
  try {
    const code = await main(args);
    return { code, ...out };
  } finally {
    process.stdout.write = original.stdout;
    process.stderr.write = original.stderr;
    process.exitCode = undefined; // the command's exit code is the result, not this test process's
  }
}

export interface EngineWorld {
  ssh: SshHosts;
  db: TestDatabase;
  store: PgStateStore;
  /** One open connection to each host, for tests to look at or change a host's files. */
  conns: HostConnection[];
  close(): Promise<void>;
}

/** What every engine test file starts with: n sshd hosts, a test database with a store, a connection to each host. */
export async function startEngineWorld(n = 5): Promise<EngineWorld> {
  const [ssh, db] = await Promise.all([startSshHosts(n), createTestDatabase()]);
  const { store, close: closeStore } = storeFor(db.url);
  const admin = createHostConnector({ privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] });
  const conns: HostConnection[] = [];
  for (const h of ssh.hosts)
    conns.push(await admin.connect({ kind: 'ssh', address: h.address, port: h.port, user: h.user }));
  return {
    ssh,
    db,
    store,
    conns,
    async close() {
      await admin.close();
      await closeStore();
      await db.drop();
      await ssh.stop();
    },
  };
}
