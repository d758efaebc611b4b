/** Asserting on Politburo's errors in tests. */
import assert from 'node:assert/strict';
import { PolitburoError } from '../../kernel/types.js';

/** Awaits `p`, which must reject with a PolitburoError of `reason` whose message matches `message`; returns it. */
export async function rejectsWith(p: Promise<unknown>, reason: string, message: RegExp): Promise<PolitburoError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof PolitburoError, `expected a PolitburoError, got ${String(err)}`);
    assert.equal(err.reason, reason, err.message);
    assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected ${reason}`);
}
