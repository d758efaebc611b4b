/**
 * Runs of one environment never overlap, across processes and replicas, even when the database drops connections or
 * a process is killed:
 *
 * - The environment's session lock (a PostgreSQL advisory lock held on a connection for the whole run) is the fast
 *   path: a second run waits on it without polling.
 * - The run record is a lease: it names its owner (host name and pid) and the owner renews its heartbeat every
 *   POLITBURO_RUN_HEARTBEAT through the pool, so a renewed connection works. A run starts only when no other run of
 *   the environment is running with a fresh heartbeat (database clock) and an owner not known dead; runs whose owner is
 *   gone (same host, pid not alive) or silent longer than their lease (POLITBURO_RUN_LEASE) are closed as interrupted
 *   first, their unfinished nodes failed with the reason. The check and the start are one transaction.
 * - An owner that cannot renew its lease for half of it stops: nothing new starts and running tasks are stopped at
 *   once, well before another run may take over. Losing only the session lock's connection stops nothing: the lease
 *   still keeps other runs out.
 */
import os from 'node:os';
import { parseDuration } from '../schema/language.js';
import {
  PolitburoError,
  type EnvironmentLocks,
  type RunClaim,
  type RunKind,
  type RunLease,
  type RunOwner,
  type RunRecord,
  type StateStore,
} from '../kernel/types.js';

/** How often a run renews its lease, and how long a silent run keeps it. */
export interface LeaseSettings {
  heartbeatMs: number;
  leaseMs: number;
}

const DEFAULT_LEASE: LeaseSettings = { heartbeatMs: 5_000, leaseMs: 30_000 };

/** Lease settings from POLITBURO_RUN_HEARTBEAT and POLITBURO_RUN_LEASE (durations such as `5s`); a bad value throws. */
export function leaseSettings(env: NodeJS.ProcessEnv = process.env): LeaseSettings {
  const read = (name: string, fallback: number): number => {
    const text = env[name]?.trim();
    if (!text) return fallback;
    const ms = /^\d+(\.\d+)?$/.test(text) ? Number(text) * 1000 : parseDuration(text);
    if (ms === null || !(ms >= 100))
      throw new PolitburoError(
        'InvalidSpec',
        `${name}: '${text}' is not a duration of at least 100ms (write e.g. '5s')`,
      );
    return ms;
  };
  const heartbeatMs = read('POLITBURO_RUN_HEARTBEAT', DEFAULT_LEASE.heartbeatMs);
  const leaseMs = read('POLITBURO_RUN_LEASE', DEFAULT_LEASE.leaseMs);
  if (leaseMs < 3 * heartbeatMs) {
    throw new PolitburoError(
      'InvalidSpec',
      `POLITBURO_RUN_LEASE (${leaseMs}ms) must be at least three times POLITBURO_RUN_HEARTBEAT (${heartbeatMs}ms)`,
    );
  }
  return { heartbeatMs, leaseMs };
}

/**
 * Runs `fn` holding the environment's session lock; waits for a running apply of it first (saying so through `log`).
 */
