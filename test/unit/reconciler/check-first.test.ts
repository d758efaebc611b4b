/**
 * Checked in parallel (reconciler/check-first.ts and the scheduler's use of it): which nodes are checked, when a node
 * checked met counts as met, and what runs in dependency order instead. Checks, runs and records are in-memory
 * functions that log what they are asked; assertions are on order, never on durations.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CheckFirst } from '../../../reconciler/check-first.js';
import {
  schedule,
  type CheckOutcome,
  type PhaseOutcome,
  type ScheduleOptions,
  type SchedulerNode,
} from '../../../reconciler/scheduler.js';
import type { DependencyState, RunEvent } from '../../../kernel/types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A node; `check` false makes it a non-candidate (created, updated, drifted...). */
const n = (
  path: string,
  deps: (string | [string, DependencyState])[] = [],
  extra: Partial<SchedulerNode> = {},
): SchedulerNode => ({
  path,
  dependsOn: deps.map((d) => (typeof d === 'string' ? { path: d, state: 'ready' } : { path: d[0], state: d[1] })),
  checkFirst: true,
  ...extra,
});

const everywhere = { blocked: () => false, provisioned: () => true };

test('candidates: a node whose #ready dependency runs in order, needs a host provisioned now or is blocked is not one', () => {
  const c = new CheckFirst(
    [
      n('db'),
      n('new', [], { checkFirst: false }),
      n('web', ['db']),
      n('app', ['new']),
      n('lb', ['web', 'app']),
      n('cache', [['host', 'provisioned']]),
      n('host', [], { checkFirst: false }),
      n('fresh', [['pending', 'provisioned']]),
      n('pending', [], { checkFirst: false }),
      n('stuck', ['outside']),
    ],
    { blocked: (p) => p === 'stuck', provisioned: (p) => p !== 'pending' },
  );
  const states = Object.fromEntries(
    ['db', 'new', 'web', 'app', 'lb', 'cache', 'host', 'fresh', 'stuck'].map((p) => [p, c.state(p)]),
  );
  assert.deepEqual(states, {
    db: 'todo',
    new: 'off',
    web: 'todo',
    app: 'off', // its dependency is created in this run: it runs after it
    lb: 'off', // transitively
    cache: 'todo', // only needs `host` to exist, and it does
    host: 'off',
    fresh: 'off', // `pending` gets its host in this run: its address may change
    stuck: 'off',
  });
});

test('counting: met checks count from the bottom up, a dependent only once every #ready dependency counted', () => {
  const c = new CheckFirst([n('db'), n('web-1', ['db']), n('web-2', ['db']), n('lb', ['web-1', 'web-2'])], everywhere);
  for (const p of ['db', 'web-1', 'web-2', 'lb']) c.start(p);
  assert.deepEqual(c.checked('lb', true), ['lb']);
  assert.equal(c.countable('lb'), false);
  assert.deepEqual(c.waitingOn('lb'), ['web-1', 'web-2']);
  assert.deepEqual(c.checked('web-1', true), ['web-1']);
  assert.equal(c.countable('web-1'), false, 'db has not counted yet');
  assert.deepEqual(c.checked('db', true), ['db']);
  assert.deepEqual(c.count('db'), ['web-1'], 'web-2 is still checking');
  assert.deepEqual(c.count('web-1'), []);
  assert.deepEqual(c.waitingOn('lb'), ['web-2']);
  c.checked('web-2', true);
  assert.deepEqual(c.count('web-2'), ['lb']);
  assert.deepEqual(c.count('lb'), []);
  assert.equal(c.state('lb'), 'counted');
  assert.throws(() => c.count('lb'), /cannot count/);
});

test('an unmet check sends the node and everything needing it #ready back to dependency order, with why', () => {
  const c = new CheckFirst(
    [n('db'), n('web', ['db']), n('lb', ['web']), n('side', [['web', 'provisioned']]), n('other')],
    everywhere,
  );
  for (const p of ['db', 'web', 'lb', 'side', 'other']) c.start(p);
  c.checked('lb', true);
  assert.deepEqual(c.checked('web', false, "found unmet: 'stamped'").sort(), ['lb', 'web']);
  assert.deepEqual(
    [c.state('web'), c.state('lb'), c.state('side'), c.state('db'), c.state('other')],
    ['off', 'off', 'checking', 'checking', 'checking'],
    'a #provisioned dependent and unrelated nodes keep their checks',
  );
  assert.equal(c.reason('web'), "found unmet: 'stamped'");
  assert.equal(c.reason('lb'), 'depends on web, which did not count as met');
  assert.deepEqual(c.checked('lb', true), [], 'a late result of a node sent back is ignored');
  // A node that settles without counting (blocked by a rollout stop, interrupted) sends its dependents back too.
  c.checked('db', true);
  assert.deepEqual(c.settled('db', 'depends on db, which did not count as met'), []);
  assert.equal(c.state('db'), 'off');
});

