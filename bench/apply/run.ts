/**
 * Apply benchmark: N loopback sshd hosts (default 30) in a LAMP-shaped DAG (database master → replicas and webs →
 * lb) whose Babushka tasks sleep known times, run by the real Babushka 0.19.2 (`--stand-in`: the test stand-in).
 * Compares, in one run, Politburo's makespan with an ideal runner's (bench/apply/ideal.ts: the same command lines over
 * connections opened before timing, each started the instant its dependencies finish), for a converging
 * `apply --all` and for an `apply --all` where everything is already met; prints where Politburo's extra time goes.
 *
 * Run (needs root for sshd, and PostgreSQL):
 *   DATABASE_URL=postgres://... node --import tsx bench/apply/run.ts [hosts] [concurrency] [--stand-in] [--runs N]
 *   [--ideal-wrapped] [--drifted] [--no-start-ahead] [--ab-start-ahead] [--persist]
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { applyEnvironment } from '../../reconciler/apply-environment.js';
import { createHostConnector } from '../../hosts/ssh-connector.js';
import { keptConnections } from '../../hosts/keeper-client.js';
import { ensureRemoteDeps } from '../../hosts/deps-upload.js';
import { hashDepsDir } from '../../kernel/deps-hash.js';
import { openStore } from '../../store/open-store.js';
import type { HostConnector, RunEvent, RunResult } from '../../kernel/types.js';
import { wrapRemoteCommand } from '../../hosts/remote-command.js';
import { loadDescription } from '../../schema/load-description.js';
import { createTestDatabase } from '../../test/helpers/db.js';
import { realBabushka, standInBin, startSshHosts, type SshHost } from '../../test/helpers/sshd.js';
import { closeClients, exec, idealNode, openClients, runIdeal, type IdealRun } from './ideal.js';
import { hostsCpuMs, pidsMatching, selfCpuMs } from './cpu.js';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const option = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const positional = argv.filter((a, i) => !a.startsWith('--') && !(i > 0 && argv[i - 1] === '--runs'));
const N = Number(positional[0] ?? 30);
const CONCURRENCY = Number(positional[1] ?? N);
const RUNS = Number(option('--runs') ?? 1);
const STAND_IN = flag('--stand-in');
/**
 * Also an `apply --all` after every host was reset under records that say ready (all drifted), against the ideal
 * runner's converging apply: what checking in parallel costs when every check finds its node unmet.
 */
const DRIFTED = flag('--drifted');
/** The ideal runner wraps its commands as Politburo's sessions do (hosts/remote-command.ts): to measure the wrapper. */
const IDEAL_WRAPPED = flag('--ideal-wrapped');
/** Politburo without Babushka started ahead (docs/babushka.md, "Started ahead"): to measure what it wins. */
const START_AHEAD = !flag('--no-start-ahead');
/** Also a converging apply without Babushka started ahead in every run, right after the one with it (same load). */
const AB_START_AHEAD = flag('--ab-start-ahead');
/**
 * Politburo's runs keep their connections for the next (`--ssh-persist`, docs/cli.md): each reaches the hosts through
 * the connection keeper, as CLI runs with `--ssh-persist` do; the keeper's CPU counts as the controller's.
 */
const PERSIST = flag('--persist');
/** Task sleeps (seconds) per role, times BENCH_SCALE (default 2): the critical path is master + web + lb. */
const SCALE = Number(process.env.BENCH_SCALE ?? 2);
const SLEEP = { master: 3 * SCALE, replica: 2.5 * SCALE, web: 3 * SCALE, lb: 2 * SCALE };
const replicas = Math.max(0, Math.min(4, N - 3));
const webs = Math.max(1, N - 2 - replicas);
/** Targets: Politburo's makespan over the ideal runner's. */
const TARGET = { converge: 1.05, met: 1.0 };

