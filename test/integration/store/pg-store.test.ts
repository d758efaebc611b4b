import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { createPgStore, type PgStateStore } from '../../../store/pg-store.js';
import type { TaskSpec } from '../../../kernel/types.js';

const REPO = '/srv/infra';
const src = { file: 'politburo.yml', line: 1, column: 1 };
const tasks: TaskSpec[] = [
  { kind: 'babushka', name: 'lamp base', dep: 'lamp base', args: {}, source: src },
  { kind: 'shell', name: 'swappiness tuned', met: 'true', meet: 'true', source: src },
];

describe('Postgres state store', () => {
  let db: TestDatabase;
  let store: PgStateStore;
  before(async () => {
    db = await createTestDatabase();
    store = createPgStore(new pg.Pool({ connectionString: db.url }));
  });
  after(async () => {
    await store.close();
    await db.drop();
  });

  test('an environment is empty until something is recorded, and is created on first use', async () => {
    assert.deepEqual(await store.recordedNodes(REPO, 'production'), []);
    assert.deepEqual(await store.environments(REPO), []);
    await store.updateNode(REPO, 'fresh', 'web-1', { state: 'defined' });
    const envs = await store.environments(REPO);
    assert.deepEqual(
      envs.map((e) => [e.repository, e.environment, e.lastCommit]),
      [[REPO, 'fresh', null]],
    );
    assert.match(envs[0].updatedAt, /^\d{4}-\d\d-\d\dT/);
    const [node] = await store.recordedNodes(REPO, 'fresh');
    assert.equal(node.state, 'defined');
    assert.equal(node.specHash, '');
    assert.deepEqual(node.tasks, []);
  });

  test('an apply records states, the applied spec, task outcomes and logs', async () => {
    const run = await store.startRun({
      repository: REPO,
      environment: 'production',
      commit: 'abc123',
      kind: 'apply',
      trigger: 'cli',
    });
    assert.equal(run.status, 'running');
    assert.equal(run.finishedAt, null);
    assert.equal(run.environment, 'production');
    await store.updateNode(REPO, 'production', 'database/master', {
      state: 'configuring',
      host: 'db1',
      port: 22,
      user: 'deploy',
      runId: run.id,
    });
    await store.recordTask(run.id, 'database/master', {
      name: 'lamp base',
      outcome: 'already met',
      durationMs: 12.4,
      startedAt: '2026-01-01T00:00:00.000Z',
    });
    await store.recordTask(run.id, 'database/master', { name: 'swappiness tuned', outcome: 'met', message: 'set' });
    await store.appendLog(run.id, 'database/master', 'line 1\n');
    await store.appendLog(run.id, 'database/master', 'line 2\n');
    await store.updateNode(REPO, 'production', 'database/master', {
      state: 'ready',
      runId: run.id,
      applied: { specHash: 'h1', tasks, commit: 'abc123' },
    });
    await store.updateNode(REPO, 'production', 'web-1', {
      state: 'failed',
      reason: 'TaskFailed: boom',
      host: 'web1',
      runId: run.id,
    });
    await store.updateNode(REPO, 'production', 'lb', { state: 'blocked', reason: 'web-1 failed', runId: run.id });
    await store.finishRun(run.id, 'failed', { ready: 1, failed: 1, blocked: 1 });

    const nodes = await store.recordedNodes(REPO, 'production');
    assert.deepEqual(
      nodes.map((n) => [n.path, n.host, n.state, n.reason ?? null, n.lastRunId]),
      [
        ['database/master', 'db1', 'ready', null, run.id],
        ['lb', null, 'blocked', 'web-1 failed', run.id],
        ['web-1', 'web1', 'failed', 'TaskFailed: boom', run.id],
      ],
    );
    const master = nodes[0];
    assert.equal(master.specHash, 'h1');
    assert.deepEqual(master.tasks, tasks);
    assert.equal(master.lastAppliedCommit, 'abc123');
    assert.equal(master.port, 22);
    assert.equal(master.user, 'deploy');

    const finished = await store.getRun(run.id);
    assert.equal(finished?.status, 'failed');
    assert.deepEqual(finished?.summary, { ready: 1, failed: 1, blocked: 1 });
    assert.ok(finished?.finishedAt);
    // a failed apply does not move the environment's last applied commit
    assert.equal((await store.environments(REPO)).find((e) => e.environment === 'production')?.lastCommit, null);

    const nodeRuns = await store.nodeRuns(run.id);
    const nr = nodeRuns.find((n) => n.path === 'database/master');
    assert.ok(nr);
    assert.equal(nr.state, 'ready');
    assert.equal(nr.host, 'db1');
    assert.equal(nr.log, 'line 1\nline 2\n');
    assert.ok(nr.startedAt && nr.finishedAt);
    assert.deepEqual(nr.tasks, [
      { name: 'lamp base', outcome: 'already met', durationMs: 12, startedAt: '2026-01-01T00:00:00.000Z' },
      { name: 'swappiness tuned', outcome: 'met', message: 'set' },
    ]);
    const lb = nodeRuns.find((n) => n.path === 'lb');
    assert.equal(lb?.startedAt, null, 'a blocked node never started');
    assert.equal(lb?.reason, 'web-1 failed');
  });

  test('a state change without an apply keeps the applied spec; a successful apply records the commit', async () => {
    const drift = await store.startRun({
      repository: REPO,
      environment: 'production',
      commit: 'abc123',
      kind: 'drift',
      trigger: 'schedule',
    });
    await store.updateNode(REPO, 'production', 'database/master', {
      state: 'drifted',
      reason: '1 task unmet',
      runId: drift.id,
    });
    await store.finishRun(drift.id, 'succeeded', { drifted: 1 });
    const [master] = await store.recordedNodes(REPO, 'production');
    assert.equal(master.state, 'drifted');
    assert.equal(master.specHash, 'h1');
    assert.equal(master.lastAppliedCommit, 'abc123');
    assert.equal(master.host, 'db1', 'host kept when not given');
    assert.equal(master.lastRunId, drift.id);

    const apply = await store.startRun({
      repository: REPO,
      environment: 'production',
      commit: 'def456',
      kind: 'apply',
      trigger: 'push',
    });
    await store.updateNode(REPO, 'production', 'database/master', {
      state: 'ready',
      runId: apply.id,
      applied: { specHash: 'h2', tasks: tasks.slice(0, 1), commit: 'def456' },
    });
    await store.finishRun(apply.id, 'succeeded', { ready: 1 });
    assert.equal((await store.environments(REPO)).find((e) => e.environment === 'production')?.lastCommit, 'def456');
    const [again] = await store.recordedNodes(REPO, 'production');
    assert.equal(again.specHash, 'h2');
    assert.equal(again.tasks.length, 1);
    assert.equal(again.reason, null, 'reason cleared with the new state');
  });

  test('terminated nodes leave the recorded state but keep their history', async () => {
    const run = await store.startRun({
      repository: REPO,
      environment: 'production',
      commit: 'fff000',
      kind: 'apply',
      trigger: 'cli',
    });
    await store.updateNode(REPO, 'production', 'lb', { state: 'terminating', runId: run.id });
    await store.updateNode(REPO, 'production', 'lb', { state: 'terminated', runId: run.id });
    await store.finishRun(run.id, 'succeeded', { terminated: 1 });
    const paths = (await store.recordedNodes(REPO, 'production')).map((n) => n.path);
    assert.deepEqual(paths, ['database/master', 'web-1']);
    const [lb] = await store.nodeRuns(run.id);
    assert.equal(lb.path, 'lb');
    assert.equal(lb.state, 'terminated');
    assert.ok(lb.finishedAt);
    // terminating an unknown node is harmless
    await store.updateNode(REPO, 'production', 'never-there', { state: 'terminated' });
  });

  test('runs are listed newest first and filtered by repository and environment', async () => {
    await store.startRun({
      repository: 'other/repo',
      environment: 'production',
      commit: null,
      kind: 'plan-live',
      trigger: 'comment',
    });
    const all = await store.listRuns({});
    const ids = all.map((r) => BigInt(r.id));
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => (a > b ? -1 : 1)),
    );
    assert.equal(all[0].repository, 'other/repo');
    const prod = await store.listRuns({ repository: REPO, environment: 'production', limit: 2 });
    assert.equal(prod.length, 2);
    assert.ok(prod.every((r) => r.repository === REPO && r.environment === 'production'));
    assert.equal(prod[0].commit, 'fff000');
    assert.deepEqual(await store.listRuns({ environment: 'nowhere' }), []);
    assert.deepEqual((await store.environments()).map((e) => e.repository).sort(), [
      '/srv/infra',
      '/srv/infra',
      'other/repo',
    ]);
  });

  test('task success rates count runs, not nodes; skips are not attempts', async () => {
    const env = 'rates';
    const outcomes: [string, string, 'met' | 'already met' | 'failed' | 'unmet' | 'skipped'][][] = [
      [
        ['a', 'deploy', 'met'],
        ['b', 'deploy', 'met'],
        ['a', 'base', 'already met'],
      ],
      [
        ['a', 'deploy', 'met'],
        ['b', 'deploy', 'failed'],
        ['a', 'base', 'already met'],
      ],
      [
        ['a', 'deploy', 'skipped'],
        ['a', 'base', 'unmet'],
      ],
    ];
    for (const results of outcomes) {
      const run = await store.startRun({
        repository: REPO,
        environment: env,
        commit: null,
        kind: 'apply',
        trigger: 't',
      });
      for (const [path, name, outcome] of results) await store.recordTask(run.id, path, { name, outcome });
      await store.finishRun(run.id, 'succeeded', {});
    }
    assert.deepEqual(await store.taskSuccessRates(REPO, env), [
      { task: 'base', runs: 3, succeeded: 2 },
      { task: 'deploy', runs: 2, succeeded: 1 },
    ]);
    assert.deepEqual(await store.taskSuccessRates(REPO, 'production-none'), []);
  });

  test('logs keep their tail when they grow past the limit', async () => {
    const run = await store.startRun({
      repository: REPO,
      environment: 'logs',
      commit: null,
      kind: 'apply',
      trigger: 't',
    });
    const chunk = 'x'.repeat(600 * 1024);
    await store.appendLog(run.id, 'n', chunk);
    await store.appendLog(run.id, 'n', `${chunk}END`);
    const [nr] = await store.nodeRuns(run.id);
    assert.equal(nr.log.length, 1024 * 1024);
    assert.ok(nr.log.endsWith('END'));
    assert.equal(nr.state, 'configuring');
  });

  test('a provided host key round-trips: kept when not given, replaced, cleared, gone with the node', async () => {
    const env = 'keys';
    const line = '[10.0.0.7]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGV4YW1wbGUta2V5LW9ubHktZm9yLXRlc3Rz';
    const read = async (path: string) => (await store.recordedNodes(REPO, env)).find((n) => n.path === path);
    await store.updateNode(REPO, env, 'web-1', {
      state: 'provisioned',
      host: '10.0.0.7',
      port: 2222,
      user: 'deploy',
      hostKey: line,
    });
    await store.updateNode(REPO, env, 'static', { state: 'ready', host: 'db1' });
    assert.equal((await read('web-1'))?.hostKey, line);
    assert.equal((await read('static'))?.hostKey, undefined, 'nodes without a key carry none');
    await store.updateNode(REPO, env, 'web-1', {
      state: 'ready',
      host: '10.0.0.7',
      applied: { specHash: 'h', tasks, commit: null },
    });
    assert.equal((await read('web-1'))?.hostKey, line, 'kept when not given');
    await store.updateNode(REPO, env, 'web-1', {
      state: 'provisioned',
      host: '10.0.0.8',
      hostKey: '10.0.0.8 ssh-ed25519 AAAA',
    });
    assert.equal((await read('web-1'))?.hostKey, '10.0.0.8 ssh-ed25519 AAAA');
    await store.updateNode(REPO, env, 'web-1', { state: 'provisioned', host: '10.0.0.9', hostKey: null });
    assert.equal((await read('web-1'))?.hostKey, undefined, 'null clears it');
    await store.updateNode(REPO, env, 'web-1', { state: 'provisioned', hostKey: line });
    await store.updateNode(REPO, env, 'web-1', { state: 'terminated' });
    await store.updateNode(REPO, env, 'web-1', { state: 'provisioning' });
    assert.equal((await read('web-1'))?.hostKey, undefined, 'termination forgets the key');
    await store.bulkRecordNodes(REPO, env, [
      {
        path: 'bulk',
        host: 'h',
        specHash: '',
        tasks: [],
        state: 'ready',
        lastAppliedCommit: null,
        lastRunId: null,
        hostKey: line,
      },
    ]);
    assert.equal((await read('bulk'))?.hostKey, line, 'bulk records keep it too');
  });

  test('bad input gets a clear error, unknown runs are null', async () => {
    assert.equal(await store.getRun('999999'), null);
    assert.equal(await store.getRun('not-a-run'), null);
    assert.deepEqual(await store.nodeRuns('nope'), []);
    await assert.rejects(
      store.updateNode(REPO, 'production', 'x', { state: 'exploded' as never }),
      /unknown lifecycle state "exploded"/,
    );
    await assert.rejects(
      store.recordTask('1', 'x', { name: 't', outcome: 'meh' as never }),
      /unknown task outcome "meh"/,
    );
    await assert.rejects(store.finishRun('999999', 'succeeded', {}), /no run 999999/);
    await assert.rejects(store.finishRun('1', 'running', {}), /final run status "running"/);
    await assert.rejects(store.appendLog('1; drop', 'x', 'y'), /invalid run id/);
    await assert.rejects(
      store.startRun({ repository: REPO, environment: '', commit: null, kind: 'apply', trigger: 't' }),
      /non-empty/,
    );
  });
});
