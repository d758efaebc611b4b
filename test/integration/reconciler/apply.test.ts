/** applyEnvironment and `politburo apply` on real sshd hosts, Babushka stand-in and PostgreSQL: the LAMP topology. */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { HostConnection, HostConnector, RunEvent } from '../../../kernel/types.js';
import type { TestDatabase } from '../../helpers/db.js';
import { startSshHosts, wrongKnownHostsLine, type SshHost, type SshHosts } from '../../helpers/sshd.js';
import {
  applyOnce,
  byPath,
  cli,
  cliInProcess,
  commitAll,
  engineInput,
  makeRepo,
  writeRepo,
  type RepoOptions,
  startEngineWorld,
  type EngineWorld,
} from '../../helpers/engine-harness.js';
import { applyEnvironment } from '../../../reconciler/apply-environment.js';
import { CHECKED_REASON, CHECKED_TASK_MESSAGE, CONNECT_FAILED } from '../../../reconciler/check-node.js';
import { parseTarget } from '../../../reconciler/target.js';
import type { PgStateStore } from '../../../store/pg-store.js';

let ssh: SshHosts;
let db: TestDatabase;
let store: PgStateStore;
let conns: HostConnection[];
let world: EngineWorld | undefined;

before(async () => {
  world = await startEngineWorld(5);
  ({ ssh, db, store, conns } = world);
});
after(() => world?.close());
beforeEach(async () => {
  await Promise.all(conns.map((c) => c.exec('rm -rf ~/state ~/break')));
});

const [MASTER, REPLICA, WEB1, WEB2, LB] = [0, 1, 2, 3, 4];
const lampHosts = (): RepoOptions['hosts'] => ({
  'database/master': ssh.hosts[MASTER],
  'database/replica': ssh.hosts[REPLICA],
  web: [ssh.hosts[WEB1], ssh.hosts[WEB2]],
  lb: ssh.hosts[LB],
});
const lampRepo = (extra: Partial<RepoOptions> = {}) =>
  makeRepo({ hosts: lampHosts(), knownHosts: ssh.knownHosts, ...extra });
const engine = (dir: string, extra: Partial<Parameters<typeof applyOnce>[0]> = {}) =>
  applyOnce({ dir, store, privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts], ...extra });
const stamp = async (host: number, name: string) => {
  const r = await conns[host].exec(`cat ~/state/${name}.start; echo; cat ~/state/${name}.end`);
  const [start, end] = r.stdout.trim().split('\n').map(Number);
  return { start: start * 1000, end: end * 1000 };
};
const outcomes = (r: Awaited<ReturnType<typeof engine>>) =>
  Object.fromEntries(r.nodes.map((n) => [n.path, n.tasks.map((t) => t.outcome)]));

