import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { createPgStore, type PgStateStore } from '../../../reconciler/store/pg-store.js';
import type { RecordedNode, TaskSpec } from '../../../reconciler/types.js';

const REPO = 'acme/infra';
const src = { file: 'politburo.yml', line: 3, column: 7 };

function node(i: number): RecordedNode {
  const tasks: TaskSpec[] = [
    { kind: 'babushka', name: 'lamp base', dep: 'lamp base', args: {}, source: src },
    { kind: 'babushka', name: 'app deployed', dep: 'app deployed', args: { ref: 'v1.4.2', db: '10.0.0.1' }, source: src },
    { kind: 'shell', name: 'swappiness tuned', met: 'test "$(sysctl -n vm.swappiness)" = 10', meet: 'sysctl -w vm.swappiness=10', source: src },
  ];
  return {
    path: `web-${String(i).padStart(5, '0')}`, host: `10.1.${i >> 8}.${i & 255}`, port: 22, user: 'deploy',
    specHash: `hash-${i}`, tasks, state: i % 100 === 0 ? 'failed' : 'ready', reason: i % 100 === 0 ? 'TaskFailed' : null,
    lastAppliedCommit: 'abc', lastRunId: null,
  };
}

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

// Their times: bench/store (a test never asserts a duration).
test('bulkRecordNodes seeds 10,000 nodes and recordedNodes reads every one back', async () => {
  const nodes = Array.from({ length: 10_000 }, (_, i) => node(i));
  await store.bulkRecordNodes(REPO, 'big', nodes);
  const read = await store.recordedNodes(REPO, 'big');
  assert.equal(read.length, 10_000);
  assert.deepEqual(read.map((n) => n.path), nodes.map((n) => n.path), 'every node, in path order');
  const n42 = read.find((n) => n.path === 'web-00042');
  assert.deepEqual({ ...n42, updatedAt: undefined }, { ...node(42), updatedAt: undefined });
  assert.equal(read.filter((n) => n.state === 'failed').length, 100);
});

test('bulkRecordNodes upserts, lets the last record of a path win and removes terminated nodes', async () => {
  await store.bulkRecordNodes(REPO, 'small', [node(1), node(2), node(3)]);
  await store.bulkRecordNodes(REPO, 'small', [
    { ...node(1), state: 'drifted', reason: 'unmet' },
    { ...node(2), specHash: 'first' },
    { ...node(2), specHash: 'second' },
    { ...node(3), state: 'terminated' },
  ]);
  const read = await store.recordedNodes(REPO, 'small');
  assert.deepEqual(read.map((n) => [n.path, n.state, n.specHash]), [
    ['web-00001', 'drifted', 'hash-1'],
    ['web-00002', 'ready', 'second'],
  ]);
  await assert.rejects(store.bulkRecordNodes(REPO, 'small', [{ ...node(9), state: 'bogus' as never }]), /unknown lifecycle state "bogus"/);
});
