/** Plans and runs the renderer tests render: small, but with every case the renderers distinguish. */
import type { PlanForRender, DriftReport } from '../../../../controller/ports.js';
import type { NodeResult, Plan, PlannedNode, RunResult } from '../../../../kernel/types.js';

export const HEAD = '1a2b3c4d5e6f708192a3b4c5d6e7f80912a3b4c5';

export function plan(environment: string, nodes: Omit<PlannedNode, 'changes'>[] & { changes?: string[] }[]): Plan {
  const full = nodes.map((n) => ({ changes: [], ...n })) as PlannedNode[];
  const summary = { create: 0, update: 0, unchanged: 0, terminate: 0 };
  for (const n of full) summary[n.action]++;
  return { environment, commit: HEAD, nodes: full, summary };
}

export const productionPlan: PlanForRender = {
  environment: 'production',
  errors: [],
  plan: plan('production', [
    {
      path: 'database/master',
      host: '203.0.113.10',
      action: 'update',
      changes: ["+ task 'pg backups'", "task 'postgres': version: 15 → 16"],
    },
    { path: 'database/replica-1', host: '203.0.113.11', action: 'unchanged' },
    { path: 'web/web-1', host: '203.0.113.21', action: 'create' },
    { path: 'web/web-2', host: '203.0.113.22', action: 'create' },
    { path: 'web/web-3', host: null, action: 'create' },
    { path: 'legacy|cron', host: '203.0.113.5', action: 'terminate', changes: ['no longer described'] },
  ] as never),
};

export const stagingUnchanged: PlanForRender = {
  environment: 'staging',
  errors: [],
  plan: plan('staging', [{ path: 'app', host: 'local', action: 'unchanged' }] as never),
};

export const invalidPlan: PlanForRender = {
  environment: 'qa',
  plan: null,
  errors: [
    { file: 'politburo.yml', line: 12, column: 7, message: "unknown key 'rols' (did you mean 'roles'?)" },
    { file: 'environments/qa.yml', line: 3, column: 1, message: 'dependency cycle: web -> db -> web' },
  ],
};

function node(
  path: string,
  host: string,
  state: NodeResult['state'],
  tasks: NodeResult['tasks'] = [],
  reason?: string,
): NodeResult {
  return { path, host, state, tasks, ...(reason ? { reason } : {}) };
}

export const livePlan: PlanForRender = {
  ...productionPlan,
  live: run('plan-live', 'succeeded', [
    node('database/master', '203.0.113.10', 'drifted', [
      { name: 'postgres', outcome: 'already met' },
      { name: 'pg config', outcome: 'unmet' },
    ]),
    node('database/replica-1', '203.0.113.11', 'ready', [{ name: 'postgres', outcome: 'already met' }]),
    node('web/web-1', '203.0.113.21', 'failed', [], 'HostUnreachable: connect ECONNREFUSED 203.0.113.21:22'),
  ]),
};

export function run(kind: RunResult['kind'], status: RunResult['status'], nodes: NodeResult[]): RunResult {
  const summary: Record<string, number> = { ready: 0, drifted: 0, failed: 0, blocked: 0 };
  for (const n of nodes) summary[n.state] = (summary[n.state] ?? 0) + 1;
  return { runId: '42', kind, environment: 'production', commit: HEAD, status, nodes, summary, durationMs: 41_300 };
}

export const failedApply = run('apply', 'failed', [
  node('database/master', '203.0.113.10', 'ready', [{ name: 'postgres', outcome: 'met' }]),
  node('web/web-1', '203.0.113.21', 'failed', [
    { name: 'nginx', outcome: 'already met' },
    {
      name: 'app deployed',
      outcome: 'failed',
      message: 'Fetching release...\nnpm ERR! code E404\nnpm ERR! 404 Not Found - GET https://registry.example/app\n',
    },
    { name: 'app running', outcome: 'skipped' },
  ]),
  node('web/web-2', '203.0.113.22', 'blocked', [], 'DependencyFailed: web/web-1 failed'),
  node('lb', '203.0.113.2', 'ready', [{ name: 'haproxy', outcome: 'already met' }]),
]);

export const succeededApply = run('apply', 'succeeded', [
  node('database/master', '203.0.113.10', 'ready', [{ name: 'postgres', outcome: 'met' }]),
  node('lb', '203.0.113.2', 'ready', [{ name: 'haproxy', outcome: 'already met' }]),
]);

export const driftReport: DriftReport = {
  environment: 'production',
  sha: HEAD,
  healed: false,
  runUrl: 'https://politburo.example/runs/43',
  result: run('drift', 'succeeded', [
    node('database/master', '203.0.113.10', 'drifted', [
      { name: 'postgres', outcome: 'already met' },
      { name: 'pg config', outcome: 'unmet' },
      { name: 'pg backups', outcome: 'unmet' },
    ]),
    node('lb', '203.0.113.2', 'ready', [{ name: 'haproxy', outcome: 'already met' }]),
  ]),
};

/** A plan of `count` nodes, every one to create: bigger than any comment GitHub accepts. */
export function hugePlan(count: number): PlanForRender {
  const nodes = Array.from({ length: count }, (_, i) => ({
    path: `fleet/worker-${String(i + 1).padStart(5, '0')}`,
    host: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    action: 'create' as const,
    changes: [],
  }));
  return { environment: 'fleet', errors: [], plan: plan('fleet', nodes as never) };
}
