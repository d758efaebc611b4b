import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Plan, PlannedNode, RecordedNode, ResolvedNode, TaskSpec } from '../../../kernel/types.js';
import { renderPlanText, planSummaryLine } from '../../../cli/render/plan-text.js';
import { planToJson } from '../../../cli/render/plan-json.js';
import { renderValidationErrors } from '../../../cli/render/validation-errors.js';
import { planEnvironment } from '../../../reconciler/plan-environment.js';

const src = { file: 'politburo.yml', line: 1, column: 1 };
const task = (name: string): TaskSpec => ({ kind: 'babushka', name, dep: name, args: {}, source: src });
const shell: TaskSpec = { kind: 'shell', name: 'swappiness tuned', met: 'true', meet: 'true', source: src };
const node = (path: string, tasks: TaskSpec[]): ResolvedNode => ({
  path,
  name: path,
  host: { kind: 'local', source: src },
  tasks,
  dependsOn: [],
  source: src,
  specHash: 'h',
});
const rec = (path: string, state: RecordedNode['state'], reason: string | null = null): RecordedNode => ({
  path,
  host: '203.0.113.9',
  specHash: 'old',
  tasks: [task('lamp base')],
  state,
  reason,
  lastAppliedCommit: 'abc',
  lastRunId: '7',
});

function samplePlan(): Plan {
  const nodes: PlannedNode[] = [
    {
      path: 'database/master',
      host: 'db1.example.com',
      action: 'create',
      changes: [],
      node: node('database/master', [task('lamp base'), task('postgres master')]),
    },
    {
      path: 'web-2',
      host: '203.0.113.22',
      action: 'update',
      node: node('web-2', [task('lamp base'), task('app deployed'), shell]),
      recorded: rec('web-2', 'drifted', 'unmet: app deployed'),
      changes: ["task 'app deployed': ref: v1.4.1 → v1.4.2", "+ task 'swappiness tuned'"],
    },
    {
      path: 'web-1',
      host: '203.0.113.21',
      action: 'unchanged',
      changes: [],
      node: node('web-1', [task('lamp base')]),
      recorded: rec('web-1', 'ready'),
    },
    {
      path: 'old-cache',
      host: '203.0.113.9',
      action: 'terminate',
      changes: ['no longer described'],
      recorded: rec('old-cache', 'ready'),
    },
  ];
  return {
    environment: 'production',
    commit: '1a2b3c4d5e6f7a8b',
    nodes,
    summary: { create: 1, update: 1, unchanged: 1, terminate: 1 },
  };
}

test('plan table: symbol, path, host, state, changes (one per line), then the summary', () => {
  assert.equal(
    renderPlanText(samplePlan()),
    [
      '   PATH             HOST             STATE    CHANGES',
      '+  database/master  db1.example.com  defined  new: 2 tasks',
      "~  web-2            203.0.113.22     drifted  task 'app deployed': ref: v1.4.1 → v1.4.2",
      "                                              + task 'swappiness tuned'",
      '=  web-1            203.0.113.21     ready',
      '-  old-cache        203.0.113.9      ready    no longer described',
      '',
      'Plan for production@1a2b3c4: 1 to create, 1 to update, 1 unchanged, 1 to terminate',
      '(+ create, ~ update, = unchanged, - terminate)',
      '',
    ].join('\n'),
  );
});

test('plan with no changes says so; the summary line has no commit outside git', () => {
  const plan: Plan = {
    environment: 'staging',
    commit: null,
    nodes: [samplePlan().nodes[2]],
    summary: { create: 0, update: 0, unchanged: 1, terminate: 0 },
  };
  assert.equal(planSummaryLine(plan), 'Plan for staging: 0 to create, 0 to update, 1 unchanged, 0 to terminate');
  assert.match(renderPlanText(plan), /No changes: the environment matches its description\.\n$/);
  assert.match(
    renderPlanText({ ...plan, nodes: [], summary: { create: 0, update: 0, unchanged: 0, terminate: 0 } }),
    /^staging has no nodes\./,
  );
});

