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
  assert.deepEqual(plan.nodes[0].changes, ["task 'app deployed': ref: v1 → v2"]);
});

test('added, removed and reordered tasks and a new host are all named', () => {
  const before = node('web-1', '10.0.0.1', [babushka('a'), babushka('b'), babushka('c')], 'h1');
  const after = node('web-1', '10.0.0.9', [babushka('b'), babushka('a'), babushka('d', { x: '1' })], 'h2');
  const plan = planEnvironment(env([after]), [recorded(before)]);
  assert.deepEqual(plan.nodes[0].changes, [
    'host: 10.0.0.1 → 10.0.0.9',
    "+ task 'd' (x: 1)",
    "- task 'c'",
    'task order changed',
  ]);
});

test('shell task command changes are named', () => {
  const shell = (meet: string): TaskSpec => ({ kind: 'shell', name: 'swappiness', met: 'test 1', meet, source: pos });
  const before = node('web-1', '10.0.0.1', [shell('sysctl -w vm.swappiness=10')], 'h1');
  const after = node('web-1', '10.0.0.1', [shell('sysctl -w vm.swappiness=5')], 'h2');
  const plan = planEnvironment(env([after]), [recorded(before)]);
  assert.deepEqual(plan.nodes[0].changes, ["task 'swappiness': meet: 10 → 5"]);
});

const shellTask = (name: string, met: string, meet: string, become?: TaskSpec['become']): TaskSpec => ({
  kind: 'shell',
  name,
  met,
  meet,
  ...(become ? { become } : {}),
  source: pos,
});

test('a shell task shows the interpolated values that differ, once per distinct difference', () => {
  const task = (v: string): TaskSpec =>
    shellTask(
      'app',
      `test "$(cat /opt/app/VERSION)" = ${v}`,
      `curl -fsSL https://example.com/app-${v}.tgz | tar xz -C /opt/app && echo ${v} > /opt/app/VERSION`,
    );
  const before = node('web-1', '10.0.0.1', [task('1.4.3')], 'h1');
  const after = node('web-1', '10.0.0.1', [task('1.4.4')], 'h2');
  const plan = planEnvironment(env([after]), [recorded(before)]);
  assert.deepEqual(plan.nodes[0].changes, [
    "task 'app': met: 1.4.3 → 1.4.4",
    "task 'app': meet: app-1.4.3.tgz → app-1.4.4.tgz",
    "task 'app': meet: 1.4.3 → 1.4.4",
  ]);
});

test('a value used in several places of a command is shown once with its count', () => {
  const task = (v: string): TaskSpec => shellTask('motd', `grep -q ${v} /etc/motd`, `echo ${v} > /etc/motd; echo ${v}`);
  const before = node('web-1', '10.0.0.1', [task('blue')], 'h1');
  const after = node('web-1', '10.0.0.1', [task('green')], 'h2');
  const plan = planEnvironment(env([after]), [recorded(before)]);
  assert.deepEqual(plan.nodes[0].changes, [
    "task 'motd': met: blue → green",
    "task 'motd': meet: blue → green (2 places)",
  ]);
});

test('an added flag is shown with the word before it', () => {
  const before = node('web-1', '10.0.0.1', [shellTask('nginx', 'true', 'apt-get install -y nginx')], 'h1');
  const after = node('web-1', '10.0.0.1', [shellTask('nginx', 'true', 'apt-get install -y --no-upgrade nginx')], 'h2');
  const plan = planEnvironment(env([after]), [recorded(before)]);
  assert.deepEqual(plan.nodes[0].changes, ["task 'nginx': meet: -y → -y --no-upgrade"]);
});

test('many differences in one command are capped, the rest counted', () => {
  const before = node('web-1', '10.0.0.1', [shellTask('t', 'true', 'a 1 b 2 c 3 d 4 e 5')], 'h1');
  const after = node('web-1', '10.0.0.1', [shellTask('t', 'true', 'a 6 b 7 c 8 d 9 e 0')], 'h2');
  const plan = planEnvironment(env([after]), [recorded(before)]);
  assert.deepEqual(plan.nodes[0].changes, [
    "task 't': meet: 1 → 6",
    "task 't': meet: 2 → 7",
    "task 't': meet: 3 → 8",
    "task 't': meet: 2 more differences",
  ]);
});

test('arguments added and removed show what they were and are', () => {
  const before = node('web-1', '10.0.0.1', [babushka('app deployed', { ref: 'v1', old: 'x' })], 'h1');
  const after = node('web-1', '10.0.0.1', [babushka('app deployed', { ref: 'v1', port: '8080' })], 'h2');
  const plan = planEnvironment(env([after]), [recorded(before)]);
  assert.deepEqual(plan.nodes[0].changes, [
    "task 'app deployed': old: x → (unset)",
    "task 'app deployed': port: (unset) → 8080",
  ]);
});

