/**
 * Node state writes of a wave (store/node-writes.ts): writes made together go as one statement, record exactly what
 * one write per node records, and each caller still learns about its own write.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { createPgStore, type PgStateStore } from '../../../store/pg-store.js';
import type { TaskSpec } from '../../../kernel/types.js';

const REPO = '/srv/fleet';
const src = { file: 'politburo.yml', line: 1, column: 1 };
const tasks: TaskSpec[] = [{ kind: 'shell', name: 'touched', met: 'true', meet: 'true', source: src }];
const webs = Array.from({ length: 40 }, (_, i) => `web-${i + 1}`);

describe('node writes of a wave', () => {
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

  const startRun = (environment: string) =>
    store.startRun({ repository: REPO, environment, commit: 'c1', kind: 'apply', trigger: 'test' });

  test('40 nodes starting together are recorded configuring in one statement, then ready in one more', async () => {
    const run = await startRun('waves');
    await store.updateNode(REPO, 'waves', 'web-1', { state: 'defined' }); // the environment exists, one node recorded
    const before = store.nodeWriteStatements();
    await Promise.all(
      webs.map((p, i) =>
        store.updateNode(REPO, 'waves', p, {
          state: 'configuring',
          host: `10.0.0.${i + 1}`,
          port: 22,
          user: 'deploy',
          runId: run.id,
        }),
      ),
    );
    assert.equal(store.nodeWriteStatements() - before, 1, 'one statement for the wave');
    let nodes = await store.recordedNodes(REPO, 'waves');
    assert.equal(nodes.length, 40);
    assert.ok(nodes.every((n) => n.state === 'configuring' && n.port === 22 && n.user === 'deploy'));
    assert.equal(nodes.find((n) => n.path === 'web-7')?.host, '10.0.0.7');
    let runs = await store.nodeRuns(run.id);
    assert.equal(runs.length, 40);
    assert.ok(
      runs.every((r) => r.state === 'configuring' && r.startedAt && !r.finishedAt && r.host?.startsWith('10.')),
    );

    await Promise.all(
      webs.map((p) =>
        store.updateNode(REPO, 'waves', p, {
          state: 'ready',
          runId: run.id,
          applied: { specHash: 'h', tasks, commit: 'c1' },
        }),
      ),
    );
    assert.equal(store.nodeWriteStatements() - before, 2);
    await store.finishRun(run.id, 'succeeded', { ready: 40 });
    nodes = await store.recordedNodes(REPO, 'waves');
    // Fields not given with `ready` (host, port, user) are kept; the applied spec is recorded.
    assert.ok(nodes.every((n) => n.state === 'ready' && n.specHash === 'h' && n.lastAppliedCommit === 'c1'));
    assert.deepEqual(nodes.find((n) => n.path === 'web-7')?.tasks, tasks);
    assert.equal(nodes.find((n) => n.path === 'web-7')?.host, '10.0.0.7');
    assert.equal(nodes.find((n) => n.path === 'web-7')?.user, 'deploy');
    runs = await store.nodeRuns(run.id);
    assert.ok(runs.every((r) => r.state === 'ready' && r.startedAt && r.finishedAt && r.host === r.host?.trim()));
    assert.equal(runs.find((r) => r.path === 'web-7')?.host, '10.0.0.7', 'the node run keeps its host');
  });

  test('writes giving different fields go in separate statements; a write alone goes alone', async () => {
    const run = await startRun('shapes');
    const before = store.nodeWriteStatements();
    await Promise.all([
      store.updateNode(REPO, 'shapes', 'a', { state: 'configuring', host: 'h-a', runId: run.id }),
      store.updateNode(REPO, 'shapes', 'b', { state: 'configuring', host: 'h-b', runId: run.id }),
      store.updateNode(REPO, 'shapes', 'c', { state: 'blocked', reason: 'depends on x, which failed', runId: run.id }),
    ]);
    assert.equal(store.nodeWriteStatements() - before, 2);
    await store.updateNode(REPO, 'shapes', 'a', { state: 'failed', reason: 'TaskFailed: no', runId: run.id });
    assert.equal(store.nodeWriteStatements() - before, 3);
    const byPath = new Map((await store.recordedNodes(REPO, 'shapes')).map((n) => [n.path, n]));
    assert.deepEqual(
      ['a', 'b', 'c'].map((p) => [byPath.get(p)?.state, byPath.get(p)?.host, byPath.get(p)?.reason ?? null]),
      [
        ['failed', 'h-a', 'TaskFailed: no'],
        ['configuring', 'h-b', null],
        ['blocked', null, 'depends on x, which failed'],
      ],
    );
    const c = (await store.nodeRuns(run.id)).find((r) => r.path === 'c');
    assert.equal(c?.startedAt, null, 'a blocked node never started');
  });

  test('one write the database refuses fails alone: the others of its wave are recorded', async () => {
    const run = await startRun('bad-row');
    const results = await Promise.allSettled([
      store.updateNode(REPO, 'bad-row', 'ok-1', { state: 'configuring', host: 'h1', port: 22, runId: run.id }),
      // A port beyond PostgreSQL's integer: the statement for the wave fails, then each write is tried on its own.
      store.updateNode(REPO, 'bad-row', 'bad', { state: 'configuring', host: 'h2', port: 2 ** 40, runId: run.id }),
      store.updateNode(REPO, 'bad-row', 'ok-2', { state: 'configuring', host: 'h3', port: 22, runId: run.id }),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.deepEqual((await store.recordedNodes(REPO, 'bad-row')).map((n) => n.path).sort(), ['ok-1', 'ok-2']);
  });

  test('a wave written for a run that is no longer running changes nothing', async () => {
    const run = await startRun('fenced');
    await store.updateNode(REPO, 'fenced', 'a', { state: 'ready', runId: run.id });
    await store.finishRun(run.id, 'cancelled', {});
    await Promise.all(
      ['a', 'b'].map((p) => store.updateNode(REPO, 'fenced', p, { state: 'configuring', host: 'late', runId: run.id })),
    );
    const nodes = await store.recordedNodes(REPO, 'fenced');
    assert.deepEqual(
      nodes.map((n) => [n.path, n.state, n.host]),
      [['a', 'ready', null]],
    );
  });
});
