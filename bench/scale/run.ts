/**
 * Scale benchmark: 100, 300 and 1,000 loopback sshd hosts (bench/scale/hosts.ts), one node each (a database, N−2
 * webs depending on it, an lb depending on every web), shell tasks (a file test and a touch) so the hosts' side stays
 * cheap; `--babushka` gives every node one Babushka task instead (the real Babushka when it is beside the repository).
 * For each size, in a fresh process (the controller, whose memory and CPU are measured): a converging `apply --all`,
 * an `apply --all` with everything met, and a `drift`. Prints the controller's peak RSS, its CPU per node
 * (process.cpuUsage around the run / nodes), SSH connections per host (the connector's stats) and wall times, then a
 * table over the sizes with PASS/FAIL against the targets.
 *
 * Run (needs root for sshd, and PostgreSQL):
 *   DATABASE_URL=postgres://... node --import tsx bench/scale/run.ts [--sizes 100,300,1000] [--babushka]
 *     [--concurrency N] [--profile DIR]
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyEnvironment } from '../../reconciler/apply-environment.js';
import { driftEnvironment } from '../../reconciler/drift-environment.js';
import { createHostConnector } from '../../hosts/ssh-connector.js';
import { openStore } from '../../store/open-store.js';
import type { Description, RunResult, StateStore } from '../../kernel/types.js';
import { loadDescription } from '../../schema/load-description.js';
import { createTestDatabase } from '../../test/helpers/db.js';
import { realBabushka } from '../../test/helpers/sshd.js';
import { startScaleHosts, type ScaleHost } from './hosts.js';
import { profiled } from './profile.js';

/**
 * 1,000 sshd sharing two cores with other work answer slowly: the connect timeout (default 15 s) is raised so a loaded
 * machine measures CPU instead of failing (BENCH_CONNECT_TIMEOUT seconds, default 120).
 */
const CONNECT_TIMEOUT_MS = Number(process.env.BENCH_CONNECT_TIMEOUT ?? 120) * 1000;

const argv = process.argv.slice(2);
const option = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const BABUSHKA = argv.includes('--babushka');
/** `--profile DIR`: a CPU profile of each phase (DIR/SIZE-PHASE.cpuprofile) and its summary on stderr. */
const PROFILE = option('--profile');
const CONCURRENCY = Number(option('--concurrency') ?? 100);
const TARGET = { rssMb: 300, cpuMsPerNode: 5, connectionsPerHost: 1 };

/** What one size measured (printed as JSON by the child process). */
interface Figures {
  hosts: number;
  startSeconds: number;
  phases: Record<
    'converge' | 'met' | 'drift',
    { wallMs: number; cpuMsPerNode: number; peakRssMb: number; connectionsMin: number; connectionsMax: number }
  >;
  /** A connection and one command per host, without the engine. */
  sshOnly: { wallMs: number; cpuMsPerHost: number };
  maxRssMb: number;
  load: number[];
}

function description(hosts: ScaleHost[]): string {
  const h = (x: ScaleHost) => `{ address: '${x.address}', port: ${x.port}, user: ${x.user} }`;
  const names = hosts.map((_, i) =>
    i === 0 ? 'db' : i === hosts.length - 1 ? 'lb' : `web-${String(i).padStart(4, '0')}`,
  );
  const task = (name: string) =>
    BABUSHKA
      ? `[{ babushka: 'marker', args: { label: ${name} } }]`
      : `[{ name: marker, met: 'test -f ~/scale/${name}', meet: 'mkdir -p ~/scale && touch ~/scale/${name}' }]`;
  const deps = (i: number) => (i === 0 ? '' : i === hosts.length - 1 ? ', depends_on: [web]' : ', depends_on: [db]');
  const webs = names.slice(1, -1);
  return [
    'politburo: 1',
    `defaults: { concurrency: ${CONCURRENCY}, timeout: 300s }`,
    'environments:',
    '  bench:',
    '    known_hosts: known_hosts',
    '    resources:',
    `      db: { tasks: ${task('db')} }`,
    '      web:',
    '        resources:',
    ...webs.map((n, k) => `          ${n}: { tasks: ${task(n)}${deps(k + 1)} }`),
    `      lb: { tasks: ${task('lb')}${deps(hosts.length - 1)} }`,
    '    hosts:',
    `      db: ${h(hosts[0])}`,
    ...webs.map((n, k) => `      web/${n}: ${h(hosts[k + 1])}`),
    `      lb: ${h(hosts[hosts.length - 1])}`,
    '',
  ].join('\n');
}

const MARKER = `dep 'marker', :label do
  met? { File.exist?(File.expand_path("~/scale/#{label}")) }
  meet { require 'fileutils'; FileUtils.mkdir_p(File.expand_path('~/scale')); FileUtils.touch(File.expand_path("~/scale/#{label}")) }
end
`;

