/**
 * Plan benchmark: `politburo plan bench --json` on 10,000 nodes against 10,000 recorded nodes, timed as a child
 * process.
 * Usage: node --import tsx bench/plan/run.ts [--runs N] [--no-build] [--tsx]
 * Uses DATABASE_URL (or starts the embedded PostgreSQL once, before timing: database start-up is not measured).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadDescription } from '../../schema/load-description.js';
import { openStore } from '../../store/open-store.js';
import { previousState, writeBenchRepository } from './generate.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] || 5) || 5;
const useTsx = args.includes('--tsx');

interface Sample {
  wallMs: number;
  rssMb: number;
  /** User + system CPU of the child (from /usr/bin/time), less sensitive than wall time to a busy machine. */
  cpuMs: number | null;
  exitCode: number | null;
  summary: Record<string, number>;
}

/** The command that runs the CLI: the compiled package (as installed) or, with --tsx, the sources. */
function cliCommand(): string[] {
  if (useTsx) return ['--import', 'tsx', path.join(ROOT, 'cli/bin.ts')];
  if (!args.includes('--no-build')) {
    // tsc emits even when files owned by others have type errors; only a missing output is fatal.
    spawnSync('npx', ['tsc', '-p', path.join(ROOT, 'tsconfig.json')], { cwd: ROOT, stdio: 'ignore' });
  }
  const bin = path.join(ROOT, 'dist/cli/bin.js');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run npm run build (or pass --tsx)`);
  return [bin];
}

function measure(cli: string[], dir: string, url: string, expected: number): Sample {
  const timeV = existsSync('/usr/bin/time') ? ['/usr/bin/time', '-v'] : [];
  const argv = [
    ...timeV,
    process.execPath,
    '--import',
    path.join(import.meta.dirname, 'report-rss.mjs'),
    ...cli,
    'plan',
    'bench',
    '--json',
    '--dir',
    dir,
    '--database-url',
    url,
  ];
  const started = performance.now();
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const wallMs = performance.now() - started;
  const doc = JSON.parse(r.stdout) as { nodes: unknown[]; summary: Record<string, number> };
  if (doc.nodes.length !== expected) throw new Error(`unexpected plan: ${doc.nodes.length} nodes`);
  const timeRss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1];
  const selfRss = /BENCH maxRSS_kB=(\d+)/.exec(r.stderr)?.[1];
  const user = /User time \(seconds\): ([\d.]+)/.exec(r.stderr)?.[1];
  const sys = /System time \(seconds\): ([\d.]+)/.exec(r.stderr)?.[1];
  const cpuMs = user && sys ? (Number(user) + Number(sys)) * 1000 : null;
  return { wallMs, rssMb: Number(timeRss ?? selfRss) / 1024, cpuMs, exitCode: r.status, summary: doc.summary };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pb-bench-plan-'));
  const opened = await openStore({ databaseUrl: process.env.DATABASE_URL, log: (m) => process.stderr.write(`${m}\n`) });
  try {
    writeBenchRepository(dir);
    const loaded = await loadDescription({ dir });
    if (!loaded.ok) throw new Error(`bench description invalid: ${JSON.stringify(loaded.errors.slice(0, 3))}`);
    const env = loaded.description.environments.get('bench')!;
    const repository = realpathSync(dir);
    await opened.store.bulkRecordNodes(repository, 'bench', previousState(env));
    const cli = cliCommand();
    const samples: Sample[] = [];
    for (let i = 0; i < runs + 1; i++) samples.push(measure(cli, dir, opened.url, env.nodes.length + 20));
    const timed = samples.slice(1); // the first run warms the OS file cache and PostgreSQL's buffers
    const walls = timed.map((s) => s.wallMs).sort((a, b) => a - b);
    const rss = Math.max(...timed.map((s) => s.rssMb));
    console.log(`nodes: ${env.nodes.length} described, plan ${JSON.stringify(timed[0].summary)}`);
    console.log(
      `runner: ${useTsx ? 'tsx (sources)' : 'node dist/cli/bin.js'}; ${timed.length} timed runs after 1 warm-up; exit code ${timed[0].exitCode}`,
    );
    console.log(
      `wall: median ${Math.round(walls[Math.floor(walls.length / 2)])} ms, max ${Math.round(walls.at(-1)!)} ms (target < 1500 ms)`,
    );
    const cpus = timed
      .map((s) => s.cpuMs)
      .filter((c): c is number => c !== null)
      .sort((a, b) => a - b);
    if (cpus.length) console.log(`cpu (user+sys): median ${Math.round(cpus[Math.floor(cpus.length / 2)])} ms`);
    console.log(
      `load average: ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} on ${os.cpus().length} cores`,
    );
    console.log(`max RSS: ${Math.round(rss)} MB (target < 300 MB)`);
    const ok = walls[Math.floor(walls.length / 2)] < 1500 && rss < 300;
    console.log(ok ? 'PASS' : 'FAIL');
    process.exitCode = ok ? 0 : 1;
  } finally {
    await opened.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