function description(hosts: SshHost[]): string {
  const h = (x: SshHost) => `{ address: '${x.address}', port: ${x.port}, user: ${x.user} }`;
  const role = (name: string, seconds: number, extra = '') =>
    `  ${name}:\n    tasks:\n      - babushka: 'sleeper'\n        args: { label: ${name}, seconds: '${seconds}'${extra} }\n`;
  return [
    'politburo: 1',
    `defaults: { concurrency: ${CONCURRENCY}, timeout: 120s }`,
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

// `default!` is Babushka's way to make a parameter optional; the stand-in implements it too.
const SLEEPER = `require 'fileutils'
dep 'sleeper', :label, :seconds, :master, :db, :backends do
  [master, db, backends].each { |p| p.default!('') }
  met? { File.exist?(File.expand_path("~/bench/#{label}")) }
  meet { Kernel.sleep seconds.to_s.to_f; FileUtils.mkdir_p(File.expand_path('~/bench')); FileUtils.touch(File.expand_path("~/bench/#{label}")) }
end
`;

function roleOf(p: string): keyof typeof SLEEP {
  return p === 'database/master' ? 'master' : p.startsWith('database/replica') ? 'replica' : p === 'lb' ? 'lb' : 'web';
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)}s`;

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

/** Per node, when (ms since the apply was called) each step happened. */
interface Marks {
  started?: number;
  configuring?: number;
  taskStarted?: number;
  taskFinished?: number;
  ready?: number;
  finished?: number;
}

interface PolitburoRun {
  result: RunResult;
  ms: number;
  /** Date.now() when the apply was called (node results carry wall-clock times). */
  wallStart: number;
  marks: Map<string, Marks>;
  connections: Record<string, number>;
  /** Connections the keeper had kept from the previous run (--persist). */
  reused: Record<string, number>;
  uploads: Record<string, number>;
  execs: Record<string, number>;
}

async function main(): Promise<void> {
  const babushka = STAND_IN ? { bin: standInBin, real: false, note: 'the stand-in (--stand-in)' } : realBabushka();
  const t0 = Date.now();
  const ssh = await startSshHosts(N, { maxSessions: 10, babushkaBin: babushka.bin });
  process.stderr.write(`started ${N} sshd hosts in ${s(Date.now() - t0)}; Babushka: ${babushka.note}\n`);
  const testDb = process.env.DATABASE_URL ? await createTestDatabase() : null;
  const opened = await openStore({ databaseUrl: testDb?.url });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'politburo-bench-apply-'));
  const keeperDir = PERSIST ? await mkdtemp(path.join(os.tmpdir(), 'politburo-bench-keeper-')) : null;
  let clients: Awaited<ReturnType<typeof openClients>> | undefined;
  try {
    await mkdir(path.join(dir, 'babushka-deps'));
    await writeFile(path.join(dir, 'babushka-deps', 'sleeper.rb'), SLEEPER);
    await writeFile(path.join(dir, 'politburo.yml'), description(ssh.hosts));
    await writeFile(path.join(dir, 'known_hosts'), ssh.knownHosts);
    const loaded = await loadDescription({ dir });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
    const env = loaded.description.environments.get('bench')!;

    // The ideal runner's connections, opened before anything is timed; the deps shipped as Politburo ships them (so
    // Politburo's runs find them there and only check).
    clients = await openClients(ssh.hosts, ssh.privateKey);
    const hash = await hashDepsDir(path.join(dir, 'babushka-deps'));
    const homes = new Map(ssh.hosts.map((h) => [h.address, h.home]));
    await Promise.all(
      ssh.hosts.map((h) =>
        ensureRemoteDeps(
          async (command, o) => {
            const r = await exec(clients!.get(h.address)!, command, o?.stdin as Buffer | undefined);
            return { code: r.code, stdout: r.out, stderr: '', timedOut: false };
          },
          h.address,
          path.join(dir, 'babushka-deps'),
          hash,
        ),
      ),
    );
    const addresses = Object.fromEntries(
      env.nodes.map((n) => [n.path, n.host.kind === 'static' ? n.host.address : '']),
    );
    const dag = env.nodes.map((n) => ({ path: n.path, deps: n.dependsOn.map((d) => d.path) }));
    const idealNodes = env.nodes.map((n) =>
      idealNode(n, `${homes.get((n.host as { address: string }).address)}/.politburo/deps/${hash}`, addresses),
    );
    const idealOpts = IDEAL_WRAPPED ? { wrap: (c: string) => wrapRemoteCommand(c, 120_000, { lifeline: true }) } : {};
    const reset = () => Promise.all([...clients!.values()].map((c) => exec(c, 'rm -rf ~/bench')));
    // One Babushka start-up: Ruby and Babushka's library, up to where it would load a deps file (`babushka --version`
    // on one host over an open connection, median of 7, before anything is timed).
    const startups: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t = performance.now();
      await exec(clients.get(ssh.hosts[0].address)!, 'babushka --version >/dev/null');
      startups.push(performance.now() - t);
    }
    const startup = median(startups);

    /** `apply --all` recorded under `repository` (a key of its own: a new one starts from nothing recorded). */
    const politburo = async (
      repository: string,
      beforeClose = () => {},
      startAhead = START_AHEAD,
    ): Promise<PolitburoRun> => {
      const connector = createHostConnector({
        privateKey: ssh.privateKey,
        knownHosts: [ssh.knownHosts],
        ...(keeperDir ? { persist: { dir: keeperDir, ms: 600_000 } } : {}),
      });
      const execs: Record<string, number> = {};
      const marks = new Map<string, Marks>();
      const mark = (p: string, k: keyof Marks, again = false) => {
        const m = marks.get(p) ?? {};
        if (again || m[k] === undefined) m[k] = performance.now() - started;
        marks.set(p, m);
      };
      const onEvent = (e: RunEvent) => {
        // A node checked in parallel and then run in order is started twice: its run's start is the one that counts.
        if (e.type === 'node-started') mark(e.path, 'started', true);
        else if (e.type === 'node-state' && e.state === 'configuring') mark(e.path, 'configuring');
        else if (e.type === 'node-state' && e.state === 'ready') mark(e.path, 'ready');
        else if (e.type === 'task-started') mark(e.path, 'taskStarted');
        else if (e.type === 'task-finished') mark(e.path, 'taskFinished');
        else if (e.type === 'node-finished') mark(e.path, 'finished');
      };
      const started = performance.now();
      const wallStart = Date.now();
      const result = await applyEnvironment({
        description: loaded.description,
        environment: 'bench',
        repository,
        commit: null,
        store: opened.store,
        secrets: {},
        trigger: 'bench',
        all: true,
        startAhead,
        onEvent,
        connector: counting(connector, execs),
      });
      const ms = performance.now() - started;
      const { connections, reused, depsUploads: uploads } = connector.stats();
      beforeClose();
      await connector.close();
      if (result.status !== 'succeeded')
        throw new Error(
          `apply failed: ${JSON.stringify(
            result.nodes.filter((n) => n.state !== 'ready'),
            null,
            1,
          )}`,
        );
      return { result, ms, wallStart, marks, connections, reused, uploads, execs };
    };

    // CPU (ms) of a step: the sshd servers' sessions (with the commands they ran), this process, PostgreSQL. Read
    // while the step's sessions are still open: sshd does not add a closed session's time to its server's.
    const servers = pidsMatching(ssh.dir);
    const database = testDb ? new URL(testDb.url).pathname.slice(1) : undefined;
    // The keeper's CPU (--persist) is the controller's: read from its process, whichever one runs now.
    const controllerCpuMs = () => selfCpuMs() + (keeperDir ? hostsCpuMs(pidsMatching(keeperDir)).hosts : 0);
    const cpu = async <T extends object>(step: (end: () => void) => Promise<T>): Promise<T & { cpu: Cpu }> => {
      const h0 = hostsCpuMs(servers, database);
      const c0 = controllerCpuMs();
      let h1: ReturnType<typeof hostsCpuMs> | undefined;
      let c1 = 0;
      const end = () => ((c1 = controllerCpuMs()), (h1 = hostsCpuMs(servers, database)));
      const value = await step(end);
      if (!h1) end();
      return Object.assign(value, {
        cpu: { hosts: h1!.hosts - h0.hosts, controller: c1 - c0, postgres: h1!.postgres - h0.postgres },
      });
    };
    const rows: Row[] = [];
    let last: Last | undefined;
    for (let r = 0; r < RUNS; r++) {
      // Alternate which goes first, so neither always gets the machine right after the other's load.
      const idealFirst = r % 2 === 0;
      // The converging apply starts from nothing recorded (every node a create), as on new hosts.
      const repository = `${dir}#${r + 1}`;
      let pbConverge: Measured<PolitburoRun>, idConverge: Measured<IdealRun>;
      let pbMet: Measured<PolitburoRun>, idMet: Measured<IdealRun>;
      const ideal = () => cpu(() => runIdeal(idealNodes, clients!, idealOpts));
      const pb = () => cpu((end) => politburo(repository, end));
      if (idealFirst) {
        await reset();
        idConverge = await ideal();
        await reset();
        pbConverge = await pb();
        idMet = await ideal();
        pbMet = await pb();
      } else {
        await reset();
        pbConverge = await pb();
        await reset();
        idConverge = await ideal();
        pbMet = await pb();
        idMet = await ideal();
      }
      let pbUnheld: Measured<PolitburoRun> | undefined;
      if (AB_START_AHEAD) {
        await reset();
        pbUnheld = await cpu((end) => politburo(`${repository}-unheld`, end, false));
      }
      // Every host reset under records that say ready: every check finds its node unmet, and all of it runs in order.
      let pbDrifted: Measured<PolitburoRun> | undefined;
      if (DRIFTED) {
        await reset();
        pbDrifted = await pb();
      }
      const load = os.loadavg()[0].toFixed(1);
      process.stderr.write(
        `run ${r + 1}/${RUNS} (${idealFirst ? 'ideal first' : 'Politburo first'}, load ${load}): converge ${s(pbConverge.ms)} vs ${s(idConverge.ms)}; met ${s(pbMet.ms)} vs ${s(idMet.ms)}${pbUnheld ? `; converge without start-ahead ${s(pbUnheld.ms)}` : ''}${pbDrifted ? `; all drifted ${s(pbDrifted.ms)} vs ${s(idConverge.ms)}` : ''}\n`,
      );
      rows.push({
        taskPath: taskCriticalPath(pbConverge, dag),
        converge: [pbConverge.ms, idConverge.ms],
        met: [pbMet.ms, idMet.ms],
        ...(pbDrifted ? { drifted: [pbDrifted.ms, idConverge.ms] as [number, number] } : {}),
        ...(pbUnheld ? { unheld: [pbUnheld.ms, idConverge.ms] as [number, number] } : {}),
        cpu: {
          converge: [pbConverge.cpu, idConverge.cpu],
          met: [pbMet.cpu, idMet.cpu],
          ...(pbDrifted ? { drifted: pbDrifted.cpu } : {}),
        },
      });
      last = { pbConverge, pbMet, idConverge, idMet, pbDrifted };
    }
    report(rows, last!, dag, babushka.note, startup);
  } finally {
    if (clients) closeClients(clients);
    if (keeperDir) {
      await keptConnections(keeperDir, { close: true }).catch(() => null);
      await rm(keeperDir, { recursive: true, force: true });
    }
    await opened.close();
    await testDb?.drop();
    await ssh.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The longest chain of a run's Babushka commands (task started → task finished per node) through `dag`, in ms. */
function taskCriticalPath(run: PolitburoRun, dag: { path: string; deps: string[] }[]): number {
  const memo = new Map<string, number>();
  const longest = (p: string): number => {
    let v = memo.get(p);
    if (v === undefined) {
      const m = run.marks.get(p)!;
      const deps = dag.find((n) => n.path === p)!.deps;
      v = m.taskFinished! - m.taskStarted! + Math.max(0, ...deps.map(longest));
      memo.set(p, v);
    }
    return v;
  };
  return Math.max(...dag.map((n) => longest(n.path)));
}

/** CPU (ms) a step made the sshd hosts, this process and PostgreSQL use. */
type Cpu = { hosts: number; controller: number; postgres: number };
type Measured<T> = T & { cpu: Cpu };
type Row = {
  /** The converging apply's longest chain of Babushka commands, each from its start (or release) to its end. */
  taskPath: number;
  converge: [number, number];
  met: [number, number];
  drifted?: [number, number];
  /** The converging apply without Babushka started ahead (--ab-start-ahead), and the ideal runner's. */
  unheld?: [number, number];
  cpu: { converge: [Cpu, Cpu]; met: [Cpu, Cpu]; drifted?: Cpu };
};
type Last = {
  pbConverge: PolitburoRun;
  pbMet: PolitburoRun;
  idConverge: IdealRun;
  idMet: IdealRun;
  pbDrifted?: PolitburoRun;
};

function report(rows: Row[], last: Last, dag: { path: string; deps: string[] }[], note: string, startup: number): void {
  const critical = (SLEEP.master + Math.max(SLEEP.web, replicas ? SLEEP.replica : 0) + SLEEP.lb) * 1000;
  const stat = (r: Record<string, number>) => {
    const v = Object.values(r);
    return `min ${Math.min(...v)}, max ${Math.max(...v)} (${v.length} hosts)`;
  };
  const lines = [
    `hosts ${N} (1 master, ${replicas} replicas, ${webs} webs, 1 lb), concurrency ${CONCURRENCY}, Babushka: ${note}${IDEAL_WRAPPED ? '; ideal runner wraps its commands as Politburo does' : ''}`,
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} on ${os.cpus().length} cores`,
    `critical path (sum of task sleeps master→web→lb): ${s(critical)}`,
    `Babushka started ahead: ${START_AHEAD ? 'yes' : 'no (--no-start-ahead)'}`,
    `connections kept between Politburo's runs: ${PERSIST ? 'yes (--persist: through the connection keeper, as with --ssh-persist)' : 'no (each run connects, as a CLI run without --ssh-persist)'}`,
  ];
  for (const kind of ['converge', 'met'] as const) {
    const ratios = rows.map((r) => r[kind][0] / r[kind][1]);
    const med = median(ratios);
    const label = kind === 'converge' ? 'converging apply --all' : 'apply --all, everything met';
    lines.push(
      `${label}: Politburo ${rows.map((r) => s(r[kind][0])).join(', ')}; ideal ${rows.map((r) => s(r[kind][1])).join(', ')}; ` +
        `ratio ${ratios.map((x) => x.toFixed(3)).join(', ')} (median ${med.toFixed(3)}, target ≤ ${TARGET[kind]}): ${med <= TARGET[kind] ? 'PASS' : 'FAIL'}`,
    );
  }
  // Beyond the ideal runner: the converging makespan within one Babushka start-up of the critical path.
  const over = median(rows.map((r) => r.converge[0])) - critical;
  const idealOver = median(rows.map((r) => r.converge[1])) - critical;
  lines.push(
    `converging apply over the critical path (median): Politburo ${s(over)}, ideal ${s(idealOver)}; one Babushka start-up ` +
      `(babushka --version over an open connection, median) ${s(startup)}: Politburo ${(over / startup).toFixed(1)} start-ups, ` +
      `ideal ${(idealOver / startup).toFixed(1)}; target ≤ 1: ${over <= startup ? 'PASS' : 'FAIL'}`,
  );
  // The same goal against the critical path of the Babushka commands themselves (what Babushka does for the tasks, its
  // start-up excluded where it was hidden): what is left over it is the runner's own overhead.
  const overTasks = rows.map((r) => r.converge[0] - r.taskPath);
  lines.push(
    `converging apply over the critical path of its Babushka commands (each from its start, or its release when started ahead, to its end; ${rows.map((r) => s(r.taskPath)).join(', ')}): ` +
      `${overTasks.map((x) => s(x)).join(', ')} = ${overTasks.map((x) => (x / startup).toFixed(1)).join(', ')} start-ups; target ≤ 1: ${median(overTasks) <= startup ? 'PASS' : 'FAIL'}`,
  );
  // CPU: what each runner made the machine do, whatever else ran on it.
  const total = (c: Cpu) => c.hosts + c.controller + c.postgres;
  const cpuText = (c: Cpu) =>
    `${s(total(c))} (hosts ${s(c.hosts)}, controller ${s(c.controller)}, PostgreSQL ${s(c.postgres)})`;
  for (const kind of ['converge', 'met'] as const) {
    const med = (i: 0 | 1, k: keyof Cpu) => median(rows.map((r) => r.cpu[kind][i][k]));
    const pick = (i: 0 | 1): Cpu => ({
      hosts: med(i, 'hosts'),
      controller: med(i, 'controller'),
      postgres: med(i, 'postgres'),
    });
    lines.push(`CPU, ${kind} (medians): Politburo ${cpuText(pick(0))}; ideal ${cpuText(pick(1))}`);
  }
  const unheld = rows.flatMap((r) => (r.unheld ? [r.unheld] : []));
  if (unheld.length) {
    const ratios = unheld.map(([pb, id]) => pb / id);
    lines.push(
      `converging apply --all without Babushka started ahead: Politburo ${unheld.map(([pb]) => s(pb)).join(', ')}; ` +
        `ratio ${ratios.map((x) => x.toFixed(3)).join(', ')} (median ${median(ratios).toFixed(3)}); over the critical path (median) ${s(median(unheld.map(([pb]) => pb)) - critical)}`,
    );
  }
  const drifted = rows.flatMap((r) => (r.drifted ? [r.drifted] : []));
  if (drifted.length) {
    const ratios = drifted.map(([pb, id]) => pb / id);
    lines.push(
      `apply --all, every host reset under ready records (all drifted): Politburo ${drifted.map(([pb]) => s(pb)).join(', ')}; ideal converging ${drifted.map(([, id]) => s(id)).join(', ')}; ` +
        `ratio ${ratios.map((x) => x.toFixed(3)).join(', ')} (median ${median(ratios).toFixed(3)}; no target of its own)`,
    );
  }
  for (const [kind, pb, id] of [
    ['converge', last.pbConverge, last.idConverge],
    ['met', last.pbMet, last.idMet],
    ...(last.pbDrifted ? [['all drifted', last.pbDrifted, last.idConverge] as const] : []),
  ] as const) {
    lines.push(`where Politburo's time goes (${kind}, last run; medians over nodes, max in brackets):`);
    lines.push(...breakdown(pb, id, dag).map((l) => `  ${l}`));
  }
  const f = last.pbConverge;
  const taskOverhead = f.result.nodes.map((n) => (n.tasks[0].durationMs ?? 0) - 1000 * SLEEP[roleOf(n.path)]);
  lines.push(
    `task time beyond its sleep (Babushka process over SSH, converge): median ${median(taskOverhead)}ms, max ${Math.max(...taskOverhead)}ms`,
    `SSH connections per host (converge): ${Object.keys(f.connections).length ? stat(f.connections) : 'none'}; (met): ${Object.keys(last.pbMet.connections).length ? stat(last.pbMet.connections) : 'none'}${PERSIST ? `; kept from the run before (converge): ${Object.keys(f.reused).length} hosts, (met): ${Object.keys(last.pbMet.reused).length} hosts (--persist)` : ''}; deps uploads per host: ${Object.keys(f.uploads).length ? stat(f.uploads) : 'none (already there)'}`,
    `remote processes per host (converge): ${stat(f.execs)}; (met): ${stat(last.pbMet.execs)}`,
    `already met tasks in the met run: ${last.pbMet.result.nodes.flatMap((n) => n.tasks).filter((t) => t.outcome === 'already met').length}/${last.pbMet.result.nodes.length}`,
  );
  if (process.env.BENCH_VERBOSE) {
    for (const [kind, pb, id] of [
      ['converge', last.pbConverge, last.idConverge],
      ['met', last.pbMet, last.idMet],
    ] as const) {
      lines.push(
        `timeline (${kind}): path, Politburo started → task started → task finished → ready | ideal start → end`,
      );
      for (const { path: p } of dag) {
        const m = pb.marks.get(p)!;
        const i = id.timeline.get(p)!;
        lines.push(
          `  ${p.padEnd(20)} ${s(m.started!)} → ${s(m.taskStarted!)} → ${s(m.taskFinished!)} → ${s(m.ready!)} | ${s(i.start)} → ${s(i.end)}`,
        );
      }
    }
  }
  process.stdout.write(lines.join('\n') + '\n');
}

