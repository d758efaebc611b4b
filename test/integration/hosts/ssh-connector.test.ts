/** The SSH connector against real sshd processes on loopback. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createHostConnector, type HostConnectorOptions } from '../../../hosts/ssh-connector.js';
import type { ExecOptions } from '../../../kernel/exec-options.js';
import { hashDepsDir } from '../../../kernel/deps-hash.js';
import type { ExecResult, HostConnection } from '../../../kernel/types.js';
import {
  fixtureDepsDir,
  generateKeyPair,
  liveProcesses,
  refusingPort,
  silentServer,
  startSshHosts,
  wrongKnownHostsLine,
  type SshHost,
  type SshHosts,
} from '../../helpers/sshd.js';
import { rejectsWith } from '../../helpers/rejects-with.js';

let env: SshHosts;
before(async () => {
  env = await startSshHosts(2, { maxSessions: 3 });
});
after(async () => {
  await env?.stop();
});

const target = (h: SshHost) => ({ kind: 'ssh' as const, address: h.address, port: h.port, user: h.user });
const exec = (c: HostConnection, cmd: string, o: ExecOptions = {}) =>
  (c.exec as (a: string, b: ExecOptions) => Promise<ExecResult>)(cmd, o);

async function withConnector<T>(
  opts: Partial<HostConnectorOptions>,
  fn: (c: ReturnType<typeof createHostConnector>) => Promise<T>,
): Promise<T> {
  const c = createHostConnector({
    privateKey: env.privateKey,
    knownHosts: [env.knownHosts],
    connectTimeoutMs: 5000,
    ...opts,
  });
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

describe('authentication', () => {
  test('ed25519 key: exec returns stdout, stderr and the exit code; home and PATH as configured', async () => {
    await withConnector({}, async (c) => {
      const h = env.hosts[0];
      const conn = await c.connect(target(h));
      assert.equal(conn.address, h.address);
      const r = await conn.exec('echo out; echo err >&2; pwd; exit 3');
      assert.deepEqual(r, { code: 3, stdout: `out\n${h.home}\n`, stderr: 'err\n', timedOut: false });
      assert.equal(
        (await conn.exec('command -v babushka')).stdout.trim().endsWith('test/helpers/babushka/bin/babushka'),
        true,
      );
    });
  });

  test('RSA key with a passphrase; ed25519 with a passphrase; a wrong passphrase or unknown key is AuthenticationFailed', async () => {
    const rsa = await generateKeyPair(env.dir, 'rsa', 'rsa pass phrase');
    const ed = await generateKeyPair(env.dir, 'ed25519', 'ed pass');
    const stranger = await generateKeyPair(env.dir, 'ed25519');
    await env.authorize(rsa.publicKey);
    await env.authorize(ed.publicKey);
    const h = env.hosts[1];
    for (const k of [
      { privateKey: rsa.privateKey, passphrase: 'rsa pass phrase' },
      { privateKey: ed.privateKey, passphrase: 'ed pass' },
    ]) {
      await withConnector(k, async (c) =>
        assert.equal((await (await c.connect(target(h))).exec('whoami')).stdout, `${h.user}\n`),
      );
    }
    await withConnector({ privateKey: rsa.privateKey, passphrase: 'wrong' }, (c) =>
      rejectsWith(c.connect(target(h)), 'AuthenticationFailed', /private key could not be used/),
    );
    await withConnector({ privateKey: stranger.privateKey }, (c) =>
      rejectsWith(c.connect(target(h)), 'AuthenticationFailed', /did not accept/),
    );
  });
});

describe('host keys', () => {
  test('a hashed known_hosts entry for [host]:port is accepted', async () => {
    const h = env.hosts[0];
    const salt = randomBytes(20);
    const mac = createHmac('sha1', salt).update(`[${h.address}]:${h.port}`).digest();
    const line = `|1|${salt.toString('base64')}|${mac.toString('base64')} ${h.hostPublicKey}`;
    const warnings: string[] = [];
    await withConnector(
      { knownHosts: ['# only hashed\nnot a known_hosts line\n' + line], onWarning: (w) => warnings.push(w) },
      async (c) => {
        assert.equal((await (await c.connect(target(h))).exec('echo ok')).stdout, 'ok\n');
      },
    );
    assert.deepEqual(warnings, ['skipping a known_hosts line: known_hosts#1:2: the key of type a is not valid base64']);
  });

  test('a host offering several key types is verified with the type known_hosts has (as OpenSSH prefers it)', async () => {
    const multi = await startSshHosts(1, { hostKeyTypes: ['ed25519', 'rsa', 'ecdsa'] });
    try {
      const h = multi.hosts[0];
      for (const type of ['rsa', 'ecdsa', 'ed25519']) {
        const c = createHostConnector({
          privateKey: multi.privateKey,
          knownHosts: [`[${h.address}]:${h.port} ${h.hostPublicKeys[type]}`],
        });
        try {
          assert.equal((await (await c.connect(target(h))).exec('echo ok')).stdout, 'ok\n', type);
        } finally {
          await c.close();
        }
      }
    } finally {
      await multi.stop();
    }
  });

  test('hostKeyAlias looks the key up under the alias', async () => {
    const h = env.hosts[0];
    await withConnector({ knownHosts: [`db1.internal ${h.hostPublicKey}`] }, async (c) => {
      assert.equal(
        (await (await c.connect({ ...target(h), hostKeyAlias: 'db1.internal' })).exec('echo ok')).stdout,
        'ok\n',
      );
    });
  });

  test('unknown and changed keys are refused before authentication: nothing runs', async () => {
    const h = env.hosts[0];
    // A key whose only power is to leave a marker: if authentication happened, the marker appears.
    const tripwire = await generateKeyPair(env.dir, 'ed25519');
    const marker = path.join(h.home, `tripwire-${Date.now()}`);
    await env.authorize(`command="touch ${marker}" ${tripwire.publicKey}`);
    const other = env.hosts[1].knownHostsLine;
    const unknown = await withConnector({ privateKey: tripwire.privateKey, knownHosts: [other] }, (c) =>
      rejectsWith(c.connect(target(h)), 'HostKeyUnknown', /not in known_hosts.*add the key to known_hosts|known_hosts/),
    );
    assert.ok(unknown.message.includes('SHA256:'), unknown.message);
    assert.ok(unknown.message.includes(`${h.address}:${h.port}`));
    assert.ok(unknown.message.includes(`add this line to known_hosts: ${h.knownHostsLine} `), unknown.message);
    const wrong = await wrongKnownHostsLine(h.address, h.port);
    await withConnector({ privateKey: tripwire.privateKey, knownHosts: [wrong] }, (c) =>
      rejectsWith(c.connect(target(h)), 'HostKeyMismatch', /does NOT match known_hosts/),
    );
    assert.equal(
      await readFile(marker).then(
        () => true,
        () => false,
      ),
      false,
      'nothing may run on a host with a bad key',
    );
    // Control: with the right known_hosts the same key does run its command.
    await withConnector({ privateKey: tripwire.privateKey }, async (c) => {
      await (await c.connect(target(h))).exec('true');
    });
    assert.equal(
      await readFile(marker).then(
        () => true,
        () => false,
      ),
      true,
    );
  });

  test('accept-new, only when configured: unknown keys are recorded, changed keys still refused', async () => {
    const h = env.hosts[1];
    const file = path.join(env.dir, 'accepted_known_hosts');
    await writeFile(file, '');
    await withConnector({ knownHosts: [], acceptNewHostKeysFile: file }, async (c) => {
      assert.equal((await (await c.connect(target(h))).exec('echo ok')).stdout, 'ok\n');
    });
    const saved = await readFile(file, 'utf8');
    assert.equal(saved, `${h.knownHostsLine}\n`);
    await withConnector({ knownHosts: [saved] }, async (c) => {
      assert.equal((await (await c.connect(target(h))).exec('echo again')).stdout, 'again\n');
    });
    const wrong = await wrongKnownHostsLine(h.address, h.port);
    await withConnector({ knownHosts: [wrong], acceptNewHostKeysFile: file }, (c) =>
      rejectsWith(c.connect(target(h)), 'HostKeyMismatch', /NOT match/),
    );
  });
});

describe('unreachable hosts', () => {
  test('a refused port is HostUnreachable naming host:port', async () => {
    const p = await refusingPort();
    await withConnector({}, (c) =>
      rejectsWith(
        c.connect({ kind: 'ssh', address: p.address, port: p.port, user: 'x' }),
        'HostUnreachable',
        new RegExp(`${p.address}:${p.port}.*refused`),
      ),
    );
  });

  test("retries: ssh_config's ConnectionAttempts per host, the connector's retries (--ssh-retries) over it", async () => {
    const p = await refusingPort();
    const where = { kind: 'ssh' as const, address: p.address, port: p.port, user: 'x' };
    const sshConfig = [{ text: `Host ${p.address}\n  ConnectionAttempts 2\n`, where: 'test/ssh_config' }];
    const attempts = async (opts: Partial<HostConnectorOptions>) => {
      const seen: number[] = [];
      const retried = await withConnector({ ...opts, onRetry: (r) => void seen.push(r.delayMs) }, async (c) => {
        await rejectsWith(c.connect(where), 'HostUnreachable', /refused/);
        return c.stats().retries[p.address] ?? 0;
      });
      assert.equal(retried, seen.length);
      return seen;
    };
    assert.deepEqual(await attempts({ sshConfig }), [500], 'ConnectionAttempts 2: one retry');
    assert.deepEqual(await attempts({ sshConfig, retries: 0 }), [], 'retries 0 wins over ssh_config');
    assert.deepEqual(await attempts({ retries: 2 }), [500, 1000]);
  });

  test('a server that never answers times out as HostUnreachable', async () => {
    const s = await silentServer();
    try {
      await withConnector({ connectTimeoutMs: 600 }, (c) =>
        rejectsWith(
          c.connect({ kind: 'ssh', address: s.address, port: s.port, user: 'x' }),
          'HostUnreachable',
          /no SSH answer within 0.6s/,
        ),
      );
    } finally {
      await s.close();
    }
  });

  test('a name that does not resolve is HostUnreachable', async () => {
    await withConnector({ connectTimeoutMs: 3000 }, (c) =>
      rejectsWith(
        c.connect({ kind: 'ssh', address: 'no-such-host.invalid', port: 22, user: 'x' }),
        'HostUnreachable',
        /no-such-host\.invalid:22/,
      ),
    );
  });
});

describe('commands', () => {
  test('a command timeout kills the remote command and its children', async () => {
    await withConnector({}, async (c) => {
      const conn = await c.connect(target(env.hosts[0]));
      const r = await conn.exec('sleep 31.25 & sleep 31.5; echo never', { timeoutMs: 400 });
      assert.equal(r.timedOut, true);
      assert.equal(r.code, null);
      // Gone well before they would have ended by themselves (31 s), however busy the machine.
      for (let i = 0; i < 100 && liveProcesses(/^sleep 31\./).length; i++)
        await new Promise((res) => setTimeout(res, 100));
      assert.deepEqual(liveProcesses(/^sleep 31\./), [], 'the remote sleeps must be gone');
    });
  });

  test('abort signal interrupts a command', async () => {
    await withConnector({}, async (c) => {
      const conn = await c.connect(target(env.hosts[0]));
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 200);
      await rejectsWith(conn.exec('sleep 32.5', { signal: ac.signal }), 'Interrupted', /cancelled/);
    });
  });

  test('stdin reaches the command; without it stdin is closed', async () => {
    await withConnector({}, async (c) => {
      const conn = await c.connect(target(env.hosts[0]));
      assert.equal((await exec(conn, 'cat | wc -c', { stdin: Buffer.alloc(100_000, 1) })).stdout.trim(), '100000');
      assert.equal((await exec(conn, 'cat; echo done')).stdout, 'done\n');
    });
  });

  test('one connection per host under concurrent use, channels beyond MaxSessions queued', async () => {
    await withConnector({ maxSessionsPerHost: 3 }, async (c) => {
      const work = Array.from({ length: 24 }, async (_, i) => {
        const h = env.hosts[i % 2];
        const conn = await c.connect(target(h));
        return (await conn.exec(`sleep 0.05; echo ${i}`)).stdout.trim();
      });
      assert.deepEqual(
        await Promise.all(work),
        Array.from({ length: 24 }, (_, i) => String(i)),
      );
      assert.deepEqual(c.stats().connections, { [env.hosts[0].address]: 1, [env.hosts[1].address]: 1 });
    });
  });

  test('more channels than the server allows are queued even when the connector assumes more', async () => {
    await withConnector({ maxSessionsPerHost: 10 }, async (c) => {
      const conn = await c.connect(target(env.hosts[1]));
      const rs = await Promise.all(Array.from({ length: 12 }, (_, i) => conn.exec(`sleep 0.1; echo ${i}`)));
      assert.deepEqual(
        rs.map((r) => r.code),
        Array(12).fill(0),
      );
    });
  });
});

describe('lost connections', () => {
  test('a connection lost mid-command rejects with HostUnreachable; the next connect opens a new one', async () => {
    await withConnector({}, async (c) => {
      const h = env.hosts[1];
      const conn = await c.connect(target(h));
      // Kill this session's sshd process (the grandparent of the shell, above the `timeout` wrapper).
      const kill = "p=$(awk '{print $4}' /proc/$$/stat); kill -9 $(awk '{print $4}' /proc/$p/stat)";
      await rejectsWith(
        conn.exec(kill),
        'HostUnreachable',
        new RegExp(`connection to ${h.user}@${h.address}:${h.port} was lost`),
      );
      await rejectsWith(conn.exec('true'), 'HostUnreachable', /was lost/);
      const again = await c.connect(target(h));
      assert.equal((await again.exec('echo back')).stdout, 'back\n');
      assert.deepEqual(c.stats().connections, { [h.address]: 2 });
    });
  });
});

describe('deps shipping', () => {
  test('uploaded once per content; a second ensureDeps (even from another connector) does not upload', async () => {
    const h = env.hosts[0];
    const hash = await hashDepsDir(fixtureDepsDir);
    const dir = await withConnector({}, async (c) => {
      const conn = await c.connect(target(h));
      const [d1, d2] = await Promise.all([
        conn.ensureDeps(fixtureDepsDir, hash),
        conn.ensureDeps(fixtureDepsDir, hash),
      ]);
      assert.equal(d1, `${h.home}/.politburo/deps/${hash}`);
      assert.equal(d2, d1);
      assert.equal(await conn.ensureDeps(fixtureDepsDir, hash), d1);
      assert.deepEqual(c.stats().depsUploads, { [h.address]: 1 });
      const ls = await conn.exec(`cd ${d1}/babushka-deps && ls && ls -a .. | grep -c upload || true`);
      assert.equal(ls.stdout, 'app.rb\nweb.rb\n0\n');
      return d1;
    });
    await withConnector({}, async (c) => {
      const conn = await c.connect(target(h));
      assert.equal(await conn.ensureDeps(fixtureDepsDir, hash), dir);
      assert.deepEqual(c.stats().depsUploads, {});
    });
  });

  test('a bad hash or a missing directory is a clear error', async () => {
    await withConnector({}, async (c) => {
      const conn = await c.connect(target(env.hosts[0]));
      await rejectsWith(conn.ensureDeps(fixtureDepsDir, '../../etc'), 'InvalidSpec', /not a plain hash/);
      await rejectsWith(conn.ensureDeps('/nonexistent/deps', 'abc123'), 'InvalidSpec', /does not exist/);
    });
  });
});