/** Runs `work`, measuring wall time, this process's CPU and its peak RSS (sampled every 200 ms). */
async function measure<T>(
  work: () => Promise<T>,
): Promise<{ value: T; wallMs: number; cpuMs: number; peakRss: number }> {
  // memoryUsage.rss() reads only the RSS: a full process.memoryUsage() every 50 ms cost ~2 ms of CPU per node of a
  // 100-node run, which is what this benchmark measures.
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 200);
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  try {
    const value = await work();
    const wallMs = performance.now() - t0;
    const used = process.cpuUsage(cpu);
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    return { value, wallMs, cpuMs: (used.user + used.system) / 1000, peakRss };
  } finally {
    clearInterval(sampler);
  }
}

/** One size, in this process: hosts, database, three runs. */
async function one(n: number): Promise<Figures> {
  const babushka = realBabushka();
  const t0 = Date.now();
  const fleet = await startScaleHosts(n, { babushkaBin: BABUSHKA ? babushka.bin : undefined });
  const startSeconds = (Date.now() - t0) / 1000;
  process.stderr.write(`[${n}] started ${n} sshd hosts in ${startSeconds.toFixed(1)}s\n`);
  const testDb = await createTestDatabase();
  const opened = await openStore({ databaseUrl: testDb.url });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'politburo-bench-scale-desc-'));
  let sshOnly: Figures['sshOnly'] = { wallMs: 0, cpuMsPerHost: 0 };
  try {
    await mkdir(path.join(dir, 'babushka-deps'));
    await writeFile(path.join(dir, 'babushka-deps', 'marker.rb'), MARKER);
    await writeFile(path.join(dir, 'politburo.yml'), description(fleet.hosts));
    await writeFile(path.join(dir, 'known_hosts'), fleet.knownHosts);
    const loaded = await loadDescription({ dir });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors).slice(0, 2000));
    // What SSH alone costs the controller: a connection to every host and one command on it, `concurrency` at a time,
    // as a run connects (handshake, key exchange, authentication, a channel): the part of the CPU per node no engine
    // change can save.
    {
      const connector = createHostConnector({
        privateKey: fleet.privateKey,
        knownHosts: [fleet.knownHosts],
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
      });
      const queue = [...fleet.hosts];
      const m = await measure(() =>
        Promise.all(
          Array.from({ length: Math.min(CONCURRENCY, n) }, async () => {
            for (let h = queue.shift(); h; h = queue.shift()) {
              const conn = await connector.connect({ kind: 'ssh', address: h.address, port: h.port, user: h.user });
              const r = await conn.exec('true');
              if (r.code !== 0) throw new Error(`${h.address}: true exited ${r.code}`);
            }
          }),
        ),
      );
      await connector.close();
      sshOnly = { wallMs: Math.round(m.wallMs), cpuMsPerHost: m.cpuMs / n };
      process.stderr.write(
        `[${n}] SSH only (connect + one command per host): ${(m.wallMs / 1000).toFixed(2)}s, CPU ${(m.cpuMs / n).toFixed(2)} ms/host\n`,
      );
    }
    const phases = {} as Figures['phases'];
    for (const phase of ['converge', 'met', 'drift'] as const) {
      const connector = createHostConnector({
        privateKey: fleet.privateKey,
        knownHosts: [fleet.knownHosts],
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
      });
      const input = engineInput(loaded.description, dir, opened.store, connector);
      const work = () =>
        phase === 'drift' ? driftEnvironment({ ...input, heal: false }) : applyEnvironment({ ...input, all: true });
      const m = await measure(async () => {
        if (!PROFILE) return work();
        const p = await profiled(path.join(PROFILE, `${n}-${phase}.cpuprofile`), work);
        process.stderr.write(`[${n}] ${phase} profile:\n${p.summary.join('\n')}\n`);
        return p.value;
      });
      const connections = Object.values(connector.stats().connections);
      await connector.close();
      check(phase, m.value, n);
      phases[phase] = {
        wallMs: Math.round(m.wallMs),
        cpuMsPerNode: m.cpuMs / n,
        peakRssMb: m.peakRss / 2 ** 20,
        connectionsMin: Math.min(...connections),
        connectionsMax: Math.max(...connections),
      };
      process.stderr.write(
        `[${n}] ${phase}: ${(m.wallMs / 1000).toFixed(2)}s, CPU ${(m.cpuMs / n).toFixed(2)} ms/node, peak RSS ${(m.peakRss / 2 ** 20).toFixed(0)} MB, load ${os.loadavg()[0].toFixed(1)}\n`,
      );
    }
    return {
      hosts: n,
      startSeconds,
      sshOnly,
      phases,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
      load: os.loadavg(),
    };
  } finally {
    await opened.close();
    await testDb.drop();
    await fleet.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function engineInput(
  description: Description,
  dir: string,
  store: StateStore,
  connector: ReturnType<typeof createHostConnector>,
) {
  return {
    description,
    environment: 'bench',
    repository: dir,
    commit: null,
    store,
    connector,
    secrets: {},
    trigger: 'bench',
  };
}

function check(phase: string, result: RunResult, n: number): void {
  const want = phase === 'drift' ? 'ready' : 'ready';
  const bad = result.nodes.filter((x) => x.state !== want);
  if (result.nodes.length !== n || bad.length)
    throw new Error(
      `${phase}: ${result.nodes.length} nodes, ${bad.length} not ${want}: ${JSON.stringify(bad.slice(0, 3), null, 1)}`,
    );
  if (phase === 'met' && result.nodes.some((x) => x.tasks.some((t) => t.outcome !== 'already met')))
    throw new Error('met: a task was not already met');
}

/** Runs one size in a child process (so its memory is its own) and returns its figures. */
function child(n: number): Promise<Figures> {
  const self = fileURLToPath(import.meta.url);
  const args = ['--import', 'tsx', self, '--one', String(n), '--concurrency', String(CONCURRENCY)];
  if (BABUSHKA) args.push('--babushka');
  if (PROFILE) args.push('--profile', path.resolve(PROFILE));
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.once('error', reject);
    c.once('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split('\n').pop()!) as Figures)
        : reject(new Error(`size ${n}: exit ${code}`)),
    );
  });
}

