/**
 * One Babushka process per dep vs one generated dep per node, over real SSH (loopback sshd) with the stand-in.
 * Run: node --import tsx bench/tasks/babushka-modes.bench.ts [tasksPerNode] [rounds]
 */
import { createHostConnector } from '../../hosts/ssh-connector.js';
import { hashDepsDir } from '../../kernel/deps-hash.js';
import { runNodeTasks } from '../../reconciler/tasks/run-node-tasks.js';
import type { BabushkaTask, ResolvedNode } from '../../kernel/types.js';
import { fixtureDepsDir, startSshHosts } from '../../test/helpers/sshd.js';

const tasksPerNode = Number(process.argv[2] ?? 5);
const rounds = Number(process.argv[3] ?? 10);
const src = { file: 'bench', line: 1, column: 1 };
const deps = ['base', 'app deployed', 'echo args', 'unmeetable'].slice(0, 3);
const tasks: BabushkaTask[] = Array.from({ length: tasksPerNode }, (_, i) => {
  const dep = deps[i % deps.length];
  const args: Record<string, string> =
    dep === 'app deployed' ? { ref: 'v2' } : dep === 'echo args' ? { value: `v${i}` } : {};
  return { kind: 'babushka', name: `${dep} #${i}`, dep, args, source: src };
});
const node: ResolvedNode = {
  path: 'n',
  name: 'n',
  host: { kind: 'local', source: src },
  tasks,
  dependsOn: [],
  source: src,
  specHash: 'h',
};

const env = await startSshHosts(1);
const connector = createHostConnector({ privateKey: env.privateKey, knownHosts: [env.knownHosts] });
try {
  const h = env.hosts[0];
  const conn = await connector.connect({ kind: 'ssh', address: h.address, port: h.port, user: h.user });
  const dir = await conn.ensureDeps(fixtureDepsDir, await hashDepsDir(fixtureDepsDir));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const modes = ['per-dep', 'generated'] as const;
  const samples = Object.fromEntries(modes.map((m) => [m, { dry: [] as number[], apply: [] as number[] }]));
  const time = async (mode: (typeof modes)[number], dryRun: boolean) => {
    const t0 = performance.now();
    const rs = await runNodeTasks(conn, node, {
      dryRun,
      remoteDepsDir: dir,
      timeoutMs: 60_000,
      secrets: {},
      babushkaMode: mode,
    });
    if (rs.some((r) => r.outcome === 'failed')) throw new Error(JSON.stringify(rs));
    return performance.now() - t0;
  };
  for (const mode of modes) await time(mode, false); // everything met: from here on, the common case of nothing to do
  // Modes alternate round by round, so load from elsewhere on the machine hits both alike.
  for (let i = 0; i < rounds; i++) {
    for (const mode of modes) {
      samples[mode].dry.push(await time(mode, true));
      samples[mode].apply.push(await time(mode, false));
    }
  }
  const results = Object.fromEntries(
    modes.map((m) => [m, { dry: Math.round(median(samples[m].dry)), apply: Math.round(median(samples[m].apply)) }]),
  );
  console.log(`${tasksPerNode} babushka tasks per node, median of ${rounds} runs (ms):`);
  console.table(results);
} finally {
  await connector.close();
  await env.stop();
}
