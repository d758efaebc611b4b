/** The environment lock's connection is held for a whole run: losing it must not end the process. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { withEnvironmentLock } from '../../../reconciler/run-lock.js';
import { createPgStore } from '../../../reconciler/store/pg-store.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';

let db: TestDatabase;
let pool: pg.Pool;
before(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 4, application_name: 'run-lock-test' });
  pool.on('error', () => {});
});
after(async () => {
  await pool?.end();
  await db?.drop();
});

test('a run whose lock connection is terminated by the server finishes, and the process lives on', async () => {
  const store = createPgStore(pool);
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  try {
    const result = await withEnvironmentLock(store, 'repo', 'production', async () => {
      // Someone (a failover, an administrator) cuts the connection that holds the advisory lock.
      const admin = new pg.Client({ connectionString: db.url });
      await admin.connect();
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'run-lock-test' AND pid <> pg_backend_pid() AND query LIKE '%advisory%'`);
      await admin.end();
      await new Promise((r) => setTimeout(r, 200));
      return 'finished';
    });
    assert.equal(result, 'finished');
    assert.deepEqual(uncaught, []);
    // The lock is free again: the next run gets it at once.
    assert.equal(await withEnvironmentLock(store, 'repo', 'production', async () => 'again'), 'again');
  } finally {
    process.off('uncaughtException', onUncaught);
  }
});
