/**
 * Apply benchmark: N loopback sshd hosts (default 30) in a LAMP-shaped DAG (database master → replicas and webs →
 * lb) whose tasks sleep known times. Prints the makespan of a fresh `apply --all`, the DAG's critical path (the lower
 * bound), their ratio, SSH connections and remote processes per host, and the time of a second `apply --all` when
 * every task is already met.
 *
 * Run (needs root for sshd, and PostgreSQL): DATABASE_URL=postgres://... node --import tsx bench/apply/run.ts [hosts] [concurrency]
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { applyEnvironment } from '../../reconciler/apply-environment.js';
import { createHostConnector } from '../../hosts/ssh-connector.js';
import { openStore } from '../../store/open-store.js';
import type { HostConnector, RunResult } from '../../kernel/types.js';
import { loadDescription } from '../../schema/load-description.js';
import { createTestDatabase } from '../../test/helpers/db.js';
import { startSshHosts, type SshHost } from '../../test/helpers/sshd.js';

const N = Number(process.argv[2] ?? 30);
const CONCURRENCY = Number(process.argv[3] ?? N);
/** Task sleeps (seconds) per role, times BENCH_SCALE (default 2): the critical path is master + web + lb. */
const SCALE = Number(process.env.BENCH_SCALE ?? 2);
const SLEEP = { master: 3 * SCALE, replica: 2.5 * SCALE, web: 3 * SCALE, lb: 2 * SCALE };
const replicas = Math.max(0, Math.min(4, N - 3));
const webs = Math.max(1, N - 2 - replicas);

function description(hosts: SshHost[]): string {
  const h = (x: SshHost) => `{ address: '${x.address}', port: ${x.port}, user: ${x.user} }`;
  const role = (name: string, seconds: number, extra = '') =>
    `  ${name}:\n    tasks:\n      - babushka: 'sleeper'\n        args: { name: ${name}, seconds: '${seconds}'${extra} }\n`;
  return [
    'politburo: 1',
    `defaults: { concurrency: ${CONCURRENCY}, timeout: 60s }`,
    'roles:',
    role('master', SLEEP.master) +
      role('replica', SLEEP.replica, ", master: '${address(database/master)}'") +
      role('web', SLEEP.web, ", db: '${address(database/master)}'") +
      role('lb', SLEEP.lb, ", backends: '${addresses(web)}'"),
    'environments:',
    '  bench:',
    '    known_hosts: known_hosts',
    '    resources:',
    '      database:',
    '        resources:',
    '          master: { roles: [master] }',
    `          replica: { roles: [replica], count: ${replicas}, depends_on: [database/master] }`,
    `      web: { roles: [web], count: ${webs}, depends_on: [database/master] }`,
    '      lb: { roles: [lb], depends_on: [web] }',
    '    hosts:',
    `      database/master: ${h(hosts[0])}`,
    ...(replicas
      ? [
          `      database/replica: [${hosts
            .slice(1, 1 + replicas)
            .map(h)
            .join(', ')}]`,
        ]
      : []),
    `      web: [${hosts
      .slice(1 + replicas, 1 + replicas + webs)
      .map(h)
      .join(', ')}]`,
    `      lb: ${h(hosts[N - 1])}`,
    '',
  ].join('\n');
}

const SLEEPER = `require 'fileutils'
dep 'sleeper', :name, :seconds, :master, :db, :backends do
  [master, db, backends].each { |p| p.default!('') }
  met? { File.exist?(File.expand_path("~/bench/#{name}")) }
  meet { Kernel.sleep seconds.to_s.to_f; FileUtils.mkdir_p(File.expand_path('~/bench')); FileUtils.touch(File.expand_path("~/bench/#{name}")) }
end
`;

