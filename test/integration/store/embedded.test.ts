import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../../../store/open-store.js';
import { defaultDataDir, stopIdleEmbeddedPostgres } from '../../../store/embedded.js';
import { spawn } from 'node:child_process';
import pg from 'pg';

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

test('openStore without a URL starts an embedded PostgreSQL, shares it, stops it with the last user and restarts it', async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pb-embedded-'));
  chmodSync(tmp, 0o755); // as root the server runs as `postgres`, which must be able to enter it
  const dataDir = path.join(tmp, 'postgres');
  const messages: string[] = [];
  const log = (m: string) => messages.push(`${((performance.now() - t0) / 1000).toFixed(2)}s ${m}`);
  const t0 = performance.now();
  const all: Awaited<ReturnType<typeof openStore>>[] = [];
  const open = async () => {
    const opened = await openStore({ dataDir, log });
    all.push(opened);
    return opened;
  };
  try {
    const first = await open();
    assert.equal(first.embedded?.owned, true);
    assert.match(
      first.url,
      /^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/politburo\?application_name=politburo-\d+-[0-9a-f]+$/,
    );
    assert.ok(first.applied.length >= 9, 'migrations ran on the fresh server');
    assert.ok(existsSync(path.join(dataDir, 'PG_VERSION')));
    assert.equal(statSync(`${dataDir}.server.json`).mode & 0o077, 0, 'the password file is private');
    assert.equal(JSON.parse(readFileSync(`${dataDir}.server.json`, 'utf8')).port, first.embedded?.port);

    const second = await open();
    assert.equal(second.embedded?.owned, false, 'the running server is reused');
    assert.equal(second.embedded?.port, first.embedded?.port);
    assert.deepEqual(second.applied, []);
    const port = first.embedded!.port;

    await first.close();
    assert.equal(await answers(port), true, 'the server stays up while another process uses it');
    await second.store.updateNode('/repo', 'dev', 'web-1', { state: 'ready', host: 'local' });
    assert.equal((await second.store.recordedNodes('/repo', 'dev')).length, 1);
    await second.close();
    assert.equal(await answers(port), false, 'the last one out stops the server');

    const again = await open();
    try {
      assert.equal(again.embedded?.owned, true);
      assert.deepEqual(
        (await again.store.recordedNodes('/repo', 'dev')).map((n) => n.path),
        ['web-1'],
        'data persists',
      );
    } finally {
      await again.close();
    }
    assert.ok(messages.some((m) => m.includes('initialising embedded PostgreSQL')));
    if (process.env.PB_VERBOSE) console.error(messages.join('\n'));
  } finally {
    // whatever failed above, no server outlives the test
    for (const opened of all) await opened.embedded?.stop({ force: true });
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('the default data directory follows XDG_DATA_HOME, and root gets a directory the postgres user can reach', () => {
  assert.equal(defaultDataDir({ XDG_DATA_HOME: '/x/data' }, 1000), '/x/data/politburo/postgres');
  assert.equal(defaultDataDir({}, 0), '/var/lib/politburo/postgres');
  assert.equal(defaultDataDir({}, 1000), path.join(os.homedir(), '.local/share/politburo/postgres'));
});

test('a process SIGKILLed while using the embedded server leaves it running; stopIdleEmbeddedPostgres stops it once idle', async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pb-embedded-kill-'));
  chmodSync(tmp, 0o755);
  const dataDir = path.join(tmp, 'postgres');
  const script = `const { openStore } = await import(${JSON.stringify(path.resolve(import.meta.dirname, '../../../store/open-store.ts'))});
    const o = await openStore({ dataDir: ${JSON.stringify(dataDir)} }); console.log('port=' + o.embedded.port); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /port=(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`the child exited (${code}) before opening the store`)));
    });
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    assert.equal(await answers(port), true, 'the killed process left its server running');
    // Another user (as another politburo process would be): the server is not idle.
    const { password } = JSON.parse(readFileSync(`${dataDir}.server.json`, 'utf8')) as { password: string };
    const other = new pg.Client({
      connectionString: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/politburo`,
    });
    await other.connect();
    try {
      assert.equal(await stopIdleEmbeddedPostgres(dataDir), false, 'a process still uses it');
      assert.equal(await answers(port), true);
    } finally {
      await other.end();
    }
    assert.equal(await stopIdleEmbeddedPostgres(dataDir), true);
    assert.equal(await answers(port), false, 'stopped');
    assert.equal(await stopIdleEmbeddedPostgres(dataDir), false, 'nothing to stop, nothing started');
  } finally {
    child.kill('SIGKILL');
    await stopIdleEmbeddedPostgres(dataDir).catch(() => false);
    rmSync(tmp, { recursive: true, force: true });
  }
});
