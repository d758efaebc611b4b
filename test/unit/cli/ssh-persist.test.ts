/** `--ssh-persist` and POLITBURO_SSH_PERSIST (docs/cli.md, "Connections kept between runs"): what they take. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CliExit, EXIT_USAGE, sshPersist } from '../../../cli/common.js';

test('durations, seconds, yes, no, and unset (ssh_config decides)', () => {
  assert.equal(sshPersist(undefined), undefined);
  assert.equal(sshPersist('no'), false);
  assert.equal(sshPersist('0'), false);
  assert.equal(sshPersist(''), undefined);
  assert.equal(sshPersist('yes'), null);
  assert.equal(sshPersist('60'), 60_000);
  assert.equal(sshPersist('10m'), 600_000);
  assert.equal(sshPersist(' 1h '), 3_600_000);
  assert.equal(sshPersist('7d'), 7 * 24 * 3_600_000);
});

test('anything else is a usage error naming the option or variable and what it takes', () => {
  for (const bad of ['forever', '-5', '8d', 'x'.repeat(200), '1.5.2']) {
    assert.throws(
      () => sshPersist(bad, 'POLITBURO_SSH_PERSIST'),
      (err: unknown) =>
        err instanceof CliExit &&
        err.exitCode === EXIT_USAGE &&
        err.message.startsWith(`POLITBURO_SSH_PERSIST: '${bad}' is not a time to keep connections`) &&
        err.message.includes("'yes' (until `politburo connections --close`)"),
      bad,
    );
  }
});