describe('apply', () => {
  test('fresh converge in DAG order, then a second apply meets nothing; one connection per host', async () => {
    const dir = await lampRepo();
    const events: RunEvent[] = [];
    const { input, close, connections } = await engineInput({
      dir,
      store,
      privateKey: ssh.privateKey,
      knownHosts: [ssh.knownHosts],
      events,
    });
    const first = await applyEnvironment(input).finally(close);
    assert.equal(first.status, 'succeeded', JSON.stringify(first.nodes, null, 1));
    assert.deepEqual(
      first.nodes.map((n) => [n.path, n.action, n.state]),
      [
        ['database/master', 'create', 'ready'],
        ['database/replica', 'create', 'ready'],
        ['web-1', 'create', 'ready'],
        ['web-2', 'create', 'ready'],
        ['lb', 'create', 'ready'],
      ],
    );
    assert.deepEqual(Object.values(connections()), [1, 1, 1, 1, 1]);
    const [db, rep, w1, w2, lb] = await Promise.all([
      stamp(MASTER, 'db'),
      stamp(REPLICA, 'replica'),
      stamp(WEB1, 'web'),
      stamp(WEB2, 'web'),
      stamp(LB, 'lb'),
    ]);
    for (const s of [rep, w1, w2]) assert.ok(s.start >= db.end, 'replica and webs start after the master is ready');
    // In parallel: the replica and both webs are all started before any of them finishes (event order, not clock
    // times, which a busy machine stretches).
    const order = events.flatMap((e) =>
      e.type === 'node-started' ? [`start ${e.path}`] : e.type === 'node-finished' ? [`end ${e.path}`] : [],
    );
    const firstEnd = Math.min(...['database/replica', 'web-1', 'web-2'].map((p) => order.indexOf(`end ${p}`)));
    for (const p of ['database/replica', 'web-1', 'web-2'])
      assert.ok(order.indexOf(`start ${p}`) < firstEnd, `${p} runs alongside the others: ${order.join(', ')}`);
    assert.ok(lb.start >= Math.max(w1.end, w2.end), 'lb starts after both webs');
    const recorded = await store.recordedNodes(dir, 'test');
    assert.ok(recorded.every((n) => n.state === 'ready' && n.lastAppliedCommit === first.commit && n.specHash));
    const runs = await store.nodeRuns(first.runId!);
    assert.equal(runs.find((r) => r.path === 'web-1')!.tasks.length, 2);
    assert.equal((await store.getRun(first.runId!))!.status, 'succeeded');

    const again = await engine(dir);
    assert.deepEqual(again.nodes, [], 'nothing changed: nothing to do');
    const all = await engine(dir, { all: true });
    assert.equal(all.nodes.length, 5);
    for (const n of all.nodes)
      assert.ok(
        n.tasks.every((t) => t.outcome === 'already met'),
        `${n.path}: ${JSON.stringify(n.tasks)}`,
      );
  });

  test('a changed argument re-meets only the nodes it touches', async () => {
    const dir = await lampRepo();
    assert.equal((await engine(dir)).status, 'succeeded');
    await writeRepo(dir, { hosts: lampHosts(), knownHosts: ssh.knownHosts, params: { app_ref: 'v2' } });
    await commitAll(dir, 'app v2');
    const r = await engine(dir);
    assert.deepEqual(
      r.nodes.map((n) => [n.path, n.action, n.state]),
      [
        ['web-1', 'update', 'ready'],
        ['web-2', 'update', 'ready'],
      ],
    );
    assert.deepEqual(outcomes(r), { 'web-1': ['met', 'already met'], 'web-2': ['met', 'already met'] });
    assert.match((await conns[WEB1].exec('cat ~/state/web.args')).stdout, /\|v2\|/);
    // A pre-allocated node no longer described is released from the state; nothing runs on its host.
    await writeRepo(dir, {
      hosts: { ...lampHosts(), lb: undefined } as unknown as RepoOptions['hosts'],
      knownHosts: ssh.knownHosts,
      params: { app_ref: 'v2' },
      extra: '    remove: [lb]\n',
    });
    await commitAll(dir, 'no lb');
    const removed = await engine(dir);
    assert.deepEqual(
      removed.nodes.map((n) => [n.path, n.action, n.state, n.reason]),
      [['lb', 'terminate', 'terminated', 'released from the state (no command was run on the host)']],
    );
    assert.equal((await conns[LB].exec('cat ~/state/lb.args')).code, 0, 'the host was left as it was');
  });

  test('targets: one path (with what it needs), #provisioned, #terminated', async () => {
    const dir = await lampRepo();
    const master = await engine(dir, { target: parseTarget('test:database/master') });
    assert.deepEqual(
      master.nodes.map((n) => [n.path, n.state]),
      [['database/master', 'ready']],
    );
    assert.equal((await conns[WEB1].exec('test -e ~/state')).code, 1, 'nothing else ran');
    const web = await engine(dir, { target: parseTarget('test:web-1') });
    assert.deepEqual(
      web.nodes.map((n) => [n.path, n.state]),
      [['web-1', 'ready']],
      'the master is already ready',
    );
    const prov = await engine(dir, { target: parseTarget('test:lb#provisioned') });
    assert.deepEqual(
      prov.nodes.map((n) => [n.path, n.state]),
      [['lb', 'provisioned']],
    );
    const lb = await engine(dir, { target: parseTarget('test:lb') });
    assert.deepEqual(
      lb.nodes.map((n) => n.path),
      ['web-2', 'lb'],
      'lb pulls in web-2 (not applied yet), not the ready master',
    );
    assert.equal(lb.status, 'succeeded');
    const term = await engine(dir, { target: parseTarget('test:lb#terminated') });
    assert.deepEqual(
      term.nodes.map((n) => [n.path, n.action, n.state]),
      [['lb', 'terminate', 'terminated']],
    );
    assert.match(term.nodes[0].reason!, /released from the state/);
    assert.ok(!(await store.recordedNodes(dir, 'test')).some((n) => n.path === 'lb'));
    assert.equal((await conns[LB].exec('cat ~/state/lb.args')).code, 0, 'no command ran on the released host');
    await assert.rejects(engine(dir, { target: parseTarget('test:nosuch') }), /names no node/);
  });

  test('a failing task on one web node: it fails, lb is blocked, the rest is ready; CLI exits 1 with the JSON shape', async () => {
    const dir = await lampRepo();
    await conns[WEB2].exec('touch ~/break');
    const r = await cli(['apply', 'test', '--dir', dir, '--json', '--ssh-key', ssh.privateKeyPath], {
      DATABASE_URL: db.url,
    });
    assert.equal(r.code, 1, r.stderr);
    const doc = JSON.parse(r.stdout);
    const nodes = Object.fromEntries(doc.nodes.map((n: { path: string }) => [n.path, n]));
    assert.equal(doc.environment, 'test');
    assert.match(doc.commit, /^[0-9a-f]{40}$/);
    assert.deepEqual(Object.keys(nodes['web-2']).sort(), [
      'action',
      'finishedAt',
      'host',
      'path',
      'reason',
      'startedAt',
      'state',
      'tasks',
    ]);
    assert.equal(nodes['web-2'].state, 'failed');
    assert.equal(nodes['web-2'].host, ssh.hosts[WEB2].address);
    assert.equal(nodes['web-2'].action, 'create');
    assert.match(nodes['web-2'].reason, /^TaskFailed: task 'stamped' failed/);
    assert.deepEqual(
      nodes['web-2'].tasks.map((t: { outcome: string }) => t.outcome),
      ['failed', 'skipped'],
    );
    assert.match(nodes['web-2'].tasks[0].message, /this host is broken/);
    assert.deepEqual(
      [nodes.lb.state, nodes.lb.reason, nodes.lb.tasks],
      ['blocked', 'depends on web-2, which failed', []],
    );
    for (const p of ['database/master', 'database/replica', 'web-1']) assert.equal(nodes[p].state, 'ready');
    assert.deepEqual(doc.summary, { ready: 3, drifted: 0, failed: 1, blocked: 1 });
    assert.equal((await conns[LB].exec('test -e ~/state')).code, 1, 'lb was never attempted');
    const recorded = Object.fromEntries((await store.recordedNodes(dir, 'test')).map((n) => [n.path, n]));
    assert.equal(recorded.lb.state, 'blocked');
    assert.equal(recorded['web-2'].state, 'failed');
    // Fixed host: the next apply retries web-2 and lb only.
    await conns[WEB2].exec('rm ~/break');
    const retry = await cli(['apply', 'test', '--dir', dir, '--ssh-key', ssh.privateKeyPath], { DATABASE_URL: db.url });
    assert.equal(retry.code, 0, retry.stderr);
    assert.match(retry.stdout, /web-2 .*create\s+ready/, 'never applied yet: still a create');
    assert.doesNotMatch(retry.stdout, /web-1/);
    assert.match(retry.stderr, /web-2: started on/, 'one progress line per event when stderr is not a terminal');
  });

  test('usage errors exit 64; an invalid description exits 1 with its errors', async () => {
    const dir = await lampRepo();
    const bad = await cliInProcess(['apply', 'test#bogus', '--dir', dir, '--database-url', db.url]);
    assert.equal(bad.code, 64);
    assert.match(bad.stderr, /unknown state 'bogus'/);
    const conc = await cliInProcess(['apply', 'test', '--concurrency', '0', '--dir', dir, '--database-url', db.url]);
    assert.equal(conc.code, 64);
    const path = await cliInProcess([
      'apply',
      'test:nosuch',
      '--dir',
      dir,
      '--database-url',
      db.url,
      '--ssh-key',
      ssh.privateKeyPath,
    ]);
    assert.equal(path.code, 64);
    assert.match(path.stderr, /target path 'nosuch' names no node/);
    await writeRepo(dir, { hosts: lampHosts(), knownHosts: ssh.knownHosts, extra: '    colour: blue\n' });
    const invalid = await cliInProcess(['apply', 'test', '--dir', dir, '--database-url', db.url]);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /politburo\.yml:\d+:\d+: .*colour/);
  });
});

