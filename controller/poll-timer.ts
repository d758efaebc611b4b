/**
 * Poll mode's timer: every interval, one replica (whichever takes the advisory lock) runs `pollOnce`; a round that
 * is still running when the next is due is not overlapped.
 */
import type pg from 'pg';
import type { Logger } from './logger.js';
import { withPollLock } from './store/poll-heads.js';

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
  try {
    await withPollLock(pool, pollOnce);
  } catch (err) {
    log.warn({ err }, 'polling the repositories failed; trying again at the next interval');
  }
}
