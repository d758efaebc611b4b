import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planEnvironment } from '../../../reconciler/plan-environment.js';
import type { RecordedNode, ResolvedEnvironment, ResolvedNode, TaskSpec } from '../../../kernel/types.js';

const pos = { file: 'politburo.yml', line: 1, column: 1 };

function babushka(dep: string, args: Record<string, string> = {}): TaskSpec {
  return { kind: 'babushka', name: dep, dep, args, source: pos };
}

function node(path: string, address: string, tasks: TaskSpec[], hash: string): ResolvedNode {
  return {
    path,
    name: path.split('/').pop()!,
    host: { kind: 'static', address, port: 22, user: 'deploy', source: pos },
    tasks,
    dependsOn: [],
    source: pos,
    specHash: hash,
  };
}

function env(nodes: ResolvedNode[]): ResolvedEnvironment {
  return {
    name: 'production',
    defaults: { ssh: { user: 'deploy', port: 22 }, concurrency: 20, timeoutMs: 900_000 },
    params: {},
    nodes,
    groups: [],
    drift: { schedule: '0 * * * *', heal: false },
    depsDir: 'babushka-deps',
    source: pos,
  };
}

function recorded(n: ResolvedNode, overrides: Partial<RecordedNode> = {}): RecordedNode {
  return {
    path: n.path,
    host: n.host.kind === 'static' ? n.host.address : null,
    port: 22,
    user: 'deploy',
    specHash: n.specHash,
    tasks: n.tasks,
    state: 'ready',
    lastAppliedCommit: 'abc',
    lastRunId: '1',
    ...overrides,
  };
}

test('a node never applied is a create', () => {
  const web = node('web-1', '10.0.0.1', [babushka('app deployed', { ref: 'v1' })], 'h1');
  const plan = planEnvironment(env([web]), [], 'c1');
  assert.equal(plan.nodes[0].action, 'create');
  assert.equal(plan.nodes[0].host, '10.0.0.1');
  assert.deepEqual(plan.summary, { create: 1, update: 0, unchanged: 0, terminate: 0 });
  assert.equal(plan.commit, 'c1');
});

test('a recorded node that never became ready (no applied hash) is still a create', () => {
  const web = node('web-1', '10.0.0.1', [], 'h1');
  const plan = planEnvironment(env([web]), [
    recorded(web, { specHash: '', tasks: [], state: 'failed', lastAppliedCommit: null }),
  ]);
  assert.equal(plan.nodes[0].action, 'create');
});

test('an unchanged ready node is unchanged', () => {
  const web = node('web-1', '10.0.0.1', [babushka('base')], 'h1');
  const plan = planEnvironment(env([web]), [recorded(web)]);
  assert.equal(plan.nodes[0].action, 'unchanged');
  assert.deepEqual(plan.nodes[0].changes, []);
});

test('a drifted node with an unchanged spec is unchanged in a static plan', () => {
  const web = node('web-1', '10.0.0.1', [babushka('base')], 'h1');
  const plan = planEnvironment(env([web]), [recorded(web, { state: 'drifted' })]);
  assert.equal(plan.nodes[0].action, 'unchanged');
});

test('a changed argument is an update naming the task and the argument', () => {
  const before = node('web-1', '10.0.0.1', [babushka('base'), babushka('app deployed', { ref: 'v1' })], 'h1');
  const after = node('web-1', '10.0.0.1', [babushka('base'), babushka('app deployed', { ref: 'v2' })], 'h2');
  const plan = planEnvironment(env([after]), [recorded(before)]);
  assert.equal(plan.nodes[0].action, 'update');
  assert.deepEqual(plan.nodes[0].changes, ["task 'app deployed': ref v1 -> v2"]);
});

test('added, removed and reordered tasks and a new host are all named', () => {
  const before = node('web-1', '10.0.0.1', [babushka('a'), babushka('b'), babushka('c')], 'h1');
  const after = node('web-1', '10.0.0.9', [babushka('b'), babushka('a'), babushka('d', { x: '1' })], 'h2');
  const plan = planEnvironment(env([after]), [recorded(before)]);
  assert.deepEqual(plan.nodes[0].changes, [
    'host 10.0.0.1 -> 10.0.0.9',
    "+ task 'd'",
    "- task 'c'",
    'task order changed',
  ]);
});

test('shell task command changes are named', () => {
  const shell = (meet: string): TaskSpec => ({ kind: 'shell', name: 'swappiness', met: 'test 1', meet, source: pos });
  const before = node('web-1', '10.0.0.1', [shell('sysctl -w vm.swappiness=10')], 'h1');
  const after = node('web-1', '10.0.0.1', [shell('sysctl -w vm.swappiness=5')], 'h2');
  const plan = planEnvironment(env([after]), [recorded(before)]);
  assert.deepEqual(plan.nodes[0].changes, ["task 'swappiness': meet command changed"]);
});

test('a node the last run left failed is planned for another attempt', () => {
  const web = node('web-1', '10.0.0.1', [babushka('base')], 'h1');
  const plan = planEnvironment(env([web]), [recorded(web, { state: 'failed', reason: 'TaskFailed' })]);
  assert.equal(plan.nodes[0].action, 'update');
  assert.match(plan.nodes[0].changes[0], /last run left it failed \(TaskFailed\)/);
});

test('recorded nodes no longer described are terminated, in path order, after the described ones', () => {
  const web = node('web-1', '10.0.0.1', [], 'h1');
  const gone2 = node('web-3', '10.0.0.3', [], 'h3');
  const gone1 = node('web-2', '10.0.0.2', [], 'h2');
  const plan = planEnvironment(env([web]), [recorded(gone2), recorded(web), recorded(gone1)]);
  assert.deepEqual(
    plan.nodes.map((n) => [n.path, n.action]),
    [
      ['web-1', 'unchanged'],
      ['web-2', 'terminate'],
      ['web-3', 'terminate'],
    ],
  );
  assert.equal(plan.nodes[1].host, '10.0.0.2');
  assert.equal(plan.summary.terminate, 2);
});

test('planning is pure: the same inputs give the same plan and inputs are not modified', () => {
  const web = node('web-1', '10.0.0.1', [babushka('app deployed', { ref: 'v1' })], 'h1');
  const rec = [recorded(node('web-1', '10.0.0.1', [babushka('app deployed', { ref: 'v0' })], 'h0'))];
  const snapshot = JSON.stringify(rec);
  assert.deepEqual(planEnvironment(env([web]), rec), planEnvironment(env([web]), rec));
  assert.equal(JSON.stringify(rec), snapshot);
});
