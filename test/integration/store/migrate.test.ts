import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { migrate, schemaIsCurrent } from '../../../store/migrate.js';
import { migrationNames } from '../../../store/migrations-dir.js';

const TABLES = [
  'drift_findings',
  'drift_issues',
  'environments',
  'github_checks',
  'node_runs',
  'nodes',
  'pr_comments',
  'repositories',
  'runs',
  'task_results',
  'webhook_deliveries',
];

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

describe('migrations', () => {
  const dbs: TestDatabase[] = [];
  after(async () => {
    await Promise.all(dbs.map((d) => d.drop()));
  });
  const emptyDb = async () => {
    const db = await createTestDatabase({ empty: true });
    dbs.push(db);
    return db.url;
  };

  test('bring an empty database up to date, then are a no-op', async () => {
    const url = await emptyDb();
    assert.equal(await schemaIsCurrent(url), false);
    const messages: string[] = [];
    const applied = await migrate(url, { log: (m) => messages.push(m) });
    assert.deepEqual(applied, migrationNames());
    assert.ok(applied.length >= 9);
    assert.ok(
      messages.some((m) => m.includes('001_repositories_environments')),
      'progress goes to log',
    );
    assert.equal(await schemaIsCurrent(url), true);
    const tables = await query<{ table_name: string }>(
      url,
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'pgmigrations' ORDER BY 1`,
    );
    for (const t of TABLES)
      assert.ok(
        tables.some((r) => r.table_name === t),
        `table ${t} exists`,
      );
    assert.deepEqual(await migrate(url), []);
  });

  test('two concurrent runs apply each migration once', async () => {
    const url = await emptyDb();
    const [a, b] = await Promise.all([migrate(url), migrate(url)]);
    assert.deepEqual([...a, ...b].sort(), migrationNames().sort());
    const rows = await query<{ n: number }>(url, 'SELECT count(*)::int AS n FROM pgmigrations');
    assert.equal(rows[0].n, migrationNames().length);
  });

  test('constrain lifecycle states and uniqueness', async () => {
    const url = await emptyDb();
    await migrate(url);
    await query(url, `INSERT INTO repositories (key) VALUES ('r')`);
    await query(url, `INSERT INTO environments (repository_id, name) SELECT id, 'e' FROM repositories`);
    await assert.rejects(
      query(url, `INSERT INTO nodes (environment_id, path, state) SELECT id, 'n', 'exploded' FROM environments`),
      /violates check constraint/,
    );
    await query(
      url,
      `INSERT INTO github_checks (repository, sha, name, status) VALUES ('o/r', 'abc', 'politburo/prod', 'queued')`,
    );
    await assert.rejects(
      query(
        url,
        `INSERT INTO github_checks (repository, sha, name, status) VALUES ('o/r', 'abc', 'politburo/prod', 'queued')`,
      ),
      /duplicate key/,
    );
  });

  test('schemaIsCurrent is false when a migration is missing', async () => {
    const url = await emptyDb();
    await migrate(url);
    await query(url, `DELETE FROM pgmigrations WHERE name = $1`, [migrationNames().at(-1)]);
    assert.equal(await schemaIsCurrent(url), false);
    const pool = new pg.Pool({ connectionString: url });
    try {
      assert.equal(await schemaIsCurrent(pool), false);
      await pool.query(`INSERT INTO pgmigrations (name, run_on) VALUES ($1, now())`, [migrationNames().at(-1)]);
      assert.equal(await schemaIsCurrent(pool), true);
    } finally {
      await pool.end();
    }
  });
});