/** The in-memory world of a scheduling with checks: what each node's check finds, how long things take, a log. */
function world(o: { unmet?: string[]; failing?: string[]; checkMs?: Record<string, number>; runMs?: number } = {}) {
  const log: string[] = [];
  const reasons: Record<string, string | undefined> = {};
  let checking = 0;
  let maxChecking = 0;
  const check = async (node: SchedulerNode, signal: AbortSignal): Promise<CheckOutcome> => {
    log.push(`check ${node.path}`);
    checking++;
    maxChecking = Math.max(maxChecking, checking);
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, o.checkMs?.[node.path] ?? 20);
        signal.addEventListener('abort', () => (clearTimeout(t), reject(new Error('stopped'))), { once: true });
      });
    } catch {
      log.push(`check stopped ${node.path}`);
      return { met: false, reason: 'Interrupted' };
    } finally {
      checking--;
    }
    log.push(`checked ${node.path}`);
    return o.unmet?.includes(node.path) ? { met: false, reason: 'found unmet' } : { met: true };
  };
  const runNode = async (node: SchedulerNode, signal: AbortSignal, checked?: { reason: string }) => {
    log.push(`run ${node.path}`);
    reasons[node.path] = checked?.reason;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, o.runMs ?? 20);
      signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
    log.push(`ran ${node.path}`);
    return o.failing?.includes(node.path)
      ? ({ state: 'failed', reason: 'TaskFailed' } as PhaseOutcome)
      : ({ state: 'ready' } as PhaseOutcome);
  };
  const counted = async (node: SchedulerNode): Promise<PhaseOutcome> => {
    log.push(`counted ${node.path}`);
    await sleep(5); // the record's write
    return { state: 'ready', reason: 'checked in parallel' };
  };
  return { log, reasons, check, runNode, counted, maxChecking: () => maxChecking };
}

const lamp = () => [
  n('database/master'),
  n('database/replica', ['database/master']),
  n('web-1', ['database/master']),
  n('web-2', ['database/master']),
  n('lb', ['web-1', 'web-2']),
];

function run(w: ReturnType<typeof world>, nodes: SchedulerNode[], extra: Partial<ScheduleOptions<SchedulerNode>> = {}) {
  const events: RunEvent[] = [];
  const outcomes = schedule({
    nodes,
    concurrency: 10,
    outside: () => undefined,
    runNode: w.runNode,
    check: w.check,
    counted: w.counted,
    onEvent: (e) => events.push(e),
    ...extra,
  });
  return { events, outcomes };
}

const of = (log: string[], verb: string) =>
  log.filter((l) => l.startsWith(`${verb} `)).map((l) => l.slice(verb.length + 1));

test('everything met: every node is checked at once, then all count as met in one go; nothing runs', async () => {
  // The lb's check ends first and the master's last: still, nothing counts before the master has.
  const w = world({ checkMs: { 'database/master': 60, lb: 5 } });
  const { outcomes, events } = run(w, lamp());
  const outs = await outcomes;
  assert.ok(
    outs.every((o) => o.state === 'ready' && o.started),
    JSON.stringify(outs),
  );
  assert.deepEqual(of(w.log, 'run'), [], 'no node ran in order');
  assert.deepEqual(
    w.log.slice(0, 5).sort(),
    lamp()
      .map((x) => `check ${x.path}`)
      .sort(),
    'all five checks start before any ends',
  );
  const firstCount = w.log.findIndex((l) => l.startsWith('counted'));
  assert.ok(firstCount > w.log.indexOf('checked database/master'), 'nothing counts before the master was checked');
  assert.deepEqual(
    w.log.slice(firstCount),
    ['counted database/master', 'counted database/replica', 'counted web-1', 'counted web-2', 'counted lb'],
    'once the master counted, the rest counted right after it, dependencies first, before any record was written',
  );
  assert.ok(events.filter((e) => e.type === 'node-started').length === 5, 'one start per node: its check');
  assert.ok(
    events.some((e) => e.type === 'node-waiting' && e.path === 'lb' && e.waitingFor.join() === 'web-1,web-2'),
    'a node checked met says what it waits for to count',
  );
});

