import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../../../reconciler/store/open-store.js';
import { defaultDataDir } from '../../../reconciler/store/embedded.js';

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

test('openStore without a URL starts an embedded PostgreSQL, shares it with a second opener, stops it and restarts it', async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pb-embedded-'));
  chmodSync(tmp, 0o755); // as root the server runs as `postgres`, which must be able to enter it
  const dataDir = path.join(tmp, 'postgres');
  const messages: string[] = [];
  const log = (m: string) => messages.push(m);
  try {
    const first = await openStore({ dataDir, log });
    assert.equal(first.embedded?.owned, true);
    assert.match(first.url, /^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/politburo$/);
    assert.ok(first.applied.length >= 9, 'migrations ran on the fresh server');
    assert.ok(existsSync(path.join(dataDir, 'PG_VERSION')));
    assert.equal(statSync(`${dataDir}.server.json`).mode & 0o077, 0, 'the password file is private');
    assert.equal(JSON.parse(readFileSync(`${dataDir}.server.json`, 'utf8')).port, first.embedded?.port);

    const second = await openStore({ dataDir, log });
    assert.equal(second.embedded?.owned, false, 'the running server is reused');
    assert.equal(second.embedded?.port, first.embedded?.port);
    assert.deepEqual(second.applied, []);
    await second.store.updateNode('/repo', 'dev', 'web-1', { state: 'ready', host: 'local' });
    await second.close();
    assert.equal((await first.store.recordedNodes('/repo', 'dev')).length, 1, 'closing a reuser leaves the server up');

    const port = first.embedded!.port;
    await first.close();
    assert.equal(await answers(port), false, 'the owner stops the server');

    const again = await openStore({ dataDir, log });
    try {
      assert.equal(again.embedded?.owned, true);
      assert.deepEqual((await again.store.recordedNodes('/repo', 'dev')).map((n) => n.path), ['web-1'], 'data persists');
    } finally {
      await again.close();
    }
    assert.ok(messages.some((m) => m.startsWith('initialising embedded PostgreSQL')));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('the default data directory follows XDG_DATA_HOME, and root gets a directory the postgres user can reach', () => {
  assert.equal(defaultDataDir({ XDG_DATA_HOME: '/x/data' }, 1000), '/x/data/politburo/postgres');
  assert.equal(defaultDataDir({}, 0), '/var/lib/politburo/postgres');
  assert.equal(defaultDataDir({}, 1000), path.join(os.homedir(), '.local/share/politburo/postgres'));
});
