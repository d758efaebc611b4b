/** An in-process mutex per key: work on one key runs one at a time, in the order it was asked for. */
export interface KeyLock {
  run<T>(key: string, work: () => Promise<T>): Promise<T>;
}

/** Creates a lock table; keys with nothing queued are forgotten so the table does not grow without bound. */
export function createKeyLock(): KeyLock {
  const tails = new Map<string, Promise<unknown>>();
  return {
    run<T>(key: string, work: () => Promise<T>): Promise<T> {
      const previous = tails.get(key) ?? Promise.resolve();
      const result = previous.then(work, work);
      const tail = result.catch(() => undefined);
      tails.set(key, tail);
      void tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      return result;
    },
  };
}