test('one drifted node in the middle: it and what depends on it run in order after it; its dependencies do not run', async () => {
  const w = world({ unmet: ['web-1'] });
  const outs = await run(w, lamp()).outcomes;
  assert.ok(outs.every((o) => o.state === 'ready'));
  assert.deepEqual(of(w.log, 'run'), ['web-1', 'lb'], 'web-1, then lb (its check said met, but web-1 changes first)');
  assert.ok(w.log.indexOf('run lb') > w.log.indexOf('ran web-1'), 'lb runs after web-1 is met');
  assert.ok(w.log.indexOf('run web-1') > w.log.indexOf('counted database/master'), 'web-1 runs after the master');
  assert.deepEqual(of(w.log, 'counted').sort(), ['database/master', 'database/replica', 'web-2']);
  assert.deepEqual(w.reasons, {
    'web-1': 'found unmet',
    lb: 'depends on web-1, which did not count as met',
  });
});

test('a failing check: the node runs in order, and its run decides (a failed run blocks its dependents)', async () => {
  const w = world({ unmet: ['database/master'], failing: ['database/master'] });
  const outs = Object.fromEntries((await run(w, lamp()).outcomes).map((o) => [o.path, o]));
  assert.equal(outs['database/master'].state, 'failed');
  for (const p of ['database/replica', 'web-1', 'web-2'])
    assert.deepEqual([outs[p].state, outs[p].reason], ['blocked', 'depends on database/master, which failed']);
  assert.deepEqual(of(w.log, 'counted'), [], 'nothing counts as met above a node that did not');
  assert.deepEqual(of(w.log, 'run'), ['database/master']);
});

test('a candidate above a node that runs in order is never checked; a check that throws is a check not met', async () => {
  const w = world();
  const nodes = [n('db', [], { checkFirst: false }), n('web', ['db']), n('solo')];
  const outs = await run(w, nodes, {
    check: async (node, signal) => {
      if (node.path === 'solo') throw new Error('connection reset');
      return w.check(node, signal);
    },
  }).outcomes;
  assert.ok(outs.every((o) => o.state === 'ready'));
  assert.deepEqual(of(w.log, 'check'), [], 'web waits for db; solo threw');
  assert.deepEqual(of(w.log, 'run').sort(), ['db', 'solo', 'web']);
  assert.equal(w.reasons.solo, 'connection reset');
  assert.equal(w.reasons.web, undefined, 'web was never a candidate');
});

test('checks take slots: the concurrency bounds them as it bounds runs; a count takes none', async () => {
  const w = world();
  const nodes = ['a', 'b', 'c', 'd', 'e', 'f'].map((p) => n(p));
  const outs = await run(w, nodes, { concurrency: 2 }).outcomes;
  assert.ok(outs.every((o) => o.state === 'ready'));
  assert.equal(w.maxChecking(), 2);
  assert.equal(of(w.log, 'counted').length, 6);
});

test('rollout: checks run at once, but a batch counts only once the batch before it has settled', async () => {
  const w = world({ checkMs: { 'web-4': 2 } });
  const nodes = [1, 2, 3, 4].map((i) => n(`web-${i}`, [], { rollout: { group: 'web', batch: 2, maxFailures: 0 } }));
  const { outcomes, events } = run(w, nodes);
  const outs = await outcomes;
  assert.ok(outs.every((o) => o.state === 'ready'));
  assert.deepEqual(of(w.log, 'check').length, 4);
  assert.ok(w.log.indexOf('checked web-4') < w.log.indexOf('counted web-1'), 'web-4 was checked early');
  const settled = events.filter((e) => e.type === 'node-finished').map((e) => e.path);
  assert.deepEqual(settled.slice(0, 2).sort(), ['web-1', 'web-2']);
  assert.deepEqual(settled.slice(2).sort(), ['web-3', 'web-4']);
  assert.ok(
    events.some(
      (e) =>
        e.type === 'node-waiting' &&
        e.path === 'web-4' &&
        e.waitingFor.includes('rollout of web: batch 1 of 2 to finish'),
    ),
  );
});

