import { PolitburoError } from '../kernel/types.js';

/**
 * Limits the channels open at once on one connection: sshd refuses sessions beyond its MaxSessions (default 10), so
 * further commands wait their turn instead of failing.
 */
export class ChannelQueue {
  private active = 0;
  private waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];

  constructor(private readonly limit: number) {}

  /** Resolves when a channel may be opened; call release() after it closed. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(interrupted());
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const entry = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject,
      };
      const onAbort = () => {
        this.waiting = this.waiting.filter((w) => w !== entry);
        reject(interrupted());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  /** Takes a slot at once if, after it, `spare` slots would still be free; says whether it did. */
  tryAcquire(spare = 0): boolean {
    if (this.active + spare >= this.limit || this.waiting.length > 0) return false;
    this.active++;
    return true;
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next.resolve();
    else this.active--;
  }

  /** Fails everything still waiting (the connection is gone). */
  failAll(error: Error): void {
    const waiting = this.waiting;
    this.waiting = [];
    waiting.forEach((w) => w.reject(error));
  }
}

function interrupted(): PolitburoError {
  return new PolitburoError('Interrupted', 'the command was cancelled before it started');
}
