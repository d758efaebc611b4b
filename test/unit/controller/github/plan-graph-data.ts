/** Plans with dependencies, for the dependency graph of the plan comment. */
import type { PlanForRender } from '../../../../controller/ports.js';
import type { DependencyState, PlanAction, PlannedNode, ResolvedNode } from '../../../../kernel/types.js';
import { HEAD } from './sample-data.js';

export interface NodeSpec {
  path: string;
  action: PlanAction;
  host?: string | null;
  /** Paths waited for ready, or [path, 'provisioned']. */
  deps?: (string | [string, DependencyState])[];
  changes?: string[];
}

const source = { file: 'politburo.yml', line: 1, column: 1 };

/** A plan of the given nodes; every node but those to terminate carries its resolved dependencies. */
export function depPlan(environment: string, specs: NodeSpec[]): PlanForRender {
  const nodes: PlannedNode[] = specs.map((s) => {
    const host = s.host === undefined ? `10.0.0.${(specs.indexOf(s) % 250) + 1}` : s.host;
    const resolved: ResolvedNode = {
      path: s.path,
      name: s.path.slice(s.path.lastIndexOf('/') + 1),
      host: host ? { kind: 'static', address: host, port: 22, user: 'deploy', source } : { kind: 'local' },
      tasks: [],
      dependsOn: (s.deps ?? []).map((d) => {
        const [path, state] = typeof d === 'string' ? [d, 'ready' as const] : d;
        return { path, state, kind: 'explicit', source };
      }),
      source,
      specHash: 'h',
    } as unknown as ResolvedNode;
    return {
      path: s.path,
      host,
      action: s.action,
      changes: s.changes ?? (s.action === 'update' ? ["task 'app' arguments changed"] : []),
      ...(s.action === 'terminate' ? {} : { node: resolved }),
    };
  });
  const summary = { create: 0, update: 0, unchanged: 0, terminate: 0 };
  for (const n of nodes) summary[n.action]++;
  return { environment, errors: [], plan: { environment, commit: HEAD, nodes, summary } };
}

/**
 * A small web stack: the database master is updated, two web nodes are created, the old cron box goes. The replica
 * (waits for the master provisioned), the cache (the web nodes wait for it) and the load balancer (waits for the web
 * nodes) are affected; backup (two steps away) and monitoring (unrelated) are not.
 */
export const smallGraphPlan: PlanForRender = depPlan('production', [
  { path: 'database/master', action: 'update', host: '203.0.113.10' },
  { path: 'database/replica-1', action: 'unchanged', host: '203.0.113.11', deps: [['database/master', 'provisioned']] },
  { path: 'backup', action: 'unchanged', host: '203.0.113.12', deps: ['database/replica-1'] },
  { path: 'cache', action: 'unchanged', host: '203.0.113.30' },
  { path: 'web/web-1', action: 'create', host: '203.0.113.21', deps: ['database/master', 'cache'] },
  { path: 'web/web-2', action: 'create', host: null, deps: ['database/master', 'cache'] },
  { path: 'lb', action: 'unchanged', host: '203.0.113.2', deps: ['web/web-1', 'web/web-2', 'database/master'] },
  { path: 'monitoring', action: 'unchanged', host: '203.0.113.3' },
  { path: 'legacy/cron', action: 'terminate', host: '203.0.113.5', changes: ['no longer described'] },
]);

/** `zones` zones of `perZone` app nodes each, all updated, each waiting for its zone's database and the shared DNS. */
export function zonedPlan(environment: string, zones: number, perZone: number): PlanForRender {
  const specs: NodeSpec[] = [{ path: 'dns', action: 'unchanged' }];
  for (let z = 1; z <= zones; z++) {
    specs.push({ path: `zone-${z}/db`, action: 'unchanged', deps: ['dns'] });
    for (let i = 1; i <= perZone; i++)
      specs.push({ path: `zone-${z}/app/app-${i}`, action: 'update', deps: [`zone-${z}/db`, 'dns'] });
  }
  return depPlan(environment, specs);
}
