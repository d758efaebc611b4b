/**
 * Babushka started ahead, held (docs/babushka.md, "Started ahead"), on real sshd hosts: on the stand-in and on the real
 * Babushka 0.19.2 (when it is beside the checkout). A held process runs nothing of its dep before its release, gives
 * the same output as a fresh run, is ended when discarded or when the connection goes, and a `babushka` that does not
 * load the hold is never held: the command then runs afresh.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHostConnector, type PolitburoHostConnector } from '../../../hosts/ssh-connector.js';
import { PolitburoError, type HostConnection } from '../../../kernel/types.js';
import { realBabushka, standInBin, startSshHosts, type SshHosts } from '../../helpers/sshd.js';
import { waitFor } from '../../helpers/wait-for.js';

const DEPS = `dep 'touched' do
  met? {
    File.write(File.expand_path('~/held/ran'), format('%.6f', Time.now.to_f))
    true
  }
end

dep 'sleepy' do
  met? {
    File.write(File.expand_path('~/held/sleepy'), 'started')
    sleep 60
    true
  }
end
`;
const command = (dep = 'touched') => `cd ~/held && babushka meet ${dep} --defaults --no-color </dev/null 2>&1`;
/** The user's Babushka processes meeting `dep` (their command lines), whatever runs them. */
const babushkas = async (conn: HostConnection, dep = 'touched') =>
  (await conn.exec(`ps -o args= -u "$(id -u)"`)).stdout
    .split('\n')
    .filter((l) => l.startsWith('ruby ') && l.includes(` meet ${dep} `));

for (const lane of [
  { name: 'the stand-in', bin: standInBin, note: '' },
  { name: 'the real Babushka', ...realBabushka() },
]) {
  describe(`a held Babushka, on ${lane.name}`, () => {
    let ssh: SshHosts;
    let connector: PolitburoHostConnector;
    let conn: HostConnection;
    const warnings: string[] = [];

    before(async () => {
      if (lane.note) console.log(`# ${lane.note}`);
      ssh = await startSshHosts(1, { babushkaBin: lane.bin });
      connector = createHostConnector({
        privateKey: ssh.privateKey,
        knownHosts: [ssh.knownHosts],
        onWarning: (m) => warnings.push(m),
      });
      const h = ssh.hosts[0];
      conn = await connector.connect({ kind: 'ssh', address: h.address, port: h.port, user: h.user });
      await conn.exec(`mkdir -p ~/held/babushka-deps && cat > ~/held/babushka-deps/held.rb <<'EOF'\n${DEPS}EOF`);
    });
    after(async () => {
      await connector?.close();
      await ssh?.stop();
    });

    test('nothing of the dep runs before the release; released, it prints what a fresh run prints', async () => {
      await conn.exec('rm -f ~/held/ran');
      conn.hold!(command());
      await waitFor('the held Babushka process', async () => (await babushkas(conn)).length === 1);
      // It is loaded and waiting: give it time to do anything it would do unheld.
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal((await conn.exec('test -e ~/held/ran; echo $?')).stdout, '1\n', 'met? was not evaluated');
      const releasedAt = Date.now() / 1000;
      const chunks: string[] = [];
      const held = await conn.exec(command(), { onStdout: (d: Buffer) => chunks.push(String(d)) } as object);
      assert.deepEqual(connector.stats().released, { [ssh.hosts[0].address]: 1 });
      const ranAt = Number((await conn.exec('cat ~/held/ran')).stdout);
      assert.ok(ranAt >= releasedAt - 1, `met? ran at its release (${ranAt}), not before (${releasedAt})`);
      const fresh = await conn.exec(command());
      assert.deepEqual(held, fresh);
      assert.equal(held.stdout, 'touched {\n} ✓ touched\n');
      assert.equal(chunks.join(''), held.stdout, 'output streams live once released');
      assert.deepEqual(await babushkas(conn), []);
    });

    test('a timeout counts from the release, not from the start', async () => {
      conn.hold!(command());
      await waitFor('the held Babushka process', async () => (await babushkas(conn)).length === 1);
      // Held 6 s, longer than its 5 s timeout: counted from the start, the timeout would have killed it.
      await new Promise((r) => setTimeout(r, 6000));
      const r = await conn.exec(command(), { timeoutMs: 5000 });
      assert.equal(r.timedOut, false);
      assert.equal(r.code, 0);
    });

    test('discarded, or with its connection gone, a held process is ended and its dep never runs', async () => {
      await conn.exec('rm -f ~/held/ran');
      conn.hold!(command());
      await waitFor('the held Babushka process', async () => (await babushkas(conn)).length === 1);
      conn.discard!(command());
      await waitFor('the discarded process to end', async () => (await babushkas(conn)).length === 0);

      const h = ssh.hosts[0];
      const other = createHostConnector({ privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] });
      const held = await other.connect({ kind: 'ssh', address: h.address, port: h.port, user: h.user });
      held.hold!(command());
      await waitFor('the held Babushka process', async () => (await babushkas(conn)).length === 1);
      await other.close();
      await waitFor('the held process to end with its connection', async () => (await babushkas(conn)).length === 0);
      assert.equal((await conn.exec('test -e ~/held/ran; echo $?')).stdout, '1\n', 'met? was never evaluated');
    });

    test('cancelled after its release, a held process is killed as a running one is', async () => {
      await conn.exec('rm -f ~/held/sleepy');
      conn.hold!(command('sleepy'));
      await waitFor('the held Babushka process', async () => (await babushkas(conn, 'sleepy')).length === 1);
      const ac = new AbortController();
      const running = conn.exec(command('sleepy'), { signal: ac.signal });
      await waitFor('the released dep to run', async () => (await conn.exec('cat ~/held/sleepy')).stdout === 'started');
      ac.abort();
      await assert.rejects(running, (e: unknown) => e instanceof PolitburoError && e.reason === 'Interrupted');
      await waitFor('the process to end', async () => (await babushkas(conn, 'sleepy')).length === 0);
    });

    test('a babushka that does not load the hold is never held: the command runs afresh', async () => {
      // A `babushka` first on the command's PATH that drops RUBYOPT, as a wrapper of some other install might.
      await conn.exec(
        `mkdir -p ~/nohold && printf '#!/bin/sh\\nexec env -u RUBYOPT ${lane.bin}/babushka "$@"\\n' > ~/nohold/babushka && chmod +x ~/nohold/babushka`,
      );
      await conn.exec('rm -f ~/held/ran');
      const cmd = `PATH=~/nohold:$PATH; export PATH; ${command()}`;
      const before = connector.stats();
      conn.hold!(cmd);
      // The probe fails at once: the command ends before its release, having run nothing.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal((await conn.exec('test -e ~/held/ran; echo $?')).stdout, '1\n', 'nothing ran unreleased');
      const r = await conn.exec(cmd);
      assert.equal(r.stdout, 'touched {\n} ✓ touched\n');
      assert.equal(r.code, 0);
      const after = connector.stats();
      const address = ssh.hosts[0].address;
      assert.equal(after.held[address], before.held[address] + 1);
      assert.equal(after.released[address], before.released[address], 'ran afresh, not released');
      assert.deepEqual(
        warnings.filter((w) => w.includes('cannot be started ahead')),
        [
          `${address}: Babushka cannot be started ahead on this host (its babushka did not load Politburo's hold, or the hold could not be set up; docs/babushka.md, "Started ahead"): each Babushka process starts when its node runs`,
        ],
        'said once',
      );
    });
  });
}
