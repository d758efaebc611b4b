import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execLocal } from '../../../hosts/local-connection.js';
import { wrapRemoteCommand } from '../../../hosts/remote-command.js';

// The wrapper is what a host's login shell receives; /bin/sh here plays that shell.
test('the wrapped command runs verbatim under /bin/sh', async () => {
  const r = await execLocal(wrapRemoteCommand(`printf '%s|' "it's" "$((1+2))"; echo; exit 7`));
  assert.equal(r.stdout, "it's|3|\n");
  assert.equal(r.code, 7);
});

test('with a timeout, the host-side `timeout` ends the command even if nothing else does', async () => {
  const r = await execLocal(wrapRemoteCommand('sleep 30', 1));
  assert.equal(r.code, 124); // timeout's status: the remote side gave up by itself (after 1 + 1 s), not sleep's end
});
