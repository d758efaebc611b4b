/**
 * The real Babushka lane's become case (docs/language.md, "Privilege escalation"): Babushka 0.19.2 (beside the
 * checkout,
 * see realBabushka() in test/helpers/sshd.ts; else the stand-in, said in the output) run through a real sudo as another
 * user, alone and batched: the deps run as that user, and Babushka's own state (~/.babushka) is in that user's home.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHostConnector } from '../../../hosts/ssh-connector.js';
import { hashDepsDir } from '../../../kernel/deps-hash.js';
import { runNodeTasks } from '../../../reconciler/tasks/run-node-tasks.js';
import type { BabushkaTask, BecomeSpec, ResolvedNode } from '../../../kernel/types.js';
import { realBabushka, startSshHosts, type SshHosts } from '../../helpers/sshd.js';
import { sudoFixture, type SudoFixture } from '../../helpers/sudo.js';

const babushka = realBabushka();
const src = { file: 'politburo.yml', line: 1, column: 1 };
let ssh: SshHosts;
let sudo: SudoFixture;
let deps: string;
let scratch: string;

before(async () => {
  sudo = await sudoFixture();
  ssh = await startSshHosts(1, { babushkaBin: babushka.bin });
  deps = await mkdtemp(path.join(os.tmpdir(), 'politburo-become-real-deps-'));
  await writeFile(
    path.join(deps, 'who.rb'),
    `dep 'who am i', :out do
  met? { File.exist?(out.to_s) }
  meet { File.write(out.to_s, "#{Process.uid} #{ENV['HOME']}\\n") }
end

dep 'who am i too', :out do
  met? { File.exist?(out.to_s) }
  meet { File.write(out.to_s, "#{Process.uid} #{ENV['HOME']}\\n") }
end
`,
  );
  scratch = await mkdtemp(path.join(os.tmpdir(), 'politburo-become-real-out-'));
  await chmod(scratch, 0o777);
});
after(async () => {
  await ssh?.stop();
  await sudo?.cleanup();
  if (deps) await rm(deps, { recursive: true, force: true });
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

test(`Babushka run through sudo as another user: its deps and its state are that user's (${babushka.note})`, async () => {
  const h = ssh.hosts[0];
  const other = await sudo.addUser();
  await sudo.allow(h.user, { nopasswd: true, runAs: other.name });
  const connector = createHostConnector({ privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] });
  try {
    const conn = await connector.connect({ kind: 'ssh', address: h.address, port: h.port, user: h.user });
    const remoteDepsDir = await conn.ensureDeps(deps, await hashDepsDir(deps));
    const become: BecomeSpec = { method: 'sudo', user: other.name };
    const bab = (dep: string, out: string): BabushkaTask => ({
      kind: 'babushka',
      name: dep,
      dep,
      args: { out: path.join(scratch, out) },
      become,
      source: src,
    });
    const node = (tasks: BabushkaTask[]): ResolvedNode => ({
      path: 'app',
      name: 'app',
      host: { kind: 'static', address: h.address, port: h.port, user: h.user, source: src },
      tasks,
      dependsOn: [],
      source: src,
      specHash: 'h',
    });
    const run = (tasks: BabushkaTask[], dryRun = false) =>
      runNodeTasks(conn, node(tasks), { dryRun, remoteDepsDir, timeoutMs: 60_000, secrets: {} });
    const alone = await run([bab('who am i', 'alone')]);
    assert.deepEqual(
      alone.map((r) => [r.name, r.outcome]),
      [['who am i', 'met']],
      JSON.stringify(alone),
    );
    const batch = [bab('who am i', 'one'), bab('who am i too', 'two')];
    assert.deepEqual(
      (await run(batch, true)).map((r) => r.outcome),
      ['unmet', 'unmet'],
    );
    const met = await run(batch);
    assert.deepEqual(
      met.map((r) => [r.name, r.outcome]),
      [
        ['who am i', 'met'],
        ['who am i too', 'met'],
      ],
      JSON.stringify(met),
    );
    const uid = (await stat(other.home)).uid;
    for (const f of ['alone', 'one', 'two'])
      assert.equal(await readFile(path.join(scratch, f), 'utf8'), `${uid} ${other.home}\n`);
    assert.ok((await readdir(path.join(other.home, '.babushka'))).length > 0, "Babushka's state is the become user's");
    assert.equal(await stat(path.join(h.home, '.babushka')).catch(() => null), null, 'and not the SSH user’s');
  } finally {
    await connector.close();
  }
});