/**
 * Politburo's run cut into steps, against the ideal runner's run of the same DAG: the nodes checked in parallel and
 * counted as met (docs/architecture.md), then the nodes that ran in dependency order.
 */
function breakdown(pb: PolitburoRun, id: IdealRun, all: { path: string; deps: string[] }[]): string[] {
  const m = (p: string) => pb.marks.get(p)!;
  const st = (xs: number[]) => (xs.length ? `${median(xs).toFixed(0)}ms (${Math.max(...xs).toFixed(0)})` : '-');
  const checked = all.filter((n) => m(n.path).configuring === undefined);
  const dag = all.filter((n) => m(n.path).configuring !== undefined);
  const lines = [
    `nodes checked in parallel and counted as met: ${checked.length}; run in dependency order: ${dag.length}`,
  ];
  if (checked.length) {
    const byPath = new Map(pb.result.nodes.map((n) => [n.path, n]));
    // A check's times are the node's result times (wall clock), made relative to the apply's start.
    const at = (iso: string | undefined) => Date.parse(iso!) - pb.wallStart;
    const lastCheck = Math.max(...checked.map((n) => at(byPath.get(n.path)!.finishedAt)));
    lines.push(
      `apply called → first check started (lock, run record, recorded state, plan): ${Math.min(...checked.map((n) => m(n.path).started!)).toFixed(0)}ms`,
      `check (SSH connect or reuse, deps check, the dry run): ${st(checked.map((n) => at(byPath.get(n.path)!.finishedAt) - at(byPath.get(n.path)!.startedAt)))}; ideal runner's command: ${st(checked.map((n) => id.timeline.get(n.path)!.end - id.timeline.get(n.path)!.start))}`,
      `last check ended → last node counted and recorded ready: ${(Math.max(...checked.map((n) => m(n.path).ready!)) - lastCheck).toFixed(0)}ms`,
    );
  }
  if (!dag.length)
    return [
      ...lines,
      `last node ready → apply returned: ${(pb.ms - Math.max(...all.map((n) => m(n.path).ready!))).toFixed(0)}ms`,
    ];
  return [...lines, ...orderedBreakdown(pb, id, dag)];
}