describe('apply --all: nodes recorded ready are checked in parallel, read only (docs/architecture.md)', () => {
  /** Applies once (everything created), then runs `apply --all` with events. */
  async function appliedThenAll(change: () => Promise<unknown>) {
    const dir = await lampRepo();
    assert.equal((await engine(dir)).status, 'succeeded');
    await change();
    const events: RunEvent[] = [];
    const r = await engine(dir, { all: true, events });
    const runs = Object.fromEntries((await store.nodeRuns(r.runId!)).map((n) => [n.path, n]));
    const configured = events.flatMap((e) => (e.type === 'node-state' && e.state === 'configuring' ? [e.path] : []));
    const order = events.flatMap((e) =>
      e.type === 'node-started' ? [`start ${e.path}`] : e.type === 'node-finished' ? [`end ${e.path}`] : [],
    );
    return { dir, r, runs, configured, order };
  }
  const counted = (n: { state: string; reason?: string; tasks: { outcome: string; message?: string }[] }) =>
    n.state === 'ready' &&
    n.reason === CHECKED_REASON &&
    n.tasks.every((t) => t.outcome === 'already met' && t.message === CHECKED_TASK_MESSAGE);

  test('everything met: every node is checked at once and counts as met; nothing runs in order', async () => {
    const { dir, r, runs, configured, order } = await appliedThenAll(async () => undefined);
    assert.equal(r.status, 'succeeded');
    for (const n of r.nodes) assert.ok(counted(n), `${n.path}: ${JSON.stringify(n)}`);
    assert.deepEqual(r.summary, { ready: 5, drifted: 0, failed: 0, blocked: 0, 'checked in parallel': 5 });
    assert.deepEqual(configured, [], 'no node was configured: none ran in order');
    const firstEnd = order.findIndex((o) => o.startsWith('end '));
    assert.equal(firstEnd, 5, `the five checks all start before any node finishes: ${order.join(', ')}`);
    // What is recorded says how each node was found: its tasks, its log (the dry run's output), its state.
    assert.match(runs['web-1'].log, /^--- checked in parallel: every task already met \(read only\)\nstamped \{\n/);
    assert.deepEqual(
      runs['web-1'].tasks.map((t) => [t.name, t.outcome, t.message]),
      [
        ['stamped', 'already met', CHECKED_TASK_MESSAGE],
        ['marker written', 'already met', CHECKED_TASK_MESSAGE],
      ],
    );
    const recorded = await store.recordedNodes(dir, 'test');
    assert.ok(recorded.every((n) => n.state === 'ready' && n.reason === CHECKED_REASON && n.lastRunId === r.runId));
    assert.equal((await store.getRun(r.runId!))!.summary?.['checked in parallel'], 5);
  });

  test('one drifted node in the middle: it and what depends on it run in order; its dependencies do not', async () => {
    const { r, runs, configured, order } = await appliedThenAll(() => conns[WEB1].exec('printf x > ~/state/web.args'));
    assert.equal(r.status, 'succeeded', JSON.stringify(r.nodes, null, 1));
    const nodes = Object.fromEntries(r.nodes.map((n) => [n.path, n]));
    for (const p of ['database/master', 'database/replica', 'web-2']) assert.ok(counted(nodes[p]), p);
    assert.deepEqual(configured.sort(), ['lb', 'web-1'], 'only web-1 and lb ran in order');
    assert.deepEqual(outcomes(r)['web-1'], ['met', 'already met'], 'web-1 was met again');
    assert.deepEqual(outcomes(r).lb, ['already met'], "lb's own check said met, but it ran after web-1");
    assert.ok(order.lastIndexOf('start lb') > order.indexOf('end web-1'), `lb runs after web-1: ${order.join(', ')}`);
    assert.match(
      runs['web-1'].log,
      /^--- checked in parallel \(read only\), not counted as met: found unmet: 'stamped'; run in dependency order\n/,
    );
    assert.match(runs.lb.log, /^--- checked in parallel \(read only\), not counted as met: depends on web-1, which/);
    assert.equal(r.summary['checked in parallel'], 3);
    assert.match((await conns[WEB1].exec('cat ~/state/web.args')).stdout, /\|v1\|/, 'web-1 is as described again');
  });

  test('deps gone from a host: its check finds them missing with its own cd, ships them and checks again', async () => {
    const { r, runs, configured } = await appliedThenAll(() => conns[WEB1].exec('rm -rf ~/.politburo/deps'));
    assert.equal(r.status, 'succeeded', JSON.stringify(r.nodes, null, 1));
    for (const n of r.nodes) assert.ok(counted(n), `${n.path}: ${JSON.stringify(n)}`);
    assert.deepEqual(configured, [], 'nothing ran in order');
    // The check's own `cd` found the deps missing (no command of its own looked for them first): shipped, checked again.
    assert.match(
      runs['web-1'].log,
      /^--- checked in parallel: every task already met \(read only\)\n--- the deps were not on the host \(\.politburo\/deps\/[A-Za-z0-9_-]+\): shipped, then checked\nstamped \{\n/,
    );
    assert.doesNotMatch(runs['web-1'].log, /No such file|can't cd/, 'the failed cd is not in the log');
    assert.doesNotMatch(runs['web-2'].log, /the deps were not on the host/);
    const shipped = await conns[WEB1].exec('ls ~/.politburo/deps');
    assert.equal(shipped.stdout.trim().split('\n').length, 1, 'one deps directory, shipped by the check');
  });

  test('a failing check: the node runs in order and fails as its run does; what needs it is blocked', async () => {
    // met? reads ~/state/web.args: a directory there makes it raise, in the check and in the run alike.
    const { r, runs, configured } = await appliedThenAll(() =>
      conns[WEB2].exec('rm ~/state/web.args && mkdir ~/state/web.args'),
    );
    assert.equal(r.status, 'failed');
    const nodes = Object.fromEntries(r.nodes.map((n) => [n.path, n]));
    assert.equal(nodes['web-2'].state, 'failed');
    assert.match(nodes['web-2'].reason!, /^TaskFailed: task 'stamped' failed/);
    assert.deepEqual([nodes.lb.state, nodes.lb.reason], ['blocked', 'depends on web-2, which failed']);
    for (const p of ['database/master', 'database/replica', 'web-1']) assert.ok(counted(nodes[p]), p);
    assert.deepEqual(configured, ['web-2']);
    assert.match(
      runs['web-2'].log,
      /^--- checked in parallel \(read only\), not counted as met: the check failed: task 'stamped': /,
    );
    assert.deepEqual(r.summary, { ready: 3, drifted: 0, failed: 1, blocked: 1, 'checked in parallel': 3 });
  });
});

describe('apply --all: a host that cannot be connected to is tried once per run (docs/architecture.md)', () => {
  /** The real connector, counting the engine's connect calls per address at the port's boundary. */
  function countingConnects(connector: HostConnector, counts: Record<string, number>): HostConnector {
    return {
      connect(target) {
        const key = target.kind === 'local' ? 'local' : target.address;
        counts[key] = (counts[key] ?? 0) + 1;
        return connector.connect(target);
      },
      stats: () => connector.stats(),
      close: () => connector.close(),
    };
  }

  /** `apply --all` of `dir`; the result, the engine's connect calls and the connector's attempts, per address. */
  async function applyAll(dir: string, knownHosts: string[], concurrency?: number) {
    const { input, close, connections } = await engineInput({
      dir,
      store,
      privateKey: ssh.privateKey,
      knownHosts,
      all: true,
      // Refusals are retried twice, quickly: the attempts say how often the host was tried.
      connector: { retryDelaysMs: [10, 10] },
    });
    const connects: Record<string, number> = {};
    try {
      const r = await applyEnvironment({
        ...input,
        concurrency,
        connector: countingConnects(input.connector, connects),
      });
      const runs = Object.fromEntries((await store.nodeRuns(r.runId!)).map((n) => [n.path, n]));
      return { r, nodes: byPath(r), runs, connects, attempts: connections() };
    } finally {
      await close();
    }
  }

  const skipped = [
    ['stamped', 'skipped', 'the host could not be reached'],
    ['marker written', 'skipped', 'the host could not be reached'],
  ];
  const taskRows = (tasks: { name: string; outcome: string; message?: string | null }[]) =>
    tasks.map((t) => [t.name, t.outcome, t.message]);

  /**
   * A repository whose hosts are lampHosts() with `place(gone)` over them, applied once; then `gone`'s sshd is stopped,
   * so nothing listens at its address any more. `body` runs with it; the host is stopped in every case.
   */
  async function withStoppedHost(
    place: (gone: SshHost) => Partial<RepoOptions['hosts']>,
    body: (gone: SshHost, dir: string, knownHosts: string[]) => Promise<void>,
  ) {
    const own = await startSshHosts(1);
    let stopped = false;
    try {
      await own.authorize(await readFile(ssh.privateKeyPath + '.pub', 'utf8'));
      const gone = own.hosts[0];
      const knownHosts = [ssh.knownHosts, own.knownHosts];
      const dir = await makeRepo({
        hosts: { ...lampHosts(), ...place(gone) } as RepoOptions['hosts'],
        knownHosts: knownHosts.join(''),
      });
      assert.equal((await engine(dir, { knownHosts })).status, 'succeeded');
      await own.stop();
      stopped = true;
      await body(gone, dir, knownHosts);
    } finally {
      if (!stopped) await own.stop();
    }
  }

  test('sshd stopped: the check fails to connect (retries included) and the run fails with that error without connecting again; lb is blocked', async () => {
    // web-2 on a host of its own, stopped after the first apply.
    await withStoppedHost(
      (gone) => ({ web: [ssh.hosts[WEB1], gone] }),
      async (gone, dir, knownHosts) => {
        const { r, nodes, runs, connects, attempts } = await applyAll(dir, knownHosts);
        assert.equal(r.status, 'failed');
        const web2 = nodes['web-2'];
        assert.equal(web2.state, 'failed');
        const refused = `HostUnreachable: ${gone.user}@${gone.address}:${gone.port}: connection refused; is sshd running and listening on that port?`;
        assert.equal(web2.reason, refused);
        assert.deepEqual(taskRows(web2.tasks), skipped);
        assert.deepEqual([nodes.lb.state, nodes.lb.reason], ['blocked', 'depends on web-2, which failed']);
        for (const p of ['database/master', 'database/replica', 'web-1'])
          assert.equal(nodes[p].reason, CHECKED_REASON, `${p} counted as met`);
        // Connected to once in the run: one connect by the engine (the check's), three attempts (two retries) by the
        // connector. Before, the run connected again: two connects, six attempts.
        assert.equal(connects[gone.address], 1, JSON.stringify(connects));
        assert.equal(attempts[gone.address], 3, JSON.stringify(attempts));
        // The log says why, then what a run that cannot connect writes.
        assert.equal(
          runs['web-2'].log,
          `--- checked in parallel (read only), not counted as met: ${CONNECT_FAILED}: ${refused}; run in dependency order\n` +
            `${refused}\n`,
        );
        const recorded = (await store.recordedNodes(dir, 'test')).find((n) => n.path === 'web-2')!;
        assert.deepEqual([recorded.state, recorded.reason], ['failed', refused]);

        // The next apply --all runs web-2 in order (it is recorded failed: not checked first) and its own connect fails:
        // it records the same as the run above did.
        const next = await applyAll(dir, knownHosts);
        const again = next.nodes['web-2'];
        assert.deepEqual([again.state, again.reason], ['failed', refused]);
        assert.deepEqual(taskRows(again.tasks), skipped);
        assert.deepEqual(taskRows(next.runs['web-2'].tasks), taskRows(runs['web-2'].tasks));
        assert.equal(next.runs['web-2'].log, `${refused}\n`);
        assert.deepEqual([next.nodes.lb.state, next.nodes.lb.reason], ['blocked', 'depends on web-2, which failed']);
      },
    );
  });

  test('two nodes of a stopped host, checked one after the other: the host is tried once in the run', async () => {
    // Both webs on one host of their own, stopped after the first apply; one slot, so their checks do not overlap.
    await withStoppedHost(
      (gone) => ({ web: [gone, gone] }),
      async (gone, dir, knownHosts) => {
        const { r, nodes, connects, attempts } = await applyAll(dir, knownHosts, 1);
        assert.equal(r.status, 'failed');
        const refused = `HostUnreachable: ${gone.user}@${gone.address}:${gone.port}: connection refused; is sshd running and listening on that port?`;
        for (const web of ['web-1', 'web-2'])
          assert.deepEqual([nodes[web].state, nodes[web].reason], ['failed', refused]);
        assert.equal(nodes.lb.state, 'blocked');
        // One connect for the two checks (three attempts: two retries), none by the webs' runs. Before, each check
        // connected.
        assert.equal(connects[gone.address], 1, JSON.stringify(connects));
        assert.equal(attempts[gone.address], 3, JSON.stringify(attempts));
      },
    );
  });

  test("a host key refused: the run fails with the check's HostKeyMismatch without connecting again", async () => {
    const dir = await lampRepo();
    assert.equal((await engine(dir)).status, 'succeeded');
    const h = ssh.hosts[WEB2];
    const knownHosts = ssh.knownHosts.replace(h.knownHostsLine, await wrongKnownHostsLine(h.address, h.port));
    const { r, nodes, runs, connects, attempts } = await applyAll(dir, [knownHosts]);
    assert.equal(r.status, 'failed');
    const web2 = nodes['web-2'];
    assert.equal(web2.state, 'failed');
    assert.match(web2.reason!, /^HostKeyMismatch: \S+: host key ssh-ed25519 SHA256:\S+ does NOT match known_hosts/);
    assert.deepEqual(taskRows(web2.tasks), skipped);
    assert.deepEqual([nodes.lb.state, nodes.lb.reason], ['blocked', 'depends on web-2, which failed']);
    assert.equal(connects[h.address], 1, JSON.stringify(connects));
    assert.equal(attempts[h.address], 1, 'a host key failure is never retried');
    assert.equal(
      runs['web-2'].log,
      `--- checked in parallel (read only), not counted as met: ${CONNECT_FAILED}: ${web2.reason}; run in dependency order\n` +
        `${web2.reason}\n`,
    );
  });
});
