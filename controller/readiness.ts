/** `/readyz`: the database answers and its schema (ours and the queue's) is current. */
import { MIGRATIONS_TABLE } from '../store/migrate.js';
import type { Queryable } from '../store/in-transaction.js';
import { queueSchemaProblem } from './store/graphile-queue.js';
import { migrationNames } from '../store/migrations-dir.js';

export type Readiness = { ready: true } | { ready: false; reason: string };

/** Builds a readiness check on the pool; once the schema was seen current it is not re-read (only reachability is). */
export function createReadinessCheck(pool: Queryable, timeoutMs = 3000): () => Promise<Readiness> {
  let schemaSeenCurrent = false;
  const expected = migrationNames();
  return async () => {
    try {
      return await withTimeout(check(), timeoutMs);
    } catch (err) {
      return { ready: false, reason: `database unreachable: ${(err as Error).message}` };
    }
  };

  async function check(): Promise<Readiness> {
    const { rows } = await pool.query<{ m: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS m`, [MIGRATIONS_TABLE]);
    if (schemaSeenCurrent) return { ready: true };
    if (!rows[0].m) return { ready: false, reason: 'schema not migrated: run `politburo migrate`' };
    // Not installed yet, or at a revision other than controller/store/graphile-queue.ts was written for.
    const queueProblem = await queueSchemaProblem(pool);
    if (queueProblem) return { ready: false, reason: queueProblem };
    const done = new Set(
      (await pool.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE}`)).rows.map((r) => r.name),
    );
    const missing = expected.filter((n) => !done.has(n));
    if (missing.length)
      return { ready: false, reason: `schema not current (missing ${missing.join(', ')}): run \`politburo migrate\`` };
    schemaSeenCurrent = true;
    return { ready: true };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
