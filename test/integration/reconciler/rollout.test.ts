/**
 * Rolling batches (docs/language.md, "Rolling batches") through the engine on real sshd hosts, Babushka stand-in and
 * PostgreSQL: five web nodes released two at a time; a failure over the budget stops the rollout, the hosts of the
 * batches after it never see a task, the nodes are recorded blocked with where and why, and plans show the batches.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import type { HostConnection, RunResult } from '../../../kernel/types.js';
import type { TestDatabase } from '../../helpers/db.js';
import type { SshHosts } from '../../helpers/sshd.js';
import {
  byPath,
  cliInProcess,
  engineInput,
  makeRepo,
  startEngineWorld,
  type EngineWorld,
} from '../../helpers/engine-harness.js';
import { applyEnvironment } from '../../../reconciler/apply-environment.js';
import { driftEnvironment } from '../../../reconciler/drift-environment.js';
import type { PgStateStore } from '../../../store/pg-store.js';

let ssh: SshHosts;
let db: TestDatabase;
let store: PgStateStore;
let conns: HostConnection[];
let world: EngineWorld | undefined;

before(async () => {
  world = await startEngineWorld(6);
  ({ ssh, db, store, conns } = world);
});
after(() => world?.close());
beforeEach(async () => {
  await Promise.all(conns.map((c) => c.exec('rm -rf ~/state ~/break')));
});

const MASTER = 0;
/** Host index of web-i (1-based). */
const WEB = (i: number) => i;

/** The LAMP fixture narrowed to the master and five web nodes, web rolled out with `rollout`. */
const rolloutRepo = (rollout: string) =>
  makeRepo({
    hosts: { 'database/master': ssh.hosts[MASTER], web: [1, 2, 3, 4, 5].map((i) => ssh.hosts[WEB(i)]) },
    knownHosts: ssh.knownHosts,
    params: { web_seconds: '0.3' },
    extra: ['    remove: [lb, database/replica]', '    override:', `      web: { count: 5, rollout: ${rollout} }`].join(
      '\n',
    ),
  });

/** Applies, capturing the log lines (the run's summary line among them). */
async function apply(dir: string): Promise<{ result: RunResult; log: string[] }> {
  const log: string[] = [];
  const { input, close } = await engineInput({ dir, store, privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] });
  try {
    return { result: await applyEnvironment({ ...input, log: (l) => log.push(l) }), log };
  } finally {
    await close();
  }
}

const stamp = async (i: number) => {
  const r = await conns[WEB(i)].exec('cat ~/state/web.start; echo; cat ~/state/web.end');
  const [start, end] = r.stdout.trim().split('\n').map(Number);
  return { start, end };
};
/** True when no task ever ran on web-i's host. */
const untouched = async (i: number) => (await conns[WEB(i)].exec('test -e ~/state')).code === 1;

test('batch 2, max_failures 0: a failure in batch 2 stops the rollout; batch 3 never starts and is recorded blocked', async () => {
  const dir = await rolloutRepo('{ batch: 2, max_failures: 0 }');
  await conns[WEB(3)].exec('touch ~/break');
  const { result, log } = await apply(dir);
  const r = byPath(result);
  const reason = 'rollout of web stopped after batch 2 of 3: 1 failure exceeds max_failures 0';
  assert.deepEqual(
    result.nodes.map((n) => [n.path, n.state]),
    [
      ['database/master', 'ready'],
      ['web-1', 'ready'],
      ['web-2', 'ready'],
      ['web-3', 'failed'],
      ['web-4', 'ready'],
      ['web-5', 'blocked'],
    ],
  );
  assert.equal(r['web-5'].reason, reason);
  assert.deepEqual(r['web-5'].tasks, []);
  assert.ok(await untouched(5), 'no task ran on the host of batch 3');
  // Batch 2 started only once batch 1 had finished (the hosts' own stamps).
  const [w1, w2, w4] = await Promise.all([stamp(1), stamp(2), stamp(4)]);
  assert.ok(w4.start >= Math.max(w1.end, w2.end), 'web-4 started after batch 1 ended');
  assert.equal(result.status, 'failed');
  assert.deepEqual(result.rollouts, [
    { group: 'web', batch: 2, batches: 3, failures: 1, maxFailures: 0, failed: ['web-3'], blocked: ['web-5'], reason },
  ]);
  const summary = log.find((l) => l.startsWith('applied test@'));
  assert.ok(summary?.endsWith(`; ${reason}`), `the summary says where the rollout stopped: ${summary}`);
  const recorded = Object.fromEntries((await store.recordedNodes(dir, 'test')).map((n) => [n.path, n]));
  assert.deepEqual([recorded['web-5'].state, recorded['web-5'].reason], ['blocked', reason]);
  const runs = await store.nodeRuns(result.runId!);
  assert.equal(runs.find((n) => n.path === 'web-5')?.reason, reason);

  // Fixed host: the next apply rolls out what is left (web-3 and web-5) in one batch of 2.
  await conns[WEB(3)].exec('rm ~/break');
  const again = await apply(dir);
  assert.deepEqual(
    again.result.nodes.map((n) => [n.path, n.state]),
    [
      ['web-3', 'ready'],
      ['web-5', 'ready'],
    ],
  );
  assert.equal(again.result.rollouts, undefined);
});