/** The nodes that ran in dependency order, step by step. */
function orderedBreakdown(pb: PolitburoRun, id: IdealRun, dag: { path: string; deps: string[] }[]): string[] {
  const m = (p: string) => pb.marks.get(p)!;
  const st = (xs: number[]) => (xs.length ? `${median(xs).toFixed(0)}ms (${Math.max(...xs).toFixed(0)})` : '-');
  const roots = dag.filter((n) => n.deps.length === 0).map((n) => n.path);
  const depsDone = (n: { deps: string[] }) => Math.max(...n.deps.map((d) => m(d).ready!));
  const inner = dag.filter((n) => n.deps.length > 0);
  const lastReady = Math.max(...dag.map((n) => m(n.path).ready!));
  const idealStartGap = inner.map(
    (n) => id.timeline.get(n.path)!.start - Math.max(...n.deps.map((d) => id.timeline.get(d)!.end)),
  );
  return [
    `apply called → first node started (lock, run record, recorded state, plan): ${Math.min(...roots.map((p) => m(p).started!)).toFixed(0)}ms`,
    `dependency recorded ready → dependent started (scheduler): ${st(inner.map((n) => m(n.path).started! - depsDone(n)))}`,
    `node started → configuring recorded: ${st(dag.map((n) => m(n.path).configuring! - m(n.path).started!))}`,
    `configuring → task started (SSH connect or reuse, deps check): ${st(dag.map((n) => m(n.path).taskStarted! - m(n.path).configuring!))}`,
    `task started → finished (the Babushka command): ${st(dag.map((n) => m(n.path).taskFinished! - m(n.path).taskStarted!))}; ideal runner's same command: ${st(dag.map((n) => id.timeline.get(n.path)!.end - id.timeline.get(n.path)!.start))}`,
    `task finished → ready recorded: ${st(dag.map((n) => m(n.path).ready! - m(n.path).taskFinished!))}`,
    `last node ready → apply returned (run finished, lock released): ${(pb.ms - lastReady).toFixed(0)}ms`,
    `ideal runner: dependency finished → dependent started: ${st(idealStartGap)}`,
  ];
}

await main();
