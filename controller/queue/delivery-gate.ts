/**
 * Answering GitHub comes before working through the backlog. GitHub waits 10 s for a webhook's answer and does not
 * redeliver on its own; a delivery already stored can wait in the queue. When deliveries overlap (one arrived while
 * another was still being stored, within the last second), this process runs its `github-delivery` jobs one at a time
 * instead of `POLITBURO_CONCURRENCY` at once, which leaves the CPU (PostgreSQL's included) to the endpoint. When the
 * burst is over the gate opens within `windowMs`.
 *
 * Delivery jobs waiting at the gate keep their worker slots, so during a burst a queued plan, apply or drift check may
 * wait for the burst to end too (those already running are not touched). That is the order wanted: the deliveries
 * are what start plans and applies.
 *
 * Measured in bench/webhooks (800 deliveries/s on 2 cores): four delivery jobs at once took most of PostgreSQL's CPU
 * (the queue's job fetching under a backlog); the answers' p99 went from 78–116 ms to 51–85 ms with the gate.
 */

export interface IngestPressure {
  /** A delivery arrived while another was still being stored. */
  noteOverlap(): void;
  /** Deliveries overlapped within the window. */
  busy(): boolean;
}

export function createIngestPressure(windowMs = 1000, now: () => number = Date.now): IngestPressure {
  let lastBurst = -Infinity;
  return {
    noteOverlap() {
      lastBurst = now();
    },
    busy() {
      return now() - lastBurst < windowMs;
    },
  };
}

export interface DeliveryGate {
  /** Runs a delivery job: at once, or after the one running finishes while ingestion is busy. */
  run<T>(job: () => Promise<T>): Promise<T>;
  /** Delivery jobs running now (for tests and metrics). */
  readonly running: number;
}

/** @param recheckMs how often waiting jobs look whether the burst is over */
export function createDeliveryGate(pressure: IngestPressure, recheckMs = 100): DeliveryGate {
  let running = 0;
  const waiting: (() => void)[] = [];
  let timer: NodeJS.Timeout | null = null;

  const admit = () => {
    while (waiting.length && (running === 0 || !pressure.busy())) {
      running++;
      waiting.shift()!();
    }
    if (waiting.length && !timer) {
      timer = setTimeout(() => {
        timer = null;
        admit();
      }, recheckMs);
      timer.unref();
    }
  };

  return {
    get running() {
      return running;
    },
    async run(job) {
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        admit();
      });
      try {
        return await job();
      } finally {
        running--;
        admit();
      }
    },
  };
}
