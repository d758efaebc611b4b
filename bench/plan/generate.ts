/** The benchmark's environment: a description of 10,000 node instances and the recorded state of the previous apply. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RecordedNode, ResolvedEnvironment } from '../../kernel/types.js';

export const REGIONS = 10;
export const WEB_PER_REGION = 985;
export const CACHE_PER_REGION = 15;

/**
 * A database and 10 regions × (15 caches + 985 web nodes) = 10,001 nodes, each with a host, three or four tasks from
 * composed roles (arguments interpolated); every web node waits for the database.
 */
export function benchDescription(): string {
  const regions = Array.from({ length: REGIONS }, (_, i) => `r${String(i + 1).padStart(2, '0')}`);
  return `politburo: 1
defaults: { ssh: { user: deploy }, concurrency: 50 }
roles:
  base:
    tasks:
      - babushka: 'lamp base'
      - name: swappiness tuned
        met: test "$(sysctl -n vm.swappiness)" = 10
        meet: sysctl -w vm.swappiness=10
  db: { roles: [base], tasks: [{ babushka: 'postgres master', args: { version: '16', name: '\${self.path}' } }] }
  cache: { roles: [base], tasks: [{ babushka: 'redis', args: { maxmemory: '\${params.cache_mb}mb', index: '\${self.index}' } }] }
  web:
    roles: [base]
    tasks:
      - babushka: 'app deployed'
        args: { ref: '\${params.app_ref}', region: '\${each}', instance: '\${self.name}' }
      - babushka: 'nginx site'
        args: { server_name: '\${self.name}.\${each}.example.internal' }
blueprints:
  fleet:
    params: { app_ref: v2.0.0, cache_mb: 512 }
    resources:
      db: { roles: [db] }
      region:
        for_each: [${regions.join(', ')}]
        resources:
          cache: { roles: [cache], count: ${CACHE_PER_REGION} }
          web: { roles: [web], count: ${WEB_PER_REGION}, depends_on: [db] }
environments:
  bench:
    blueprint: fleet
    params: { app_ref: v2.1.0 }
    hosts:
      db: db1.example.internal
      region: '\${self.name}.\${each}.example.internal'
`;
}

/** Writes the description into dir. */
export function writeBenchRepository(dir: string): void {
  mkdirSync(path.join(dir, 'babushka-deps'), { recursive: true });
  writeFileSync(path.join(dir, 'politburo.yml'), benchDescription());
}

/**
 * The previous apply as recorded: every node ready at its desired spec, except that 1% had an older app_ref (updates),
 * 0.5% were never applied (creates) and 20 nodes no longer described remain recorded (terminates).
 */
export function previousState(env: ResolvedEnvironment): RecordedNode[] {
  const recorded: RecordedNode[] = [];
  env.nodes.forEach((n, i) => {
    if (i % 200 === 7) return;
    const host = n.host.kind === 'static' ? n.host.address : n.host.kind === 'local' ? 'local' : null;
    const older = i % 100 === 3;
    const tasks = older
      ? n.tasks.map((t) =>
          t.kind === 'babushka' && t.dep === 'app deployed' ? { ...t, args: { ...t.args, ref: 'v2.0.0' } } : t,
        )
      : n.tasks;
    recorded.push({
      path: n.path,
      host,
      port: 22,
      user: 'deploy',
      specHash: older ? `old-${n.specHash}` : n.specHash,
      tasks,
      state: 'ready',
      lastAppliedCommit: 'b3nchb3',
      lastRunId: null,
    });
  });
  for (let i = 1; i <= 20; i++) {
    recorded.push({
      path: `retired/web-${i}`,
      host: `10.9.0.${i}`,
      specHash: 'gone',
      tasks: [],
      state: 'ready',
      lastAppliedCommit: 'b3nchb3',
      lastRunId: null,
    });
  }
  return recorded;
}
