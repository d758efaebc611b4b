/**
 * Babushka started ahead (docs/babushka.md, "Started ahead"; docs/architecture.md) through the engine, on real sshd
 * hosts and PostgreSQL: the LAMP topology's dependents have their first Babushka process started while their
 * dependencies run and released when they are ready; order, results and logs are as without it; a dependency that
 * fails ends its dependents' held processes, which never ran.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyEnvironment } from '../../../reconciler/apply-environment.js';
import type { HostConnection } from '../../../kernel/types.js';
import type { SshHosts } from '../../helpers/sshd.js';
import type { PgStateStore } from '../../../store/pg-store.js';
import { waitFor } from '../../helpers/wait-for.js';
import { engineInput, makeRepo, startEngineWorld, type EngineWorld } from '../../helpers/engine-harness.js';
import { sudoFixture } from '../../helpers/sudo.js';
import { rm, stat } from 'node:fs/promises';

let ssh: SshHosts;
let store: PgStateStore;
let conns: HostConnection[];
let world: EngineWorld | undefined;

before(async () => {
  world = await startEngineWorld(5);
  ({ ssh, store, conns } = world);
});
after(() => world?.close());
beforeEach(async () => {
  await Promise.all(conns.map((c) => c.exec('rm -rf ~/state ~/break ~/wait')));
});

const [MASTER, REPLICA, WEB1, WEB2, LB] = [0, 1, 2, 3, 4];
/** The LAMP topology on the five hosts; `extra`: more keys of its environment. */
const lampRepo = (extra?: string) =>
  makeRepo({
    hosts: {
      'database/master': ssh.hosts[MASTER],
      'database/replica': ssh.hosts[REPLICA],
      web: [ssh.hosts[WEB1], ssh.hosts[WEB2]],
      lb: ssh.hosts[LB],
    },
    knownHosts: ssh.knownHosts,
    extra,
  });
const apply = async (dir: string, extra: { startAhead?: boolean } = {}) => {
  const { input, close, stats } = await engineInput({
    dir,
    store,
    privateKey: ssh.privateKey,
    knownHosts: [ssh.knownHosts],
  });
  const result = await applyEnvironment({ ...input, ...extra }).finally(close);
  return { result, stats: stats() };
};
const stamp = async (host: number, name: string) => {
  const r = await conns[host].exec(`cat ~/state/${name}.start; echo; cat ~/state/${name}.end`);
  const [start, end] = r.stdout.trim().split('\n').map(Number);
  return { start, end };
};
/** Ruby processes of each host's user: held or running Babushkas (none should outlive a run). */
const rubies = () =>
  Promise.all(
    conns.map(async (c) => (await c.exec(`ps -o comm= -u "$(id -u)" | grep -c '^ruby' || true`)).stdout.trim()),
  );
const address = (i: number) => ssh.hosts[i].address;

