/**
 * The ideal runner the apply benchmark compares Politburo with: the same Babushka command lines Politburo runs
 * (`babushkaCommand` for a lone babushka task, `batchCommand` for a run of them), each started over an SSH connection
 * opened before timing, the instant the node's last dependency finished. No planning, no locking, no recording, no
 * connection set-up, no deps check: what is left is the work itself and the DAG's order, i.e. the best any
 * controller could do on the same hosts.
 */
import ssh2 from 'ssh2';
import type { BabushkaTask, ResolvedNode } from '../../kernel/types.js';
import { babushkaCommand } from '../../reconciler/tasks/run-babushka-task.js';
import { batchCommand } from '../../reconciler/tasks/run-babushka-batch.js';
import { generateDep } from '../../reconciler/tasks/generated-dep.js';
import { resolveTaskValue } from '../../reconciler/tasks/resolve-task-value.js';

const { Client } = ssh2;
type Client = InstanceType<typeof Client>;

export interface IdealHost {
  address: string;
  port: number;
  user: string;
}

/** Opens one SSH connection per host (host keys are not checked: the benchmark started these servers itself). */
export async function openClients(hosts: IdealHost[], privateKey: string): Promise<Map<string, Client>> {
  const clients = new Map<string, Client>();
  await Promise.all(
    hosts.map(
      (h) =>
        new Promise<void>((resolve, reject) => {
          const c = new Client();
          c.once('ready', () => (clients.set(h.address, c), resolve()));
          c.once('error', reject);
          c.connect({ host: h.address, port: h.port, username: h.user, privateKey, readyTimeout: 60_000 });
        }),
    ),
  );
  return clients;
}

export function closeClients(clients: Map<string, Client>): void {
  for (const c of clients.values()) c.end();
}

/** Runs one command on its own channel; resolves with its exit status and output. */
export function exec(client: Client, command: string, stdin?: Buffer): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, ch) => {
      if (err) return reject(err);
      let out = '';
      ch.on('data', (d: Buffer) => (out += d.toString()));
      ch.stderr.on('data', (d: Buffer) => (out += d.toString()));
      ch.on('close', (code: number | null) => resolve({ code, out }));
      if (stdin) ch.end(stdin);
    });
  });
}

export interface IdealNode {
  path: string;
  address: string;
  /** Commands run one after the other (one per run of babushka tasks, as Politburo batches them). */
  commands: string[];
  dependsOn: string[];
}

/**
 * The commands Politburo runs for a node's babushka tasks (reconciler/tasks/run-node-tasks.ts): a lone babushka task
 * is `babushkaCommand`, consecutive ones are one `batchCommand` of a generated dep. Tasks with `become` or shell tasks
 * are not part of this benchmark.
 */
export function idealNode(node: ResolvedNode, remoteDepsDir: string, addresses: Record<string, string>): IdealNode {
  if (node.host.kind !== 'static') throw new Error(`${node.path}: the ideal runner needs static hosts`);
  const tasks = node.tasks.map((t) => {
    if (t.kind !== 'babushka' || t.become) throw new Error(`${node.path}: only babushka tasks without become`);
    return t as BabushkaTask;
  });
  const args = tasks.map((t) =>
    Object.keys(t.args)
      .sort()
      .map((k) => [k, resolveTaskValue(t.args[k], { secrets: {}, addresses })] as [string, string]),
  );
  let commands: string[];
  if (tasks.length === 1) commands = [babushkaCommand(remoteDepsDir, tasks[0].dep, args[0], false)];
  else {
    const gen = generateDep(tasks);
    const cliArgs = gen.params.flatMap((ps, i) => ps.map((p, j) => [p.param, args[i][j][1]] as [string, string]));
    commands = [batchCommand(remoteDepsDir, gen.fileName, gen.name, cliArgs, false, gen.content)];
  }
  return {
    path: node.path,
    address: node.host.address,
    commands,
    dependsOn: [...new Set(node.dependsOn.map((d) => d.path))],
  };
}

export interface IdealRun {
  ms: number;
  /** By path: start and end (ms since the run started). */
  timeline: Map<string, { start: number; end: number }>;
}

/**
 * Runs the DAG: every node the instant its dependencies are done; throws when a command fails. `wrap` (for an
 * experiment) wraps each command line as Politburo's SSH session does.
 */
export async function runIdeal(
  nodes: IdealNode[],
  clients: Map<string, Client>,
  opts: { wrap?: (command: string) => string } = {},
): Promise<IdealRun> {
  const byPath = new Map(nodes.map((n) => [n.path, n]));
  const waiting = new Map(nodes.map((n) => [n.path, n.dependsOn.filter((d) => byPath.has(d)).length]));
  const dependents = new Map<string, string[]>();
  for (const n of nodes)
    for (const d of n.dependsOn) if (byPath.has(d)) dependents.set(d, [...(dependents.get(d) ?? []), n.path]);
  const timeline = new Map<string, { start: number; end: number }>();
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    let left = nodes.length;
    const start = (n: IdealNode) => {
      const started = performance.now() - t0;
      const client = clients.get(n.address)!;
      (async () => {
        for (const c of n.commands) {
          const r = await exec(client, opts.wrap ? opts.wrap(c) : c);
          if (r.code !== 0) throw new Error(`${n.path}: exit ${r.code}\n${r.out.slice(-2000)}`);
        }
      })().then(() => {
        timeline.set(n.path, { start: started, end: performance.now() - t0 });
        for (const d of dependents.get(n.path) ?? []) {
          const k = waiting.get(d)! - 1;
          waiting.set(d, k);
          if (k === 0) start(byPath.get(d)!);
        }
        if (--left === 0) resolve();
      }, reject);
    };
    for (const n of nodes) if (waiting.get(n.path) === 0) start(n);
  });
  return { ms: performance.now() - t0, timeline };
}