test('plan JSON: docs/cli.md shape with actions, states, reasons, changes and tasks', () => {
  assert.deepEqual(planToJson(samplePlan(), { repository: 'acme/infra' }), {
    environment: 'production',
    commit: '1a2b3c4d5e6f7a8b',
    repository: 'acme/infra',
    nodes: [
      {
        path: 'database/master',
        host: 'db1.example.com',
        action: 'create',
        state: 'defined',
        reason: null,
        changes: [],
        tasks: [
          { name: 'lamp base', kind: 'babushka' },
          { name: 'postgres master', kind: 'babushka' },
        ],
      },
      {
        path: 'web-2',
        host: '203.0.113.22',
        action: 'update',
        state: 'drifted',
        reason: 'unmet: app deployed',
        changes: ["task 'app deployed': ref: v1.4.1 → v1.4.2", "+ task 'swappiness tuned'"],
        tasks: [
          { name: 'lamp base', kind: 'babushka' },
          { name: 'app deployed', kind: 'babushka' },
          { name: 'swappiness tuned', kind: 'shell' },
        ],
      },
      {
        path: 'web-1',
        host: '203.0.113.21',
        action: 'unchanged',
        state: 'ready',
        reason: null,
        changes: [],
        tasks: [{ name: 'lamp base', kind: 'babushka' }],
      },
      {
        path: 'old-cache',
        host: '203.0.113.9',
        action: 'terminate',
        state: 'ready',
        reason: null,
        changes: ['no longer described'],
        tasks: [{ name: 'lamp base', kind: 'babushka' }],
      },
    ],
    summary: {
      create: 1,
      update: 1,
      unchanged: 1,
      terminate: 1,
      ready: 2,
      drifted: 1,
      failed: 0,
      blocked: 0,
      defined: 1,
    },
  });
});

test('validation errors: one FILE:LINE:COLUMN line each and a count', () => {
  assert.equal(
    renderValidationErrors([
      { file: 'politburo.yml', line: 3, column: 5, message: "unknown key 'rolse' (did you mean 'roles'?)" },
      { file: 'envs/a.yml', line: 1, column: 1, message: 'x' },
    ]),
    "politburo.yml:3:5: unknown key 'rolse' (did you mean 'roles'?)\nenvs/a.yml:1:1: x\n2 errors: the description is invalid\n",
  );
});

/** Five web nodes of one rollout group (batch 2, max_failures 0), web-4 unchanged; web-1 waits for web-3. */
function rolloutPlan(): Plan {
  const rollout = { group: 'web', batch: 2, maxFailures: 0, size: 6, source: src };
  const planned = (i: number, action: PlannedNode['action'], deps: string[] = []): PlannedNode => ({
    path: `web-${i}`,
    host: `203.0.113.${i}`,
    action,
    changes: [],
    node: {
      ...node(`web-${i}`, [task('app deployed')]),
      rollout,
      dependsOn: deps.map((d) => ({ path: d, state: 'ready', kind: 'explicit', source: src })),
    },
    ...(action === 'unchanged' ? { recorded: rec(`web-${i}`, 'ready') } : {}),
  });
  return {
    environment: 'production',
    commit: null,
    nodes: [
      planned(1, 'create', ['web-3']),
      planned(2, 'create'),
      planned(3, 'create'),
      planned(4, 'unchanged'),
      planned(5, 'create'),
      planned(6, 'create'),
      { ...samplePlan().nodes[0] },
    ],
    summary: { create: 6, update: 0, unchanged: 1, terminate: 0 },
  };
}

test('plan text shows the rolling batches of what an apply would change, in dependency order', () => {
  const text = renderPlanText(rolloutPlan());
  assert.match(
    text,
    /\n\nRolling batches:\n {2}web: rollout in 3 batches of 2 \(max_failures 0\): web-2 web-3 \| web-1 web-5 \| web-6\n\nPlan for production: 6 to create/,
  );
  assert.doesNotMatch(renderPlanText(samplePlan()), /Rolling batches/, 'no rollout: the plan is as before');
});

test('plan JSON lists each rollout group with its batches; absent without rollouts', () => {
  assert.deepEqual(planToJson(rolloutPlan()).rollouts, [
    {
      group: 'web',
      batch: 2,
      maxFailures: 0,
      batches: [['web-2', 'web-3'], ['web-1', 'web-5'], ['web-6']],
    },
  ]);
  assert.equal('rollouts' in planToJson(samplePlan()), false);
});

test('plan table: a shell task shows the values that differ, each on its own line under the node', () => {
  const meet = (v: string): TaskSpec => ({
    kind: 'shell',
    name: 'app',
    met: `test "$(cat /opt/app/VERSION)" = ${v}`,
    meet: `echo ${v} > /opt/app/VERSION`,
    source: src,
  });
  const desired = { ...node('web-1', [meet('1.4.4')]), specHash: 'new' };
  const recorded: RecordedNode = { ...rec('web-1', 'ready'), host: 'local', tasks: [meet('1.4.3')] };
  const text = renderPlanText(
    planEnvironment(
      {
        name: 'production',
        defaults: { ssh: {}, concurrency: 1, timeoutMs: 1000 },
        params: {},
        nodes: [desired],
        groups: [],
        drift: { schedule: '0 * * * *', heal: false },
        depsDir: 'babushka-deps',
        source: src,
      },
      [recorded],
      null,
    ),
  );
  assert.equal(
    text.split('\n').slice(0, 3).join('\n'),
    [
      '   PATH   HOST   STATE  CHANGES',
      "~  web-1  local  ready  task 'app': met: 1.4.3 → 1.4.4",
      "                        task 'app': meet: 1.4.3 → 1.4.4",
    ].join('\n'),
  );
});