function roleOf(p: string): keyof typeof SLEEP {
  return p === 'database/master' ? 'master' : p.startsWith('database/replica') ? 'replica' : p === 'lb' ? 'lb' : 'web';
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

/** Counts remote commands (processes started over SSH) per address. */
function counting(connector: HostConnector, counts: Record<string, number>): HostConnector {
  return {
    ...connector,
    async connect(target) {
      const conn = await connector.connect(target);
      const key = target.kind === 'local' ? 'local' : target.address;
      return {
        ...conn,
        address: conn.address,
        exec: (c, o) => ((counts[key] = (counts[key] ?? 0) + 1), conn.exec(c, o)),
        ensureDeps: (d, h) => conn.ensureDeps(d, h),
        close: () => conn.close(),
      };
    },
    stats: () => connector.stats(),
    close: () => connector.close(),
  };
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const ssh = await startSshHosts(N, { maxSessions: 10 });
  process.stderr.write(`started ${N} sshd hosts in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
  const testDb = process.env.DATABASE_URL ? await createTestDatabase() : null;
  const opened = await openStore({ databaseUrl: testDb?.url });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'politburo-bench-apply-'));
  try {
    await mkdir(path.join(dir, 'babushka-deps'));
    await writeFile(path.join(dir, 'babushka-deps', 'sleeper.rb'), SLEEPER);
    await writeFile(path.join(dir, 'politburo.yml'), description(ssh.hosts));
    await writeFile(path.join(dir, 'known_hosts'), ssh.knownHosts);
    const loaded = await loadDescription({ dir });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
    const run = async (): Promise<{
      result: RunResult;
      ms: number;
      connections: Record<string, number>;
      uploads: Record<string, number>;
      execs: Record<string, number>;
    }> => {
      const connector = createHostConnector({ privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] });
      const execs: Record<string, number> = {};
      const started = performance.now();
      const input = {
        description: loaded.description,
        environment: 'bench',
        repository: dir,
        commit: null,
        store: opened.store,
        secrets: {},
        trigger: 'bench',
        all: true,
      };
      const result = await applyEnvironment({ ...input, connector: counting(connector, execs) });
      const ms = performance.now() - started;
      const { connections, depsUploads: uploads } = connector.stats();
      await connector.close();
      if (result.status !== 'succeeded')
        throw new Error(
          `apply failed: ${JSON.stringify(
            result.nodes.filter((n) => n.state !== 'ready'),
            null,
            1,
          )}`,
        );
      return { result, ms, connections, uploads, execs };
    };
    const fresh = await run();
    const noop = await run();
    const critical = (SLEEP.master + Math.max(SLEEP.web, replicas ? SLEEP.replica : 0) + SLEEP.lb) * 1000;
    // Scheduler latency: how long a node waited after its last dependency was ready.
    const at = (n: RunResult['nodes'][number], k: 'startedAt' | 'finishedAt') => Date.parse(n[k]!);
    const nodes = fresh.result.nodes;
    const master = nodes.find((n) => n.path === 'database/master')!;
    const level2 = nodes.filter((n) => n.path.startsWith('web-') || n.path.startsWith('database/replica'));
    const lb = nodes.find((n) => n.path === 'lb')!;
    const webEnd = Math.max(...nodes.filter((n) => n.path.startsWith('web-')).map((n) => at(n, 'finishedAt')));
    const gaps = [...level2.map((n) => at(n, 'startedAt') - at(master, 'finishedAt')), at(lb, 'startedAt') - webEnd];
    const taskOverhead = nodes.map((n) => (n.tasks[0].durationMs ?? 0) - 1000 * SLEEP[roleOf(n.path)]);
    const stat = (r: Record<string, number>) => {
      const v = Object.values(r);
      return `min ${Math.min(...v)}, max ${Math.max(...v)} (${v.length} hosts)`;
    };
    const lines = [
      `hosts ${N} (1 master, ${replicas} replicas, ${webs} webs, 1 lb), concurrency ${CONCURRENCY}`,
      `fresh apply --all makespan: ${(fresh.ms / 1000).toFixed(2)}s`,
      `critical path (sum of task sleeps master→web→lb): ${(critical / 1000).toFixed(2)}s`,
      `ratio makespan / critical path: ${(fresh.ms / critical).toFixed(3)}`,
      `scheduler latency (dependency ready → dependent started): max ${Math.max(...gaps)}ms`,
      `task overhead beyond its sleep (Babushka process over SSH): median ${median(taskOverhead)}ms, max ${Math.max(...taskOverhead)}ms`,
      `SSH connections per host (fresh): ${stat(fresh.connections)}; deps uploads per host: ${stat(fresh.uploads)}`,
      `remote processes per host (fresh): ${stat(fresh.execs)}`,
      `no-op apply --all (every task already met): ${(noop.ms / 1000).toFixed(2)}s`,
      `SSH connections per host (no-op): ${stat(noop.connections)}; remote processes per host: ${stat(noop.execs)}`,
      `already met tasks in the no-op run: ${noop.result.nodes.flatMap((n) => n.tasks).filter((t) => t.outcome === 'already met').length}/${noop.result.nodes.length}`,
    ];
    if (process.env.BENCH_VERBOSE) {
      const start = Math.min(...fresh.result.nodes.map((n) => Date.parse(n.startedAt!)));
      for (const n of fresh.result.nodes) {
        lines.push(
          `  ${n.path.padEnd(20)} ${((Date.parse(n.startedAt!) - start) / 1000).toFixed(2)} → ${((Date.parse(n.finishedAt!) - start) / 1000).toFixed(2)}  ${n.tasks.map((t) => `${t.outcome} ${t.durationMs}ms`).join(', ')}`,
        );
      }
    }
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    await opened.close();
    await testDb?.drop();
    await ssh.stop();
  }
}

await main();