test('rollout: a failure over the budget blocks the later batches, checked met or not; nothing of them counts', async () => {
  const w = world({ unmet: ['web-1'], failing: ['web-1'] });
  const nodes = [1, 2, 3, 4].map((i) => n(`web-${i}`, [], { rollout: { group: 'web', batch: 2, maxFailures: 0 } }));
  const stops: unknown[] = [];
  const outs = Object.fromEntries(
    (await run(w, nodes, { onRolloutStopped: (s) => stops.push(s) }).outcomes).map((o) => [o.path, o]),
  );
  assert.equal(outs['web-1'].state, 'failed');
  assert.equal(outs['web-2'].state, 'ready', 'web-2 of the same batch counted as met');
  for (const p of ['web-3', 'web-4']) {
    assert.equal(outs[p].state, 'blocked');
    assert.match(outs[p].reason!, /rollout of web stopped after batch 1 of 2/);
  }
  assert.deepEqual(of(w.log, 'counted'), ['web-2']);
  assert.equal(stops.length, 1);
});

test('Ctrl-C: checks stop at once (they change nothing), runs get their grace period; nothing counts after', async () => {
  const w = world({ checkMs: { slow: 5000 }, runMs: 5000 });
  const ac = new AbortController();
  const nodes = [n('busy', [], { checkFirst: false }), n('slow'), n('above', ['slow'])];
  const { outcomes } = run(w, nodes, { signal: ac.signal, graceMs: 200 });
  setTimeout(() => ac.abort(), 50);
  const outs = Object.fromEntries((await outcomes).map((o) => [o.path, o]));
  assert.ok(
    w.log.indexOf('check stopped slow') < w.log.indexOf('ran busy'),
    `the check stops before the running node's grace period ends: ${w.log.join(', ')}`,
  );
  assert.equal(outs.slow.state, null, 'interrupted: keeps its recorded state');
  assert.match(outs.slow.reason!, /^Interrupted/);
  assert.equal(outs.above.state, null);
  assert.deepEqual(of(w.log, 'counted'), []);
  assert.deepEqual(of(w.log, 'run'), ['busy']);
});

test('without check and counted, checkFirst changes nothing: every node runs in order', async () => {
  const w = world();
  const outs = await schedule({ nodes: lamp(), concurrency: 10, outside: () => undefined, runNode: w.runNode });
  assert.ok(outs.every((o) => o.state === 'ready'));
  assert.deepEqual(of(w.log, 'check'), []);
  assert.equal(of(w.log, 'run').length, 5);
});

test('cost: checking a fan-out and fan-in of 400 nodes at once reads each dependency at most twice more than running them', async () => {
  const webs = Array.from({ length: 400 }, (_, i) => n(`web-${i + 1}`, ['db']));
  const graph = [
    n('db'),
    ...webs,
    n(
      'lb',
      webs.map((w) => w.path),
    ),
  ];
  const needs = graph.reduce((sum, node) => sum + node.dependsOn.length, 0);
  /** Schedules the graph with `dependsOn` lists that count how often one of their dependencies is read. */
  const readsOf = async (extra: Partial<ScheduleOptions<SchedulerNode>>) => {
    let reads = 0;
    const nodes = graph.map((node) => ({
      ...node,
      dependsOn: new Proxy(node.dependsOn, {
        get(target, key, receiver) {
          if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
          return Reflect.get(target, key, receiver) as unknown;
        },
      }),
    }));
    const outs = await schedule({
      nodes,
      concurrency: 500,
      outside: () => undefined,
      runNode: async () => ({ state: 'ready' }),
      ...extra,
    });
    assert.ok(outs.every((o) => o.state === 'ready'));
    return reads;
  };
  // The db's check ends last, so every web waits to count, then all count at once.
  let releaseDb = () => {};
  const dbChecked = new Promise<void>((resolve) => (releaseDb = resolve));
  let checked = 0;
  const withChecks = await readsOf({
    check: async (node) => {
      if (++checked === graph.length) setImmediate(releaseDb);
      if (node.path === 'db') await dbChecked;
      return { met: true };
    },
    counted: async () => ({ state: 'ready' }),
  });
  const without = await readsOf({});
  assert.ok(withChecks <= without + 2 * needs, `${withChecks} reads with checks, ${without} without, ${needs} needs`);
});