test('long values are cut to the part that differs, with a little context', () => {
  const key = (v: string) => `ssh-ed25519 ${'A'.repeat(120)}${v}${'B'.repeat(60)} deploy@ci`;
  const before = node('web-1', '10.0.0.1', [babushka('authorized key', { key: key('1') })], 'h1');
  const after = node('web-1', '10.0.0.1', [babushka('authorized key', { key: key('2') })], 'h2');
  const [change] = planEnvironment(env([after]), [recorded(before)]).nodes[0].changes;
  assert.equal(
    change,
    `task 'authorized key': key: …${'A'.repeat(12)}1${'B'.repeat(12)}… → …${'A'.repeat(12)}2${'B'.repeat(12)}…`,
  );
  const long = (v: string) => `${v}${'x'.repeat(200)}`;
  const replaced = planEnvironment(env([node('web-1', '10.0.0.1', [babushka('d', { v: long('new') })], 'h2')]), [
    recorded(node('web-1', '10.0.0.1', [babushka('d', { v: 'short' })], 'h1')),
  ]).nodes[0].changes[0];
  assert.ok(replaced.length < 200, replaced);
  assert.match(replaced, /^task 'd': v: short → newx+…$/);
});

test('newlines in values are escaped so a change stays on one line', () => {
  const before = node('web-1', '10.0.0.1', [babushka('conf', { body: 'a=1\nb=2' })], 'h1');
  const after = node('web-1', '10.0.0.1', [babushka('conf', { body: 'a=1\nb=3' })], 'h2');
  const plan = planEnvironment(env([after]), [recorded(before)]);
  assert.deepEqual(plan.nodes[0].changes, ["task 'conf': body: a=1\\nb=2 → a=1\\nb=3"]);
});

test('secrets appear only as their symbolic reference, never as a value', () => {
  const before = node(
    'web-1',
    '10.0.0.1',
    [shellTask('db', 'true', 'psql "postgres://app:${secret.db_old}@db/app"')],
    'h1',
  );
  const after = node(
    'web-1',
    '10.0.0.1',
    [shellTask('db', 'true', 'psql "postgres://app:${secret.db_new}@db/app"')],
    'h2',
  );
  const plan = planEnvironment(env([after]), [recorded(before)]);
  assert.deepEqual(plan.nodes[0].changes, ["task 'db': meet: ${secret.db_old} → ${secret.db_new}"]);
});

test('a changed become user is named, and so is escalation added', () => {
  const sudo = (user: string) => ({ method: 'sudo' as const, user, password: '${secret.sudo}' });
  const before = node(
    'web-1',
    '10.0.0.1',
    [shellTask('a', 'true', 'x', sudo('postgres')), shellTask('b', 'true', 'y')],
    'h1',
  );
  const after = node(
    'web-1',
    '10.0.0.1',
    [shellTask('a', 'true', 'x', sudo('root')), shellTask('b', 'true', 'y', sudo('root'))],
    'h2',
  );
  const plan = planEnvironment(env([after]), [recorded(before)]);
  assert.deepEqual(plan.nodes[0].changes, [
    "task 'a': runs as: postgres (sudo) → root (sudo)",
    "task 'b': runs as: the SSH user → root (sudo)",
  ]);
});

test('a changed port and SSH user are named', () => {
  const web = node('web-1', '10.0.0.1', [babushka('base')], 'h2');
  const plan = planEnvironment(env([web]), [recorded(web, { specHash: 'h1', port: 2222, user: 'root' })]);
  assert.deepEqual(plan.nodes[0].changes, ['port: 2222 → 22', 'user: root → deploy']);
});

test('a record whose tasks predate what a plan compares says only that something changed', () => {
  const web = node('web-1', '10.0.0.1', [babushka('base', { a: '1' }), shellTask('s', 'true', 'x')], 'h2');
  const legacy = [
    { kind: 'babushka', name: 'base', dep: 'base', args: { a: 2 } },
    { kind: 'shell', name: 's', met: 'true' },
  ] as unknown as TaskSpec[];
  const plan = planEnvironment(env([web]), [recorded(web, { specHash: 'h1', tasks: legacy })]);
  assert.deepEqual(plan.nodes[0].changes, ["task 'base': argument a changed", "task 's': meet command changed"]);
  const noTasks = planEnvironment(env([web]), [
    recorded(web, { specHash: 'h1', tasks: null as unknown as TaskSpec[] }),
  ]);
  assert.deepEqual(noTasks.nodes[0].changes, ['tasks changed']);
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

test('an update carries its differences structured too, values as shown and unset as null', () => {
  const task = (v: string): TaskSpec =>
    shellTask('motd', 'true', `echo ${v} > /etc/motd; echo ${v}`, { method: 'sudo', user: v === 'a' ? 'root' : 'www' });
  const before = node(
    'web-1',
    '10.0.0.1',
    [task('a'), babushka('app', { ref: 'v1', old: 'x' }), babushka('gone')],
    'h1',
  );
  const after = node('web-1', '10.0.0.9', [task('b'), babushka('app', { ref: 'v2' }), babushka('new')], 'h2');
  const plan = planEnvironment(env([after]), [recorded(before)]);
  assert.deepEqual(plan.nodes[0].diff, [
    { subject: 'host', change: 'changed', before: '10.0.0.1', after: '10.0.0.9' },
    { subject: 'task', change: 'changed', task: 'motd', field: 'meet', before: 'a', after: 'b', places: 2 },
    { subject: 'task', change: 'changed', task: 'motd', field: 'become', before: 'root', after: 'www' },
    { subject: 'task', change: 'changed', task: 'app', field: 'old', before: 'x', after: null },
    { subject: 'task', change: 'changed', task: 'app', field: 'ref', before: 'v1', after: 'v2' },
    { subject: 'task', change: 'added', task: 'new' },
    { subject: 'task', change: 'removed', task: 'gone' },
  ]);
  const unchanged = planEnvironment(env([after]), [recorded(after)]);
  assert.equal(unchanged.nodes[0].diff, undefined);
});
