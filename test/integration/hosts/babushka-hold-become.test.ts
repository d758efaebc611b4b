/**
 * Babushka started ahead and held for a task escalated to root with `become: sudo` (docs/babushka.md, "Started
 * ahead"), with a real sudo NOPASSWD rule on a real sshd host, on the stand-in and the real Babushka 0.19.2: sudo resets
 * the environment and closes the hold's descriptor, so the escalated shell opens the FIFO again by its path and probes
 * its babushka itself. Nothing of the dep runs before the release, and it runs as root; a command escalated to another
 * user cannot reach the FIFO and is never held: it runs afresh.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHostConnector, type PolitburoHostConnector } from '../../../hosts/ssh-connector.js';
import { becomeCommand } from '../../../reconciler/tasks/become.js';
import type { HostConnection } from '../../../kernel/types.js';
import { realBabushka, standInBin, startSshHosts, type SshHosts } from '../../helpers/sshd.js';
import { sudoFixture, type SudoFixture } from '../../helpers/sudo.js';
import { waitFor } from '../../helpers/wait-for.js';

for (const lane of [
  { name: 'the stand-in', bin: standInBin, note: '' },
  { name: 'the real Babushka', ...realBabushka() },
]) {
  describe(`a held Babushka escalated with sudo, on ${lane.name}`, () => {
    let ssh: SshHosts;
    let sudo: SudoFixture;
    let connector: PolitburoHostConnector;
    let conn: HostConnection;
    let out: string;
    const warnings: string[] = [];
    /** The dep, run as root from the SSH user's deps (root reads them where they are, as become.ts does). */
    const plain = () =>
      `cd ${ssh.hosts[0].home}/held && babushka meet 'stamped as root' out=${out}/ran --defaults --no-color </dev/null 2>&1`;
    const asRoot = () => becomeCommand(plain(), { method: 'sudo', user: 'root' }, { password: false, babushka: true });
    /** Root's Babushka processes meeting the dep. */
    const held = async () =>
      (await conn.exec('ps -o args= -u 0')).stdout
        .split('\n')
        .filter((l) => l.startsWith('ruby ') && l.includes(' meet stamped as root '));

    before(async () => {
      if (lane.note) console.log(`# ${lane.note}`);
      sudo = await sudoFixture();
      ssh = await startSshHosts(1, { babushkaBin: lane.bin });
      const h = ssh.hosts[0];
      await sudo.allow(h.user, { nopasswd: true });
      out = await mkdtemp(path.join(os.tmpdir(), 'politburo-held-become-'));
      await chmod(out, 0o777);
      connector = createHostConnector({
        privateKey: ssh.privateKey,
        knownHosts: [ssh.knownHosts],
        onWarning: (m) => warnings.push(m),
      });
      conn = await connector.connect({ kind: 'ssh', address: h.address, port: h.port, user: h.user });
      await conn.exec(
        `mkdir -p ~/held/babushka-deps && cat > ~/held/babushka-deps/held.rb <<'EOF'
dep 'stamped as root', :out do
  met? {
    File.write(out.to_s, format("%d %.6f", Process.uid, Time.now.to_f))
    true
  }
end
EOF`,
      );
    });
    after(async () => {
      await connector?.close();
      await ssh?.stop();
      await sudo?.cleanup();
      if (out) await rm(out, { recursive: true, force: true });
    });

    test('nothing of the dep runs before the release; released, it runs as root and prints what a fresh run prints', async () => {
      assert.equal(conn.hold!(asRoot()), true);
      await waitFor("root's held Babushka process", async () => (await held()).length === 1);
      await new Promise((r) => setTimeout(r, 1000)); // time to do anything it would do unheld
      await assert.rejects(stat(path.join(out, 'ran')), 'met? was not evaluated before the release');
      const releasedAt = Date.now() / 1000;
      const r = await conn.exec(asRoot());
      assert.deepEqual(connector.stats().released, { [ssh.hosts[0].address]: 1 });
      const [uid, at] = (await readFile(path.join(out, 'ran'), 'utf8')).split(' ').map(Number);
      assert.equal(uid, 0, 'as root');
      assert.ok(at >= releasedAt - 1, `met? ran at its release (${at}), not before (${releasedAt})`);
      const fresh = await conn.exec(asRoot());
      assert.deepEqual(r, fresh);
      // (The real Babushka under sudo may first say its terminal type is unknown, fresh or held alike.)
      assert.match(r.stdout, /stamped as root \{\n\} ✓ stamped as root\n$/);
      assert.deepEqual(await held(), []);
      // The FIFO's directory is gone once released.
      const left = await conn.exec(`find /tmp -maxdepth 1 -name 'tmp.*' -user "$(id -u)" | wc -l`);
      assert.equal(left.stdout.trim(), '0');
    });

    test('discarded before its release, the escalated process is ended and its dep never runs', async () => {
      await rm(path.join(out, 'ran'), { force: true });
      assert.equal(conn.hold!(asRoot()), true);
      await waitFor("root's held Babushka process", async () => (await held()).length === 1);
      conn.discard!(asRoot());
      await waitFor('the discarded process to end', async () => (await held()).length === 0);
      await assert.rejects(stat(path.join(out, 'ran')), 'met? was never evaluated');
    });

    test('escalated to another user, who cannot open the FIFO, it is never held: it runs afresh', async () => {
      const other = await sudo.addUser();
      await conn.exec(`chmod 755 ~ ~/held ~/held/babushka-deps`);
      const cmd = becomeCommand(plain(), { method: 'sudo', user: other.name }, { password: false, babushka: true });
      await rm(path.join(out, 'ran'), { force: true });
      const before = connector.stats();
      conn.hold!(cmd);
      await new Promise((r) => setTimeout(r, 1500)); // it ends at once, before its release, having run nothing
      await assert.rejects(stat(path.join(out, 'ran')), 'nothing ran unreleased');
      const r = await conn.exec(cmd);
      assert.match(r.stdout, /stamped as root \{\n\} ✓ stamped as root\n$/);
      const address = ssh.hosts[0].address;
      assert.equal(connector.stats().released[address], before.released[address], 'ran afresh, not released');
      const [uid] = (await readFile(path.join(out, 'ran'), 'utf8')).split(' ').map(Number);
      assert.notEqual(uid, 0);
      assert.ok(warnings.some((w) => w.includes('cannot be started ahead')));
    });
  });
}