export async function withEnvironmentLock<T>(
  store: StateStore,
  repository: string,
  environment: string,
  fn: () => Promise<T>,
  opts: { log?: (line: string) => void; signal?: AbortSignal } = {},
): Promise<T> {
  if (!store.locks) return fn(); // a store that cannot lock across processes (none exists today)
  const lock = await store.locks.acquire(repository, environment, {
    signal: opts.signal,
    onWait: () => opts.log?.(`another run of ${environment} is in progress: waiting for it to finish`),
    onLost: (err) =>
      opts.log?.(
        `the environment lock's database connection was lost (${err.message}); the run's lease keeps other runs out`,
      ),
  });
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/** True when a run's owner is known to be dead: it ran on this host and its pid is gone. */
export function ownerIsDead(lease: RunLease): boolean {
  if (lease.ownerHost !== os.hostname() || lease.ownerPid === null) return false;
  if (lease.ownerPid === process.pid) return false; // this process: judged by its heartbeat only
  try {
    process.kill(lease.ownerPid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Closes the running runs (of one environment, or all) whose owner is dead or whose lease expired; logs each. */
export async function closeDeadRuns(
  store: StateStore,
  filter: { repository?: string; environment?: string },
  log?: (line: string) => void,
): Promise<RunLease[]> {
  if (!store.locks) return [];
  const closed = await store.locks.closeDeadRuns(filter, ownerIsDead);
  for (const l of closed) log?.(closedLine(l));
  return closed;
}

function closedLine(l: RunLease): string {
  const owner = l.ownerPid !== null ? `pid ${l.ownerPid} on ${l.ownerHost}` : 'an unknown process';
  return `run ${l.id} (${l.kind}) was left running by ${owner}, which stopped: closed as interrupted`;
}

/** A run this process holds: its record, and a signal aborted (reason: LeaseLost) when the lease cannot be kept. */
export interface LeasedRun {
  record: RunRecord;
  signal?: AbortSignal;
  /** Stops renewing (after the run's record is finished). */
  stop(): void;
}

/** The abort reason of a run that lost its lease: running tasks are stopped at once, without a grace period. */
export class LeaseLost extends PolitburoError {
  readonly immediate = true;
  constructor(message: string) {
    super('Interrupted', message);
  }
}

/**
 * Starts a run record under a lease: closes the environment's dead runs, waits while another run of it is alive, then
 * keeps the lease renewed until stop(). Without a locking store it only starts the record.
 */
export async function startLeasedRun(
  store: StateStore,
  input: { repository: string; environment: string; commit: string | null; kind: RunKind; trigger: string },
  opts: { settings?: LeaseSettings; signal?: AbortSignal; log?: (line: string) => void } = {},
): Promise<LeasedRun> {
  if (!store.locks) return { record: await store.startRun(input), stop: () => undefined };
  const settings = opts.settings ?? leaseSettings();
  const owner: RunOwner = { host: os.hostname(), pid: process.pid, leaseMs: settings.leaseMs };
  let said = '';
  // A claim whose connection dies is tried again: if it had started the run, that record is an orphan of this very
  // process, which never renews it; it is closed once its lease expires, and this claim waits for that.
  const giveUpAt = Date.now() + Math.max(2 * settings.leaseMs, 10_000);
  for (;;) {
    if (opts.signal?.aborted)
      throw new PolitburoError(
        'Interrupted',
        `interrupted while waiting for another run of ${input.environment} to end`,
      );
    const claimedAt = performance.now();
    let claim: RunClaim;
    try {
      claim = await store.locks.claimRun(input, owner, ownerIsDead);
    } catch (err) {
      if (Date.now() > giveUpAt) throw err;
      opts.log?.(`could not start the run record of ${input.environment} (${(err as Error).message}): trying again`);
      await sleep(500, opts.signal);
      continue;
    }
    for (const l of claim.closed) opts.log?.(closedLine(l));
    if ('run' in claim) return keepLease(store.locks, claim.run, settings, claimedAt, opts.log);
    const line = claim.live
      .map((l) => `run ${l.id} (${l.kind}, pid ${l.ownerPid ?? '?'} on ${l.ownerHost ?? '?'})`)
      .join(', ');
    if (line !== said)
      opts.log?.(`${line} of ${input.environment} is still running: waiting for it to end or its lease to expire`);
    said = line;
    await sleep(Math.min(settings.heartbeatMs, 1000), opts.signal);
  }
}

/**
 * Renews the run's heartbeat every heartbeatMs; aborts its signal when the lease is lost or half of it went unrenewed.
 */
function keepLease(
  locks: EnvironmentLocks,
  record: RunRecord,
  settings: LeaseSettings,
  claimedAt: number,
  log?: (line: string) => void,
): LeasedRun {
  const controller = new AbortController();
  // Measured from when a renewal was sent: the database's heartbeat is at least that recent.
  let renewedAt = claimedAt;
  let inFlight = false;
  let complained = false;
  const halt = (message: string) => {
    if (controller.signal.aborted) return;
    log?.(message);
    controller.abort(new LeaseLost(message));
  };
  const renew = async () => {
    const sent = performance.now();
    inFlight = true;
    try {
      if (await locks.renewRun(record.id)) {
        renewedAt = sent;
        if (complained) log?.(`run ${record.id}: its lease is renewed again`);
        complained = false;
      } else {
        halt(
          `Interrupted: run ${record.id} was closed by another process while it ran (its lease had expired); stopping its tasks`,
        );
      }
    } catch (err) {
      if (!complained) log?.(`run ${record.id}: could not renew its lease: ${(err as Error).message}`);
      complained = true;
    } finally {
      inFlight = false;
    }
  };
  const tick = () => {
    const silentMs = performance.now() - renewedAt;
    if (silentMs > settings.leaseMs / 2) {
      halt(
        `Interrupted: run ${record.id} could not renew its lease for ${Math.round(silentMs / 1000)}s (database unreachable); stopped its tasks before another run may take over`,
      );
    }
    if (!inFlight) void renew();
  };
  const timer = setInterval(tick, settings.heartbeatMs);
  timer.unref();
  return { record, signal: controller.signal, stop: () => clearInterval(timer) };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