test('percentages: batch 40% (2 of 5), max_failures 20% (1): the first failure is tolerated, the second stops it', async () => {
  const dir = await rolloutRepo("{ batch: '40%', max_failures: '20%' }");
  await Promise.all([conns[WEB(2)].exec('touch ~/break'), conns[WEB(3)].exec('touch ~/break')]);
  const { result, log } = await apply(dir);
  const reason = 'rollout of web stopped after batch 2 of 3: 2 failures exceed max_failures 1';
  assert.deepEqual(
    result.nodes.map((n) => [n.path, n.state]),
    [
      ['database/master', 'ready'],
      ['web-1', 'ready'],
      ['web-2', 'failed'],
      ['web-3', 'failed'],
      ['web-4', 'ready'],
      ['web-5', 'blocked'],
    ],
  );
  assert.equal(byPath(result)['web-5'].reason, reason);
  assert.ok(await untouched(5), 'no task ran on the host of batch 3');
  assert.ok(log.some((l) => l.endsWith(`; ${reason}`)));
});

test('plan shows the batches (text and JSON) without contacting a host', async () => {
  const dir = await rolloutRepo("{ batch: 2, max_failures: '10%' }");
  const text = await cliInProcess(['plan', 'test', '--dir', dir, '--database-url', db.url]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(
    text.stdout,
    /\nRolling batches:\n {2}web: rollout in 3 batches of 2 \(max_failures 1\): web-1 web-2 \| web-3 web-4 \| web-5\n/,
  );
  const json = await cliInProcess(['plan', 'test', '--json', '--dir', dir, '--database-url', db.url]);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout).rollouts, [
    { group: 'web', batch: 2, maxFailures: 1, batches: [['web-1', 'web-2'], ['web-3', 'web-4'], ['web-5']] },
  ]);
  for (let i = 1; i <= 5; i++) assert.ok(await untouched(i));
});

test('--heal meets drifted nodes in batches too: a failure stops the heal, the later batches stay as they are', async () => {
  const dir = await rolloutRepo('{ batch: 2, max_failures: 0 }');
  assert.equal((await apply(dir)).result.status, 'succeeded');
  // Every web host changed by hand; web-1's host is also broken, so healing it fails.
  await Promise.all([1, 2, 3, 4, 5].map((i) => conns[WEB(i)].exec('echo tampered > ~/state/web.args')));
  await conns[WEB(1)].exec('touch ~/break');
  const log: string[] = [];
  const { input, close } = await engineInput({ dir, store, privateKey: ssh.privateKey, knownHosts: [ssh.knownHosts] });
  const result = await driftEnvironment({ ...input, heal: true, log: (l) => log.push(l) }).finally(close);
  const reason = 'rollout of web stopped after batch 1 of 3: 1 failure exceeds max_failures 0';
  assert.deepEqual(
    result.rollouts?.map((s) => [s.reason, s.failed, s.blocked]),
    [[reason, ['web-1'], ['web-3', 'web-4', 'web-5']]],
  );
  assert.ok(
    log.some((l) => l.startsWith('drift-checked test') && l.endsWith(`; ${reason}`)),
    log.join('\n'),
  );
  const args = async (i: number) => (await conns[WEB(i)].exec('cat ~/state/web.args')).stdout;
  assert.notEqual(await args(2), 'tampered\n', 'web-2, in the first batch, was healed');
  for (const i of [3, 4, 5]) assert.equal(await args(i), 'tampered\n', `web-${i} was not touched`);
  const recorded = Object.fromEntries((await store.recordedNodes(dir, 'test')).map((n) => [n.path, n]));
  assert.deepEqual([recorded['web-5'].state, recorded['web-5'].reason], ['blocked', reason]);
});

test('politburo apply prints where the rollout stopped after its summary line, and exits 1', async () => {
  const dir = await rolloutRepo('{ batch: 3 }');
  await conns[WEB(2)].exec('touch ~/break');
  const r = await cliInProcess([
    'apply',
    'test',
    '--dir',
    dir,
    '--database-url',
    db.url,
    '--ssh-key',
    ssh.privateKeyPath,
  ]);
  assert.equal(r.code, 1, r.stderr);
  const reason = 'rollout of web stopped after batch 1 of 2: 1 failure exceeds max_failures 0';
  assert.match(r.stdout, /\nweb-4 +\S+ +create +blocked .*rollout of web stopped after batch 1 of 2/);
  assert.ok(r.stdout.endsWith(`\n${reason}; 2 not started\n`), r.stdout);
  for (const i of [4, 5]) assert.ok(await untouched(i), `web-${i} (batch 2) never started`);
});
