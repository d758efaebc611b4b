/**
 * Privilege escalation end to end: a description with `become: sudo` and `become_password: ${secret.NAME}` applied by
 * the engine to a real sshd host with a real sudo password rule, recorded in a real PostgreSQL. The password is
 * nowhere in the database afterwards (runs, nodes, tasks, logs), nor in the run's result or events. `apply --all` checks
 * the node in parallel through the same sudo, with the same password.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { applyEnvironment } from '../../../reconciler/apply-environment.js';
import { CHECKED_REASON, CHECKED_TASK_MESSAGE } from '../../../reconciler/check-node.js';
import type { RunEvent } from '../../../kernel/types.js';
import { commitAll, engineInput, storeFor } from '../../helpers/engine-harness.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { startSshHosts, type SshHosts } from '../../helpers/sshd.js';
import { sudoFixture, type SudoFixture } from '../../helpers/sudo.js';

const run = promisify(execFile);
const PASSWORD = 'engine-sudo-pw-7d41e0';

let ssh: SshHosts;
let db: TestDatabase;
let sudo: SudoFixture;
let repo: string;
let scratch: string;

before(async () => {
  sudo = await sudoFixture();
  [ssh, db] = await Promise.all([startSshHosts(1), createTestDatabase()]);
  const h = ssh.hosts[0];
  await sudo.setPassword(h.user, PASSWORD);
  await sudo.allow(h.user, { nopasswd: false });
  scratch = await mkdtemp(path.join(os.tmpdir(), 'politburo-become-engine-out-'));
  await chmod(scratch, 0o777);
  repo = await mkdtemp(path.join(os.tmpdir(), 'politburo-become-engine-'));
  await mkdir(path.join(repo, 'babushka-deps'));
  await writeFile(
    path.join(repo, 'babushka-deps', 'whoami.rb'),
    `dep 'uid written', :out do
  met? { File.exist?(out.to_s) }
  meet { File.write(out.to_s, "#{Process.uid}\\n") }
end
`,
  );
  await writeFile(path.join(repo, 'known_hosts'), ssh.knownHosts);
  await writeFile(
    path.join(repo, 'politburo.yml'),
    `politburo: 1
environments:
  test:
    known_hosts: known_hosts
    defaults: { become: sudo, become_password: '\${secret.sudo_pw}' }
    resources:
      web:
        tasks:
          - { babushka: uid written, args: { out: '${scratch}/bab' } }
          - { name: root shell, met: 'test -s ${scratch}/sh', meet: 'id -u > ${scratch}/sh' }
          - { name: plain, met: 'test -s ${scratch}/plain', meet: 'id -un > ${scratch}/plain', become: false }
    hosts:
      web: { address: '${h.address}', port: ${h.port}, user: ${h.user} }
`,
  );
  await run('git', ['init', '-q', '-b', 'main', repo]);
  await commitAll(repo, 'initial');
});
after(async () => {
  await ssh?.stop();
  await sudo?.cleanup();
  await db?.drop();
  if (repo) await rm(repo, { recursive: true, force: true });
  if (scratch) await rm(scratch, { recursive: true, force: true });
  await rm('/root/.babushka/logs/uid written', { force: true }); // Babushka's log of the dep it ran as root
});

test('an apply escalates with the password from a secret and stores it nowhere', async () => {
  const { store, close: closeStore } = storeFor(db.url);
  const events: RunEvent[] = [];
  const { input, close } = await engineInput({
    dir: repo,
    store,
    privateKey: ssh.privateKey,
    knownHosts: [ssh.knownHosts],
    events,
  });
  try {
    const result = await applyEnvironment({ ...input, secrets: { sudo_pw: PASSWORD } });
    assert.equal(result.status, 'succeeded', JSON.stringify(result));
    assert.deepEqual(
      result.nodes[0].tasks.map((t) => [t.name, t.outcome]),
      [
        ['uid written', 'met'],
        ['root shell', 'met'],
        ['plain', 'met'],
      ],
    );
    assert.equal(await readFile(path.join(scratch, 'bab'), 'utf8'), '0\n');
    assert.equal(await readFile(path.join(scratch, 'sh'), 'utf8'), '0\n');
    assert.equal(await readFile(path.join(scratch, 'plain'), 'utf8'), `${ssh.hosts[0].user}\n`);
    assert.ok(!JSON.stringify(result).includes(PASSWORD));
    assert.ok(!JSON.stringify(events).includes(PASSWORD));
    // Every row of every table, as text.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const tables = await client.query(
        "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) AS t FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'",
      );
      let rows = 0;
      for (const { t } of tables.rows as { t: string }[]) {
        const found = await client.query(`SELECT x::text AS row FROM ${t} x`);
        rows += found.rowCount ?? 0;
        for (const r of found.rows as { row: string }[]) assert.ok(!r.row.includes(PASSWORD), `${t}: ${r.row}`);
      }
      assert.ok(rows > 0, 'the run was recorded');
      const recorded = await store.recordedNodes(repo, 'test');
      assert.deepEqual(recorded[0].tasks[0].become, { method: 'sudo', user: 'root', password: '${secret.sudo_pw}' });
    } finally {
      await client.end();
    }
  } finally {
    await close();
    await closeStore();
  }
});

test('apply --all checks a node that escalates as its run would: through sudo with the password, counted as met, the password stored nowhere', async () => {
  const { store, close: closeStore } = storeFor(db.url);
  const all = async (password: string) => {
    const events: RunEvent[] = [];
    const o = { dir: repo, store, privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts], events, all: true };
    const { input, close } = await engineInput(o);
    const result = await applyEnvironment({ ...input, secrets: { sudo_pw: password } }).finally(close);
    const logs = (await store.nodeRuns(result.runId!)).map((n) => n.log).join('\n');
    return { result, events, logs };
  };
  try {
    const { input, close } = await engineInput({
      dir: repo,
      store,
      privateKey: ssh.privateKey,
      knownHosts: [ssh.knownHosts],
    });
    await applyEnvironment({ ...input, secrets: { sudo_pw: PASSWORD } }).finally(close); // applied, if not yet
    const met = await all(PASSWORD);
    assert.equal(met.result.status, 'succeeded', JSON.stringify(met.result));
    assert.equal(met.result.nodes[0].reason, CHECKED_REASON);
    assert.deepEqual(
      met.result.nodes[0].tasks.map((t) => [t.name, t.outcome, t.message]),
      [
        ['uid written', 'already met', CHECKED_TASK_MESSAGE],
        ['root shell', 'already met', CHECKED_TASK_MESSAGE],
        ['plain', 'already met', CHECKED_TASK_MESSAGE],
      ],
    );
    assert.ok(!met.events.some((e) => e.type === 'node-state' && e.state === 'configuring'), 'nothing ran in order');
    for (const text of [JSON.stringify(met.result), JSON.stringify(met.events), met.logs])
      assert.ok(!text.includes(PASSWORD));
    // The check asks sudo as the run does: a wrong password fails it, and the run in order fails the same way.
    const wrong = await all('not-the-password');
    const node = wrong.result.nodes[0];
    assert.equal(node.state, 'failed');
    assert.match(node.reason!, /sudo/);
    assert.match(
      wrong.logs,
      /^--- checked in parallel \(read only\), not counted as met: the check failed: task 'uid written': .*sudo/,
    );
  } finally {
    await closeStore();
  }
});
