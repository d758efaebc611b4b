/**
 * Poll mode's tables and lock (docs/configuration.md): `poll_heads` holds the last branch head seen per polled
 * repository; an advisory lock lets one replica poll at a time.
 */
import type pg from 'pg';
import type { Queryable } from '../../store/in-transaction.js';

/** Arbitrary advisory lock key: one poller across replicas. */
const POLL_LOCK = 7_305_010_001;

/**
 * Records `sha` as the branch's head. False when it already was (or another replica just claimed it), else the
 * previous head (null: first time).
 */
export async function claimPollHead(
  db: Queryable,
  repository: string,
  branch: string,
  sha: string,
): Promise<string | null | false> {
  const { rows } = await db.query<{ previous: string | null }>(
    `WITH old AS (SELECT sha FROM poll_heads WHERE repository = $1 AND branch = $2)
     INSERT INTO poll_heads (repository, branch, sha) VALUES ($1, $2, $3)
     ON CONFLICT (repository, branch) DO UPDATE SET sha = EXCLUDED.sha, updated_at = now() WHERE poll_heads.sha <> EXCLUDED.sha
     RETURNING (SELECT sha FROM old) AS previous`,
    [repository, branch, sha],
  );
  return rows.length ? rows[0].previous : false;
}

/** Undoes a claim that was not handled, so the next poll tries `sha` again: back to `previous` (null: no head). */
export async function releasePollHead(
  db: Queryable,
  repository: string,
  branch: string,
  sha: string,
  previous: string | null,
): Promise<void> {
  if (previous === null)
    await db.query('DELETE FROM poll_heads WHERE repository = $1 AND branch = $2 AND sha = $3', [
      repository,
      branch,
      sha,
    ]);
  else
    await db.query('UPDATE poll_heads SET sha = $4 WHERE repository = $1 AND branch = $2 AND sha = $3', [
      repository,
      branch,
      sha,
      previous,
    ]);
}

/**
 * Runs `fn` while holding the poll lock (on a client of its own, released afterwards); false without running it when
 * another replica holds the lock.
 */
export async function withPollLock(pool: pg.Pool, fn: () => Promise<void>): Promise<boolean> {
  const client = await pool.connect();
  const lost = () => undefined; // reported by the failing query
  client.on('error', lost);
  try {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [POLL_LOCK]);
    if (!rows[0].locked) return false;
    try {
      await fn();
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [POLL_LOCK]);
    }
    return true;
  } finally {
    client.off('error', lost);
    client.release();
  }
}
