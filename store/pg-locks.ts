/**
 * The environment lock port on PostgreSQL (see reconciler/run-lock.ts): a session advisory lock per environment, the
 * fast path for waiting, and run records as leases, claimed atomically under a transaction advisory lock so that no
 * outage of the session lock's connection can let two runs of an environment start.
 */
import type pg from 'pg';
import { PolitburoError, type EnvironmentLocks, type RunClaim, type RunKind, type RunLease } from '../kernel/types.js';
import { toRunRecord, type RunRow } from './rows.js';
import * as SQL from './sql.js';
import { inTransaction } from './in-transaction.js';

/** Session lock key: (7305, hashtext(JSON [repository, environment])). */
const LOCK_NAMESPACE = 7305;
const KINDS: readonly RunKind[] = ['apply', 'drift', 'plan-live'];

type EnvIds = (repository: string, environment: string) => Promise<{ id: string; repositoryId: string }>;

interface LeaseRow {
  id: string;
  kind: RunKind;
  owner_host: string | null;
  owner_pid: number | null;
  lease_ms: number;
  silent_ms: string;
}

/** The lock port of a pg pool; `envIds` finds or creates an environment's rows. */
export function createPgLocks(pool: pg.Pool, envIds: EnvIds): EnvironmentLocks {
  return {
    acquire: (repository, environment, opts = {}) =>
      acquireSessionLock(pool, JSON.stringify([repository, environment]), opts),
    async claimRun(input, owner, isDead) {
      if (!KINDS.includes(input.kind)) throw new Error(`state store: unknown run kind ${JSON.stringify(input.kind)}`);
      const ids = await envIds(input.repository, input.environment);
      return inTransaction(pool, async (c): Promise<RunClaim> => {
        await c.query(SQL.CLAIM_LOCK, [JSON.stringify([input.repository, input.environment])]);
        const { live, closed } = await closeDead(c, input.repository, input.environment, isDead);
        if (live.length) return { live, closed };
        const values = [
          ids.repositoryId,
          ids.id,
          input.commit,
          input.kind,
          input.trigger,
          owner.host,
          owner.pid,
          Math.max(1, Math.round(owner.leaseMs)),
        ];
        const { rows } = await c.query<RunRow>(SQL.START_OWNED_RUN, values);
        return {
          run: toRunRecord({ ...rows[0], repository: input.repository, environment: input.environment }),
          closed,
        };
      });
    },
    async renewRun(runId) {
      return (await pool.query(SQL.RENEW_RUN, [runId])).rowCount === 1;
    },
    async closeDeadRuns(filter, isDead) {
      return (
        await inTransaction(pool, (c) => closeDead(c, filter.repository ?? null, filter.environment ?? null, isDead))
      ).closed;
    },
  };
}

/**
 * Running runs split into live ones and dead ones, which are closed as interrupted (within the caller's transaction).
 */
async function closeDead(
  c: pg.PoolClient,
  repository: string | null,
  environment: string | null,
  isDead: (l: RunLease) => boolean,
): Promise<{ live: RunLease[]; closed: RunLease[] }> {
  const { rows } = await c.query<LeaseRow>(SQL.RUNNING_LEASES, [repository, environment]);
  const live: RunLease[] = [];
  const closed: RunLease[] = [];
  for (const row of rows) {
    const lease: RunLease = {
      id: row.id,
      kind: row.kind,
      ownerHost: row.owner_host,
      ownerPid: row.owner_pid,
      silentMs: Number(row.silent_ms),
      leaseMs: row.lease_ms,
    };
    const gone = isDead(lease);
    if (!gone && lease.silentMs <= lease.leaseMs) {
      live.push(lease);
      continue;
    }
    const interrupted = (
      await c.query<{ interrupted: number }>(SQL.CLOSE_DEAD_RUN, [lease.id, interruptedReason(lease, !gone)])
    ).rows[0].interrupted;
    await c.query(SQL.CLOSED_RUN_SUMMARY, [lease.id, interrupted]);
    closed.push(lease);
  }
  return { live, closed };
}

/** Why the nodes a dead run left in progress are failed. */
function interruptedReason(lease: RunLease, expired: boolean): string {
  const owner =
    lease.ownerPid !== null ? `pid ${lease.ownerPid} on ${lease.ownerHost ?? 'an unknown host'}` : 'an unknown process';
  const why = expired
    ? lease.silentMs > 1e12
      ? 'never renewed its lease'
      : `stopped renewing its lease ${Math.round(lease.silentMs / 1000)}s ago`
    : 'is gone';
  return `Interrupted: the process running run ${lease.id} (${owner}) ${why}; this node was not finished`;
}

/**
 * Takes the environment's session lock on a connection of its own, waiting for it (after `onWait`) when another run
 * holds it. The connection may die while held: `onLost` says so, and the run's lease keeps other runs out meanwhile.
 */
async function acquireSessionLock(
  pool: pg.Pool,
  key: string,
  opts: { signal?: AbortSignal; onWait?(): void; onLost?(err: Error): void },
): Promise<{ release(): Promise<void> }> {
  const client = await pool.connect();
  let lost = false;
  let released = false;
  const onLost = (err?: Error) => {
    if (lost || released) return;
    lost = true;
    opts.onLost?.(err ?? new Error('the connection ended'));
  };
  const onEnd = () => onLost();
  client.on('error', onLost);
  client.on('end', onEnd);
  const detach = (broken: boolean) => {
    client.off('error', onLost);
    client.off('end', onEnd);
    client.release(broken);
  };
  try {
    const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [
      LOCK_NAMESPACE,
      key,
    ]);
    if (!got.rows[0].ok) {
      opts.onWait?.();
      await waitForLock(pool, client, key, opts.signal);
    }
  } catch (err) {
    released = true;
    detach(true);
    throw err;
  }
  return {
    async release() {
      if (released) return;
      released = true;
      let broken = lost;
      if (!lost)
        await client
          .query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_NAMESPACE, key])
          .catch(() => (broken = true));
      detach(broken);
    },
  };
}

async function waitForLock(pool: pg.Pool, client: pg.PoolClient, key: string, signal?: AbortSignal): Promise<void> {
  const interrupted = () => new PolitburoError('Interrupted', 'interrupted while waiting for the environment lock');
  if (signal?.aborted) throw interrupted();
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  // The lock query blocks its connection: cancel it from another one of the pool.
  const cancel = () => void pool.query('SELECT pg_cancel_backend($1)', [pid]).catch(() => undefined);
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [LOCK_NAMESPACE, key]);
  } catch (err) {
    if (signal?.aborted) throw interrupted();
    throw err;
  } finally {
    signal?.removeEventListener('abort', cancel);
  }
}
