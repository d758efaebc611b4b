/** Brings a database's schema up to date with node-pg-migrate, and tells /readyz whether it is current. */
import pg from 'pg';
import { MIGRATION_FILE, migrationNames, migrationsDir } from './migrations-dir.js';

/** node-pg-migrate's bookkeeping table. */
export const MIGRATIONS_TABLE = 'pgmigrations';

export interface MigrateOptions {
  /** Progress messages (never stdout unless the caller wants it). */
  log?: (msg: string) => void;
}

/**
 * Applies every pending migration in one transaction; returns the names applied (empty when already current).
 * Idempotent, and safe when several processes call it at once: they queue on node-pg-migrate's advisory lock.
 */
export async function migrate(databaseUrl: string, opts: MigrateOptions = {}): Promise<string[]> {
  const log = opts.log ?? (() => {});
  // The common case, a current schema, needs one query and not node-pg-migrate's module graph (~0.1 s of start-up).
  if (await schemaIsCurrent(databaseUrl)) return [];
  const { runner } = await import('node-pg-migrate');
  const applied = await runner({
    databaseUrl,
    dir: migrationsDir(),
    // Only the SQL files: a README or editor leftovers in migrations/ are not migrations.
    ignorePattern: `(?!${MIGRATION_FILE.source.slice(1, -1)}$).*`,
    migrationsTable: MIGRATIONS_TABLE,
    direction: 'up',
    singleTransaction: true,
    checkOrder: true,
    advisoryLockMode: 'wait',
    log: (msg: string) => log(msg),
  });
  return applied.map((m) => m.name);
}

/**
 * True when every migration shipped with this version has been applied (for /readyz). Takes a URL (one connection,
 * closed again) or a pool (borrows one of its connections).
 */
export async function schemaIsCurrent(db: string | pg.Pool): Promise<boolean> {
  if (typeof db !== 'string') {
    const client = await db.connect();
    try {
      return await appliedAll(client);
    } finally {
      client.release();
    }
  }
  const client = new pg.Client({ connectionString: db });
  await client.connect();
  try {
    return await appliedAll(client);
  } finally {
    await client.end();
  }
}

async function appliedAll(client: pg.ClientBase): Promise<boolean> {
  const exists = await client.query<{ present: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS present`, [
    MIGRATIONS_TABLE,
  ]);
  if (!exists.rows[0].present) return false;
  const { rows } = await client.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE}`);
  const done = new Set(rows.map((r) => r.name));
  return migrationNames().every((name) => done.has(name));
}
