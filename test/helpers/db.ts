/**
 * Throwaway PostgreSQL databases for tests: a migrated template is built once per set of migration files (under an
 * advisory lock, as test files run in parallel processes), then every call clones it with CREATE DATABASE ... TEMPLATE.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { migrate } from '../../store/migrate.js';
import { migrationNames, migrationsDir } from '../../store/migrations-dir.js';

/** Arbitrary key of the advisory lock serialising template builds. */
const TEMPLATE_LOCK = 7_305_004_201;

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

function serverUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('createTestDatabase: DATABASE_URL is not set; run tests through test/run.sh');
  return url;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Test databases older than this were left behind by a crashed test process. */
const ABANDONED_AFTER_S = 6 * 3600;

async function dropAbandoned(admin: pg.Client): Promise<void> {
  const { rows } = await admin.query<{ datname: string }>(
    `SELECT datname FROM pg_database WHERE datname LIKE 'pb\\_test\\_%'`,
  );
  const now = Date.now() / 1000;
  for (const { datname } of rows) {
    const created = parseInt(datname.split('_')[2] ?? '', 36);
    if (Number.isFinite(created) && now - created > ABANDONED_AFTER_S) {
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`).catch(() => {});
    }
  }
}

/** Name of the template for the current migrations: a hash of their names and contents. */
function templateName(): string {
  const dir = migrationsDir();
  const hash = createHash('sha256');
  for (const name of migrationNames(dir)) {
    hash
      .update(name)
      .update('\0')
      .update(readFileSync(path.join(dir, `${name}.sql`)))
      .update('\0');
  }
  return `pb_tmpl_${hash.digest('hex').slice(0, 16)}`;
}

async function adminClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    return client;
  } catch (err) {
    // The database named in DATABASE_URL may not exist yet: the maintenance database always does.
    if ((err as { code?: string }).code !== '3D000') throw err;
    const fallback = new pg.Client({ connectionString: withDatabase(url, 'postgres') });
    await fallback.connect();
    return fallback;
  }
}

async function ensureTemplate(admin: pg.Client, url: string, template: string): Promise<void> {
  await admin.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK]);
  try {
    const { rows } = await admin.query<{ datistemplate: boolean }>(
      'SELECT datistemplate FROM pg_database WHERE datname = $1',
      [template],
    );
    await dropAbandoned(admin);
    if (rows[0]?.datistemplate) return;
    // A template left half-built by a crashed run is rebuilt; IS_TEMPLATE marks a finished one.
    if (rows.length) await admin.query(`DROP DATABASE ${pg.escapeIdentifier(template)} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(template)}`);
    await migrate(withDatabase(url, template));
    await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(template)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
  } finally {
    await admin.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK]);
  }
}

/**
 * A fresh, fully migrated database (or, with `{ empty: true }`, one with no schema at all, for migration tests);
 * drop() removes it, terminating any connections left open.
 */
export async function createTestDatabase(opts: { empty?: boolean } = {}): Promise<TestDatabase> {
  const url = serverUrl();
  // The creation time in the name lets later runs drop databases that crashed test processes left behind.
  const name = `pb_test_${Math.floor(Date.now() / 1000).toString(36)}_${randomBytes(5).toString('hex')}`;
  const admin = await adminClient(url);
  try {
    if (opts.empty) {
      await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    } else {
      const template = templateName();
      await ensureTemplate(admin, url, template);
      await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE ${pg.escapeIdentifier(template)}`);
    }
  } finally {
    await admin.end();
  }
  let dropped = false;
  return {
    url: withDatabase(url, name),
    async drop() {
      if (dropped) return;
      dropped = true;
      const client = await adminClient(url);
      try {
        // pg's Pool.end() resolves once it has asked its clients to end, before their sessions are gone; a FORCE drop
        // that terminates one of those sessions makes its client emit an error after the test ended. Wait (bounded)
        // for the sessions to go on their own; FORCE is for the ones a test left open.
        for (let i = 0; i < 50; i++) {
          const { rows } = await client.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
            [name],
          );
          if (!rows[0]?.n) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
