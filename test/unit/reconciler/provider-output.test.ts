/** What a provider's create may print: one address, one host key line — anything else fails the node clearly. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { providerCreate } from '../../../reconciler/provider.js';

async function createWith(output: unknown) {
  const root = await mkdtemp(path.join(os.tmpdir(), 'pb-provider-'));
  try {
    await writeFile(
      path.join(root, 'create.sh'),
      `#!/bin/sh\ncat >/dev/null\nprintf '%s' '${JSON.stringify(output).replace(/'/g, "'\\''")}'\n`,
    );
    await chmod(path.join(root, 'create.sh'), 0o755);
    const provider = {
      create: 'create.sh',
      destroy: 'create.sh',
      source: { file: 'politburo.yml', line: 1, column: 1 },
    };
    return await providerCreate({
      root,
      provider,
      environment: 'prod',
      resource: 'web-1',
      params: {},
      timeoutMs: 10_000,
    });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

test('a single-line host key and an address are accepted', async () => {
  const created = await createWith({
    address: '127.0.0.9',
    port: 2222,
    host_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI',
  });
  assert.deepEqual(created, {
    address: '127.0.0.9',
    port: 2222,
    user: undefined,
    hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI',
  });
});

test('a host key spanning lines is refused: it would add trust for other hosts', async () => {
  await assert.rejects(
    createWith({ address: '127.0.0.9', host_key: 'ssh-ed25519 AAAA\nevil.example.com ssh-ed25519 BBBB' }),
    (err: Error & { reason?: string }) => {
      assert.equal(err.reason, 'ProvisionFailed');
      assert.match(err.message, /provider create \(create\.sh\) for web-1: "host_key" must be one line/);
      return true;
    },
  );
});

test('an address list is refused', async () => {
  await assert.rejects(createWith({ address: '127.0.0.9,127.0.0.10' }), /"address" must be one host name or address/);
});
