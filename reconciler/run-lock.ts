/**
 * Applies of one environment never overlap (SPEC §2): a PostgreSQL session advisory lock per (repository, environment),
 * held on a dedicated connection for the whole run. Lock key: (7305, hashtext(JSON [repository, environment])).
 */
import type pg from 'pg';
import { PolitburoError, type StateStore } from './types.js';

const LOCK_NAMESPACE = 7305;

/** Runs `fn` holding the environment's lock; waits for a running apply of it first (saying so through `log`). */
export async function withEnvironmentLock<T>(
  store: StateStore,
  repository: string,
  environment: string,
  fn: () => Promise<T>,
  opts: { log?: (line: string) => void; signal?: AbortSignal } = {},
): Promise<T> {
  const pool = (store as StateStore & { pool?: pg.Pool }).pool;
  if (!pool) return fn(); // a store without PostgreSQL (none exists today) cannot lock across processes
  const key = JSON.stringify([repository, environment]);
  const client = await pool.connect();
  let broken = false;
  // The lock's connection is held for the whole run: if the database drops it, the run goes on (its writes report
  // the outage) and the process must not die of an unheard 'error' event.
  const lost = () => {
    broken = true;
  };
  client.on('error', lost);
  try {
    const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [LOCK_NAMESPACE, key]);
    if (!got.rows[0].ok) {
      opts.log?.(`another run of ${environment} is in progress: waiting for it to finish`);
      await waitForLock(client, key, opts.signal);
    }
    try {
      return await fn();
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_NAMESPACE, key]).catch(() => (broken = true));
    }
  } catch (err) {
    broken = true;
    throw err;
  } finally {
    client.off('error', lost);
    client.release(broken);
  }
}

async function waitForLock(client: pg.PoolClient, key: string, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw new PolitburoError('Interrupted', 'interrupted while waiting for the environment lock');
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  const cancel = () => {
    // The lock query blocks its connection: cancel it from another one.
    void cancelBackend(client, pid);
  };
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [LOCK_NAMESPACE, key]);
  } catch (err) {
    if (signal?.aborted) throw new PolitburoError('Interrupted', 'interrupted while waiting for the environment lock');
    throw err;
  } finally {
    signal?.removeEventListener('abort', cancel);
  }
}

async function cancelBackend(client: pg.PoolClient, pid: number): Promise<void> {
  const { Client } = (await import('pg')).default;
  const params = (client as unknown as { connectionParameters: pg.ClientConfig }).connectionParameters;
  const other = new Client(params);
  try {
    await other.connect();
    await other.query('SELECT pg_cancel_backend($1)', [pid]);
  } catch {
    // best effort: the lock wait ends when the other run finishes anyway
  } finally {
    await other.end().catch(() => undefined);
  }
}
