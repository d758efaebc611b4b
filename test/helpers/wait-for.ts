/**
 * Waiting for a condition in tests. A test never asserts how long something took (the machine may be loaded): it
 * waits, generously, for what must eventually be true, and says what it waited for when it gives up.
 */

/** Polls `fn` until it returns a truthy value (returned) or `timeoutMs` passes (throws naming `what`). */
export async function waitFor<T>(
  what: string,
  fn: () => T | Promise<T>,
  timeoutMs = 90_000,
  intervalMs = 100,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