describe('Babushka started ahead', () => {
  test('a fresh converge: every dependent is started ahead and released; order and results as without it', async () => {
    const dir = await lampRepo();
    const { result, stats } = await apply(dir);
    assert.equal(result.status, 'succeeded', JSON.stringify(result.nodes, null, 1));
    const dependents = [REPLICA, WEB1, WEB2, LB].map(address);
    assert.deepEqual(
      stats.held,
      Object.fromEntries(dependents.map((a) => [a, 1])),
      'the master has nothing to wait for',
    );
    assert.deepEqual(stats.released, stats.held, 'each ran its first task');
    const [db, rep, w1, w2, lb] = await Promise.all([
      stamp(MASTER, 'db'),
      stamp(REPLICA, 'replica'),
      stamp(WEB1, 'web'),
      stamp(WEB2, 'web'),
      stamp(LB, 'lb'),
    ]);
    for (const s of [rep, w1, w2]) assert.ok(s.start >= db.end, 'released only once the master was ready');
    assert.ok(lb.start >= Math.max(w1.end, w2.end), 'lb released only once both webs were ready');
    assert.deepEqual(
      result.nodes.map((n) => [n.path, n.state, n.tasks.map((t) => t.outcome)]),
      [
        ['database/master', 'ready', ['met']],
        ['database/replica', 'ready', ['met']],
        ['web-1', 'ready', ['met', 'met']],
        ['web-2', 'ready', ['met', 'met']],
        ['lb', 'ready', ['met']],
      ],
    );
    const web1 = (await store.nodeRuns(result.runId!)).find((r) => r.path === 'web-1')!;
    assert.match(web1.log, /^stamped \{\n/m, JSON.stringify(web1.log));
    assert.match(web1.log, /stamped web/);
    assert.equal(web1.tasks.length, 2);
    assert.deepEqual(await rubies(), ['0', '0', '0', '0', '0']);
  });

  test('startAhead: false, or POLITBURO_START_AHEAD=0, starts nothing ahead', async () => {
    const off = await apply(await lampRepo(), { startAhead: false });
    assert.equal(off.result.status, 'succeeded');
    assert.deepEqual(off.stats.held, {});
    await Promise.all(conns.map((c) => c.exec('rm -rf ~/state')));
    process.env.POLITBURO_START_AHEAD = '0';
    try {
      const env = await apply(await lampRepo());
      assert.equal(env.result.status, 'succeeded');
      assert.deepEqual(env.stats.held, {});
    } finally {
      delete process.env.POLITBURO_START_AHEAD;
    }
  });

  test('a failing dependency: its dependents are blocked, their held processes ended, nothing of them ran', async () => {
    // The master fails, but only once the replica and the webs are held (it waits while ~/wait exists).
    await conns[MASTER].exec('touch ~/break ~/wait');
    const dir = await lampRepo();
    const applying = apply(dir);
    const heldOn = [REPLICA, WEB1, WEB2];
    await waitFor('the replica and the webs held', async () =>
      (await rubies()).every((n, i) => !heldOn.includes(i) || n === '1'),
    );
    await conns[MASTER].exec('rm ~/wait');
    const { result, stats } = await applying;
    assert.equal(result.status, 'failed');
    assert.deepEqual(
      result.nodes.map((n) => [n.path, n.state]),
      [
        ['database/master', 'failed'],
        ['database/replica', 'blocked'],
        ['web-1', 'blocked'],
        ['web-2', 'blocked'],
        ['lb', 'blocked'],
      ],
    );
    // The replica and the webs were held while the master ran; lb, waiting for webs that never started, was not.
    assert.deepEqual(stats.held, Object.fromEntries([REPLICA, WEB1, WEB2].map((i) => [address(i), 1])));
    assert.deepEqual(stats.released, {});
    // Ended when their nodes were blocked (their channels' end-of-file kills them), a moment later on the hosts.
    await waitFor('the held processes to end', async () => (await rubies()).every((n) => n === '0'));
    for (const i of [REPLICA, WEB1, WEB2, LB])
      assert.equal((await conns[i].exec('test -e ~/state; echo $?')).stdout, '1\n', `nothing ran on host ${i}`);
  });

  test('with `become: sudo` (root, no password) the dependents are started ahead and released through sudo', async () => {
    const sudo = await sudoFixture();
    try {
      for (const h of ssh.hosts) await sudo.allow(h.user, { nopasswd: true });
      // As root (`sudo -H`), the stamped dep writes under root's home: the same directory for every host here.
      await rm('/root/state', { recursive: true, force: true });
      const dir = await lampRepo('    defaults: { become: sudo }\n');
      const { result, stats } = await apply(dir);
      assert.equal(result.status, 'succeeded', JSON.stringify(result.nodes, null, 1));
      const dependents = [REPLICA, WEB1, WEB2, LB].map(address);
      assert.deepEqual(stats.held, Object.fromEntries(dependents.map((a) => [a, 1])));
      assert.deepEqual(stats.released, stats.held, 'each ran its first task, released');
      assert.ok((await stat('/root/state/lb.end')).uid === 0, 'the tasks ran as root');
    } finally {
      await sudo.cleanup();
      await rm('/root/state', { recursive: true, force: true });
    }
  });
});