async function main(): Promise<void> {
  if (!process.env.DATABASE_URL) throw new Error('bench/scale needs DATABASE_URL (a PostgreSQL server)');
  const one_ = option('--one');
  if (one_) {
    process.stdout.write(JSON.stringify(await one(Number(one_))) + '\n');
    return;
  }
  const sizes = (option('--sizes') ?? (BABUSHKA ? '100' : '100,300,1000')).split(',').map(Number);
  const figures: Figures[] = [];
  for (const n of sizes) figures.push(await child(n));
  const f1 = (x: number) => x.toFixed(1);
  const lines = [
    `scale: ${BABUSHKA ? `Babushka tasks (${realBabushka().note})` : 'shell tasks'}, concurrency ${CONCURRENCY}, ${os.cpus().length} cores`,
    '| hosts | apply --all (converge) | apply --all (met) | drift | CPU ms/node (converge / met / drift) | of which SSH alone (ms/host) | peak RSS MB | connections/host | load |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...figures.map((f) => {
      const p = f.phases;
      const conn = [p.converge, p.met, p.drift].map((x) =>
        x.connectionsMin === x.connectionsMax ? `${x.connectionsMax}` : `${x.connectionsMin}–${x.connectionsMax}`,
      );
      return `| ${f.hosts} | ${f1(p.converge.wallMs / 1000)} s | ${f1(p.met.wallMs / 1000)} s | ${f1(p.drift.wallMs / 1000)} s | ${[p.converge, p.met, p.drift].map((x) => x.cpuMsPerNode.toFixed(2)).join(' / ')} | ${f.sshOnly.cpuMsPerHost.toFixed(2)} | ${Math.round(f.maxRssMb)} | ${conn.join(' / ')} | ${f.load.map((l) => l.toFixed(1)).join(' ')} |`;
    }),
  ];
  // The target is for the runs a fleet repeats: `apply --all` with everything met, and `drift`. A converging apply
  // runs three commands per node (met, meet, met) and records every task; its figure is printed beside them.
  const worstCpu = Math.max(...figures.flatMap((f) => [f.phases.met.cpuMsPerNode, f.phases.drift.cpuMsPerNode]));
  const worstConverge = Math.max(...figures.map((f) => f.phases.converge.cpuMsPerNode));
  const worstRss = Math.max(...figures.map((f) => f.maxRssMb));
  const connOk = figures.every((f) =>
    Object.values(f.phases).every((p) => p.connectionsMin === 1 && p.connectionsMax === 1),
  );
  lines.push(
    `peak RSS ${Math.round(worstRss)} MB (target ≤ ${TARGET.rssMb}): ${worstRss <= TARGET.rssMb ? 'PASS' : 'FAIL'}`,
    `controller CPU per node, apply --all met and drift, worst size ${worstCpu.toFixed(2)} ms (target ≤ ${TARGET.cpuMsPerNode}): ${worstCpu <= TARGET.cpuMsPerNode ? 'PASS' : 'FAIL'}`,
    `controller CPU per node, converging apply (three commands per node), worst size ${worstConverge.toFixed(2)} ms (no target)`,
    `one SSH connection per host in every run: ${connOk ? 'PASS' : 'FAIL'}`,
  );
  if (figures.length > 1) {
    const a = figures[0];
    const b = figures[figures.length - 1];
    const k = b.hosts / a.hosts;
    for (const phase of ['met', 'drift'] as const) {
      const growth = b.phases[phase].cpuMsPerNode / a.phases[phase].cpuMsPerNode;
      const wall = b.phases[phase].wallMs / a.phases[phase].wallMs;
      lines.push(
        `${phase}: ${k}× the hosts → CPU per node ×${growth.toFixed(2)}, wall ×${wall.toFixed(2)} (quadratic would be CPU per node ×${k}): ${growth < 2 ? 'PASS' : 'FAIL'}`,
      );
    }
  }
  process.stdout.write(lines.join('\n') + '\n');
}

await main();
