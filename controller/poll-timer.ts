/**
 * Poll mode's timer: every interval, one replica (whichever takes the advisory lock) runs `pollOnce`; a round that
 * is still running when the next is due is not overlapped.
 */
import type pg from 'pg';
import type { Logger } from './logger.js';

/** Arbitrary advisory lock key: one poller across replicas. */
const POLL_LOCK = 7_305_010_001;

export interface PollTimer {
  stop(): Promise<void>;
}

/** Starts polling at once and then every intervalMs. */
export function startPollTimer(
  pool: pg.Pool,
  intervalMs: number,
  pollOnce: () => Promise<void>,
  logger: Logger,
): PollTimer {
  const log = logger.child({ component: 'poll' });
  let running: Promise<void> | null = null;
  let stopped = false;
  const tick = () => {
    if (running || stopped) return;
    running = round(pool, pollOnce, log).finally(() => {
      running = null;
    });
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  tick();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

async function round(pool: pg.Pool, pollOnce: () => Promise<void>, log: Logger): Promise<void> {
  let client: pg.PoolClient | undefined;
  try {
    client = await pool.connect();
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [POLL_LOCK]);
    if (!rows[0].locked) return;
    try {
      await pollOnce();
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [POLL_LOCK]);
    }
  } catch (err) {
    log.warn({ err }, 'polling the repositories failed; trying again at the next interval');
  } finally {
    client?.release();
  }
}
