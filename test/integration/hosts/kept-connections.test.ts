/**
 * Connections kept between runs (docs/cli.md, "--ssh-persist"), on real sshd hosts: a connector with `persist` reaches
 * its hosts through the connection keeper, a background process of its own, and a later connector within the persist
 * time uses the same SSH connection (the same TCP connection, seen from the host) without opening one. Only with the
 * same options; commands, holds, timeouts and cancellation behave as over a connection of the process's own; a process
 * that goes away has its commands ended; connections end after their persist time, and the keeper with them.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHostConnector, type HostConnectorOptions } from '../../../hosts/ssh-connector.js';
import { keptConnections } from '../../../hosts/keeper-client.js';
import { answers, keeperSocketPath } from '../../../hosts/keeper-socket.js';
import { PolitburoError, type HostConnection } from '../../../kernel/types.js';
import { generateKeyPair, standInBin, startSshHosts, type SshHosts } from '../../helpers/sshd.js';
import { waitFor } from '../../helpers/wait-for.js';
import { rejectsWith } from '../../helpers/rejects-with.js';

describe('connections kept between runs', () => {
  let ssh: SshHosts;
  let dir: string;
  const base = (): HostConnectorOptions => ({
    privateKey: ssh.privateKey,
    knownHosts: [ssh.knownHosts],
    persist: { dir, ms: 60_000 },
  });
  const target = (i: number) => {
    const h = ssh.hosts[i];
    return { kind: 'ssh' as const, address: h.address, port: h.port, user: h.user };
  };
  /** The TCP connection a command came over, as the host sees it (client address and port). */
  const connectionOf = async (conn: HostConnection) =>
    (await conn.exec('echo "$SSH_CONNECTION" | cut -d" " -f1,2')).stdout.trim();

  before(async () => {
    ssh = await startSshHosts(2, { babushkaBin: standInBin });
  });
  after(async () => {
    await ssh?.stop();
  });
  afterEach(async () => {
    // End the keeper and what it keeps, whatever the test left.
    if (dir) {
      await keptConnections(dir, { close: true }).catch(() => null);
      await waitFor('the keeper to end', async () => !(await answers(keeperSocketPath(dir))));
      await rm(dir, { recursive: true, force: true });
    }
  });

  /** A new connector reaches host 0 over a new connection, not over `seen` (the one kept before). */
  const connectsAfresh = async (seen: string) => {
    const c = createHostConnector(base());
    assert.notEqual(await connectionOf(await c.connect(target(0))), seen);
    assert.deepEqual(c.stats().connections, { [ssh.hosts[0].address]: 1 });
    await c.close();
  };
  const freshDir = async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'politburo-keep-')));

  test('a later connector within the persist time uses the connection an earlier one opened', async () => {
    await freshDir();
    const first = createHostConnector(base());
    const seen = [
      await connectionOf(await first.connect(target(0))),
      await connectionOf(await first.connect(target(1))),
    ];
    assert.deepEqual(first.stats().connections, { [ssh.hosts[0].address]: 1, [ssh.hosts[1].address]: 1 });
    assert.deepEqual(first.stats().reused, {});
    await first.close();

    const listed = await keptConnections(dir);
    assert.equal(listed?.length, 2);
    assert.ok(listed.every((k) => k.users === 0 && k.channels === 0 && k.persistMs === 60_000));

    const second = createHostConnector(base());
    const again = [
      await connectionOf(await second.connect(target(0))),
      await connectionOf(await second.connect(target(1))),
    ];
    assert.deepEqual(again, seen, 'the same TCP connections');
    assert.deepEqual(second.stats().connections, {});
    assert.deepEqual(second.stats().reused, { [ssh.hosts[0].address]: 1, [ssh.hosts[1].address]: 1 });
    // Output, stderr, exit status and stdin pass through unchanged.
    const conn = await second.connect(target(0));
    const r = await conn.exec('cat; echo err >&2; exit 3', { stdin: 'in\n' } as object);
    assert.deepEqual(r, { code: 3, stdout: 'in\n', stderr: 'err\n', timedOut: false });
    await second.close();
  });

  test('connections end after their persist time, then the keeper ends; the next run connects afresh', async () => {
    await freshDir();
    const first = createHostConnector({ ...base(), persist: { dir, ms: 200 } });
    const seen = await connectionOf(await first.connect(target(0)));
    await first.close();
    await waitFor('the keeper to end', async () => !(await answers(keeperSocketPath(dir))));
    await connectsAfresh(seen);
  });

  test('other connection options never share a kept connection: another known_hosts is checked afresh', async () => {
    await freshDir();
    const first = createHostConnector(base());
    await first.connect(target(0));
    await first.close();
    const other = await generateKeyPair(dir, 'ed25519');
    const h = ssh.hosts[0];
    const wrong = createHostConnector({ ...base(), knownHosts: [`[${h.address}]:${h.port} ${other.publicKey}\n`] });
    await rejectsWith(wrong.connect(target(0)), 'HostKeyMismatch', /does NOT match known_hosts/);
    await wrong.close();
    const unknown = createHostConnector({ ...base(), knownHosts: [] });
    await rejectsWith(unknown.connect(target(0)), 'HostKeyUnknown', /is not in known_hosts/);
    await unknown.close();
  });

  test('timeouts, cancellation and held Babushka work through the keeper', async () => {
    await freshDir();
    const c = createHostConnector(base());
    const conn = await c.connect(target(0));
    const timed = await conn.exec('sleep 30', { timeoutMs: 500 });
    assert.equal(timed.timedOut, true);
    const abort = new AbortController();
    const running = conn.exec('echo started; sleep 30', {
      signal: abort.signal,
      onStdout: () => abort.abort(),
    } as object);
    await rejectsWith(running, 'Interrupted', /cancelled/);
    await waitFor('the cancelled sleep to end', async () => !(await conn.exec('pgrep -u "$(id -u)" -x sleep')).stdout);

    await conn.exec(
      `mkdir -p ~/kept/babushka-deps && printf "dep 'hello' do\\n  met? { true }\\nend\\n" > ~/kept/babushka-deps/k.rb`,
    );
    const command = 'cd ~/kept && babushka meet hello --defaults --no-color </dev/null 2>&1';
    assert.equal(conn.hold?.(command), true);
    const released = await conn.exec(command);
    const fresh = await conn.exec(command + ' # afresh');
    assert.equal(released.code, 0);
    assert.equal(released.stdout, fresh.stdout);
    assert.deepEqual(c.stats().held, { [ssh.hosts[0].address]: 1 });
    assert.deepEqual(c.stats().released, { [ssh.hosts[0].address]: 1 });
    await c.close();
  });

  test('a process that goes away without a word has its commands ended on the host', async () => {
    await freshDir();
    const script = `
      import { createHostConnector } from './hosts/ssh-connector.ts';
      const c = createHostConnector(${JSON.stringify({ ...base(), privateKey: ssh.privateKey })});
      const conn = await c.connect(${JSON.stringify(target(0))});
      void conn.exec('echo started >~/orphan-started; sleep 3; touch ~/orphan-finished');
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../../..', import.meta.url)),
      stdio: 'ignore',
    });
    const home = ssh.hosts[0].home;
    await waitFor('the command to start', () => stat(path.join(home, 'orphan-started')).then(() => true));
    child.kill('SIGKILL');
    const c = createHostConnector(base());
    const conn = await c.connect(target(0));
    assert.deepEqual(c.stats().reused, { [ssh.hosts[0].address]: 1 }, 'the connection outlived its process');
    await waitFor('the orphan sleep to end', async () => !(await conn.exec('pgrep -u "$(id -u)" -x sleep')).stdout);
    await new Promise((r) => setTimeout(r, 3500)); // past the time it would have finished
    await assert.rejects(stat(path.join(home, 'orphan-finished')), 'it never finished');
    await c.close();
  });

  test('a run that ends before its keeper answered ends: the link does not keep its process alive', async () => {
    await freshDir();
    const script = `
      import { createHostConnector } from './hosts/ssh-connector.ts';
      const c = createHostConnector(${JSON.stringify({ knownHosts: [], persist: { dir, ms: 60_000 } })});
      await c.close();
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../../..', import.meta.url)),
      stdio: 'ignore',
    });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 0);
  });

  test('a kept connection that was lost is opened again by the next run', async () => {
    await freshDir();
    const first = createHostConnector(base());
    const conn = await first.connect(target(0));
    const seen = await connectionOf(conn);
    await first.close();
    // End the SSH connection from the host's side: its sshd session process.
    const killer = createHostConnector({ ...base(), persist: undefined });
    const direct = await killer.connect(target(0));
    // Every sshd session of the user but this command's own: the kept connection's.
    await direct.exec(
      [
        'anc=" "; p=$$; while [ "$p" -gt 1 ]; do anc="$anc$p "; p=$(awk \'/^PPid:/{print $2}\' /proc/$p/status); done',
        'for p in $(pgrep -u "$(id -u)" sshd); do case "$anc" in *" $p "*) ;; *) kill $p;; esac; done',
      ].join('\n'),
    );
    await killer.close();
    await waitFor('the keeper to see it gone', async () => (await keptConnections(dir))?.length === 0);
    await connectsAfresh(seen);
  });

  test('without a time of its own, only the hosts whose ssh_config says ControlMaster and ControlPersist are kept', async () => {
    await freshDir();
    const [a, b] = ssh.hosts;
    const options = (): HostConnectorOptions => ({
      ...base(),
      persist: { dir },
      sshConfig: [
        {
          text: `Host ${a.address}\n  ControlMaster auto\n  ControlPath ~/.ssh/cm-%C\n  ControlPersist 10m\n`,
          where: '~/.ssh/config',
        },
      ],
    });
    const first = createHostConnector(options());
    const seenA = await connectionOf(await first.connect(target(0)));
    const seenB = await connectionOf(await first.connect(target(1)));
    await first.close();
    const listed = await keptConnections(dir);
    assert.deepEqual(
      listed?.map((k) => [k.label, k.persistMs]),
      [[`${a.user}@${a.address}:${a.port}`, 600_000]],
    );
    const second = createHostConnector(options());
    assert.equal(await connectionOf(await second.connect(target(0))), seenA);
    assert.notEqual(await connectionOf(await second.connect(target(1))), seenB);
    assert.deepEqual(second.stats().reused, { [a.address]: 1 });
    assert.deepEqual(second.stats().connections, { [b.address]: 1 });
    await second.close();
  });

  test('a keeper directory others may enter is refused, with what to do', async () => {
    await freshDir();
    await chmod(dir, 0o755);
    const c = createHostConnector(base());
    const err = await c.connect(target(0)).catch((e: unknown) => e);
    assert.ok(err instanceof PolitburoError, String(err));
    assert.match(err.message, /refusing to keep connections in .*others may enter it \(mode 755; it must be 700\)/);
    await c.close();
    await chmod(dir, 0o700);
  });
});
