import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { createPgStore, type PgStateStore } from '../../../store/pg-store.js';
import { sampleRecordedNode } from '../../helpers/recorded-nodes.js';

const REPO = 'acme/infra';
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
  const nodes = Array.from({ length: 10_000 }, (_, i) => sampleRecordedNode(i));
  await store.bulkRecordNodes(REPO, 'big', nodes);
  const read = await store.recordedNodes(REPO, 'big');
  assert.equal(read.length, 10_000);
  assert.deepEqual(
    read.map((n) => n.path),
    nodes.map((n) => n.path),
    'every node, in path order',
  );
  const n42 = read.find((n) => n.path === 'web-00042');
  assert.deepEqual({ ...n42, updatedAt: undefined }, { ...sampleRecordedNode(42), updatedAt: undefined });
  assert.equal(read.filter((n) => n.state === 'failed').length, 100);
});

test('bulkRecordNodes upserts, lets the last record of a path win and removes terminated nodes', async () => {
  await store.bulkRecordNodes(REPO, 'small', [sampleRecordedNode(1), sampleRecordedNode(2), sampleRecordedNode(3)]);
  await store.bulkRecordNodes(REPO, 'small', [
    { ...sampleRecordedNode(1), state: 'drifted', reason: 'unmet' },
    { ...sampleRecordedNode(2), specHash: 'first' },
    { ...sampleRecordedNode(2), specHash: 'second' },
    { ...sampleRecordedNode(3), state: 'terminated' },
  ]);
  const read = await store.recordedNodes(REPO, 'small');
  assert.deepEqual(
    read.map((n) => [n.path, n.state, n.specHash]),
    [
      ['web-00001', 'drifted', 'hash-1'],
      ['web-00002', 'ready', 'second'],
    ],
  );
  await assert.rejects(
    store.bulkRecordNodes(REPO, 'small', [{ ...sampleRecordedNode(9), state: 'bogus' as never }]),
    /unknown lifecycle state "bogus"/,
  );
});
