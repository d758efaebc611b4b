/** Brings a database's schema up to date with node-pg-migrate, and tells /readyz whether it is current. */
import pg from 'pg';
import { runner } from 'node-pg-migrate';
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

/** True when every migration shipped with this version has been applied to the database. */
export async function schemaIsCurrent(databaseUrl: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const exists = await client.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [MIGRATIONS_TABLE]);
    if (!exists.rows[0].present) return false;
    const { rows } = await client.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE}`);
    const done = new Set(rows.map((r) => r.name));
    return migrationNames().every((name) => done.has(name));
  } finally {
    await client.end();
  }
}
