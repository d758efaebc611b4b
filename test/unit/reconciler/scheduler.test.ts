/** The DAG scheduler with real timers: order, overlap, blocking, concurrency, provisioning and interruption. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { schedule, type PhaseOutcome, type SchedulerNode } from '../../../reconciler/scheduler.js';
import type { DependencyState, RunEvent } from '../../../kernel/types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const n = (path: string, deps: (string | [string, DependencyState])[] = [], provision = false): SchedulerNode => ({
  path,
  dependsOn: deps.map((d) => (typeof d === 'string' ? { path: d, state: 'ready' } : { path: d[0], state: d[1] })),
  provision,
});

/**
 * Runs nodes that sleep `ms[path]` (default 30) and fail when listed; records start/end times relative to t0 and the
 * order of starts and ends (`events`), for assertions on order, never on durations.
 */
function harness(ms: Record<string, number> = {}, failing: string[] = []) {
  const t0 = Date.now();
  const times: Record<string, { start: number; end: number }> = {};
  const events: string[] = [];
  let active = 0;
  let maxActive = 0;
  const runNode = async (node: SchedulerNode, signal: AbortSignal): Promise<PhaseOutcome> => {
    active++;
    maxActive = Math.max(maxActive, active);
    const start = Date.now() - t0;
    events.push(`start ${node.path}`);
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, ms[node.path] ?? 30);
        signal.addEventListener('abort', () => (clearTimeout(t), reject(new Error('aborted'))), { once: true });
      });
    } catch {
      return { state: 'failed', reason: 'Interrupted' };
    } finally {
      active--;
      times[node.path] = { start, end: Date.now() - t0 };
      events.push(`end ${node.path}`);
    }
    return failing.includes(node.path) ? { state: 'failed', reason: 'TaskFailed' } : { state: 'ready' };
  };
  return { times, events, runNode, maxActive: () => maxActive };
}

const byPath = (outs: { path: string; state: unknown; reason?: string }[]) =>
  Object.fromEntries(outs.map((o) => [o.path, o]));

test('LAMP: master, then replica and webs in parallel, then lb; a failed web blocks lb only', async () => {
  const h = harness({ 'database/master': 60, 'web-1': 60, 'web-2': 20, 'database/replica-1': 60, lb: 20 }, ['web-2']);
  const nodes = [
    n('database/master'),
    n('database/replica-1', ['database/master']),
    n('web-1', ['database/master']),
    n('web-2', ['database/master']),
    n('lb', ['web-1', 'web-2']),
  ];
  const events: RunEvent[] = [];
  const outs = byPath(
    await schedule({
      nodes,
      concurrency: 10,
      outside: () => undefined,
      runNode: h.runNode,
      onEvent: (e) => events.push(e),
    }),
  );
  assert.equal(outs['database/master'].state, 'ready');
  assert.equal(outs['web-1'].state, 'ready');
  assert.equal(outs['database/replica-1'].state, 'ready');
  assert.equal(outs['web-2'].state, 'failed');
  assert.equal(outs.lb.state, 'blocked');
  assert.equal(outs.lb.reason, 'depends on web-2, which failed');
  assert.equal(h.times.lb, undefined, 'lb is never attempted');
  const t = h.times;
  for (const p of ['web-1', 'web-2', 'database/replica-1'])
    assert.ok(t[p].start >= t['database/master'].end, `${p} starts after the master`);
  // Right away: the three start as soon as the master ends, before anything else happens.
  const afterMaster = h.events.slice(
    h.events.indexOf('end database/master') + 1,
    h.events.indexOf('end database/master') + 4,
  );
  assert.deepEqual(afterMaster.sort(), ['start database/replica-1', 'start web-1', 'start web-2']);
  assert.ok(t['web-1'].start < t['web-2'].end && t['web-2'].start < t['web-1'].end, 'webs overlap');
  const waiting = events.find((e) => e.type === 'node-waiting' && e.path === 'lb');
  assert.deepEqual(waiting, { type: 'node-waiting', path: 'lb', waitingFor: ['web-1', 'web-2'] });
  assert.ok(events.some((e) => e.type === 'node-finished' && e.path === 'lb' && e.state === 'blocked'));
});

test('not waves: a chain advances while an unrelated long node still runs', async () => {
  // b runs until the chain a1 -> a2 -> a3 has ended. A scheduler working in waves would hold a2 until b ends: b then
  // ends by its fallback timer first (10 s, only so that such a scheduler fails instead of hanging).
  const events: string[] = [];
  let chainDone = () => {};
  const chainEnded = new Promise<void>((resolve) => (chainDone = resolve));
  const runNode = async (node: SchedulerNode): Promise<PhaseOutcome> => {
    events.push(`start ${node.path}`);
    if (node.path === 'b') {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([chainEnded, new Promise((resolve) => (timer = setTimeout(resolve, 10_000)))]);
      clearTimeout(timer);
    } else {
      await sleep(10);
    }
    events.push(`end ${node.path}`);
    if (node.path === 'a3') chainDone();
    return { state: 'ready' };
  };
  const outs = await schedule({
    nodes: [n('a1'), n('a2', ['a1']), n('a3', ['a2']), n('b')],
    concurrency: 4,
    outside: () => undefined,
    runNode,
  });
  assert.ok(outs.every((o) => o.state === 'ready'));
  assert.ok(events.indexOf('end a3') < events.indexOf('end b'), events.join(', '));
});

test('concurrency bounds the nodes running at once', async () => {
  const h = harness();
  const nodes = ['a', 'b', 'c', 'd', 'e', 'f'].map((p) => n(p));
  const outs = await schedule({ nodes, concurrency: 2, outside: () => undefined, runNode: h.runNode });
  assert.ok(outs.every((o) => o.state === 'ready'));
  assert.equal(h.maxActive(), 2);
});

test('slots go to the critical path first', async () => {
  const h = harness({ long1: 40, long2: 40, short: 40 });
  await schedule({
    nodes: [n('short'), n('long1'), n('long2', ['long1'])],
    concurrency: 1,
    outside: () => undefined,
    runNode: h.runNode,
  });
  assert.ok(h.times.long1.start < h.times.short.start, 'the chain head starts before the lone node');
});

test('dependencies outside the run: recorded ready passes, anything else blocks with the state', async () => {
  const h = harness();
  const outside = (p: string) =>
    p === 'db'
      ? { state: 'ready' as const, hasHost: true }
      : p === 'web-1'
        ? { state: 'failed' as const, hasHost: true }
        : undefined;
  const outs = byPath(
    await schedule({
      nodes: [n('app', ['db']), n('lb', ['web-1']), n('x', ['ghost'])],
      concurrency: 3,
      outside,
      runNode: h.runNode,
    }),
  );
  assert.equal(outs.app.state, 'ready');
  assert.equal(outs.lb.state, 'blocked');
  assert.equal(outs.lb.reason, 'web-1 is not ready (state: failed)');
  assert.equal(outs.x.reason, 'ghost is not ready (state: defined)');
});

test('blocking is transitive and names the failed node; a throwing node fails', async () => {
  const h = harness({}, ['x']);
  const nodes = [n('x'), n('y', ['x']), n('z', ['y']), n('free')];
  const outs = byPath(await schedule({ nodes, concurrency: 4, outside: () => undefined, runNode: h.runNode }));
  assert.equal(outs.y.reason, 'depends on x, which failed');
  assert.equal(outs.z.state, 'blocked');
  assert.equal(outs.z.reason, 'depends on y, which is blocked (x failed)');
  assert.equal(outs.free.state, 'ready');
  const thrown = await schedule({
    nodes: [n('t')],
    concurrency: 1,
    outside: () => undefined,
    runNode: async () => {
      throw new Error('kaboom');
    },
  });
  assert.deepEqual([thrown[0].state, thrown[0].reason], ['failed', 'kaboom']);
});

test('provisioning runs first and unblocks #provisioned dependents before configuration ends; provisioned cycles are fine', async () => {
  const log: string[] = [];
  const provision = async (node: SchedulerNode): Promise<PhaseOutcome> => {
    log.push(`provision ${node.path}`);
    await sleep(20);
    return { state: 'provisioned' };
  };
  const runNode = async (node: SchedulerNode): Promise<PhaseOutcome> => {
    log.push(`start ${node.path}`);
    await sleep(40);
    log.push(`end ${node.path}`);
    return { state: 'ready' };
  };
  // a's configuration needs b's address; b's configuration needs a ready.
  const nodes = [n('a', [['b', 'provisioned']], true), n('b', ['a'], true)];
  const outs = await schedule({ nodes, concurrency: 4, outside: () => undefined, provision, runNode });
  assert.deepEqual(
    outs.map((o) => o.state),
    ['ready', 'ready'],
  );
  assert.deepEqual(log.slice(2), ['start a', 'end a', 'start b', 'end b']);
  const failing = await schedule({
    nodes: [n('p', [], true), n('q', [['p', 'provisioned']])],
    concurrency: 2,
    outside: () => undefined,
    provision: async () => ({ state: 'failed', reason: 'ProvisionFailed: no capacity' }),
    runNode,
  });
  assert.deepEqual(
    failing.map((o) => [o.state, o.reason]),
    [
      ['failed', 'ProvisionFailed: no capacity'],
      ['blocked', 'depends on p, which failed'],
    ],
  );
});

test('interrupt: nothing new starts, running work is aborted after the grace period, never-started nodes keep their state', async () => {
  const h = harness({ a: 5000, b: 30, c: 30 });
  const ac = new AbortController();
  const settled: string[] = [];
  setTimeout(() => ac.abort(), 50);
  const outs = await schedule({
    nodes: [n('a'), n('b', ['a']), n('c')],
    concurrency: 1,
    outside: () => undefined,
    runNode: h.runNode,
    signal: ac.signal,
    graceMs: 100,
    onSettled: async (node) => {
      await sleep(5);
      settled.push(node.path);
    },
  });
  const o = byPath(outs);
  assert.deepEqual(
    [o.a.state, o.a.reason],
    ['failed', 'Interrupted'],
    'the long node was aborted (not left to run its 5 s)',
  );
  assert.equal(o.b.state, null);
  assert.match(o.b.reason!, /^Interrupted/);
  assert.equal(o.c.state, null);
  assert.equal(h.times.c, undefined);
  assert.deepEqual(settled.sort(), ['a', 'b', 'c'], 'every settle hook is awaited');
});

// ---------------------------------------------------------------------------------------------------------------
// Rolling batches (docs/language.md, "Rolling batches")

const inGroup = (node: SchedulerNode, group: string, batch: number, maxFailures = 0): SchedulerNode => ({
  ...node,
  rollout: { group, batch, maxFailures },
});
const web = (count: number, batch: number, maxFailures = 0, deps: string[] = []) =>
  Array.from({ length: count }, (_, i) => inGroup(n(`web-${i + 1}`, deps), 'web', batch, maxFailures));

/** Every node of batch `later` starts after every node of batch `earlier` ended. */
function assertAfter(times: Record<string, { start: number; end: number }>, earlier: string[], later: string[]): void {
  for (const l of later)
    for (const e of earlier) assert.ok(times[l].start >= times[e].end, `${l} starts after ${e} ended`);
}

test('rollout: batches in order, each only when every node of the previous one has settled', async () => {
  const h = harness({ 'web-1': 60, 'web-2': 10, 'web-3': 10, 'web-4': 40, 'web-5': 10 });
  const events: RunEvent[] = [];
  const outs = await schedule({
    nodes: web(5, 2),
    concurrency: 10,
    outside: () => undefined,
    runNode: h.runNode,
    onEvent: (e) => events.push(e),
  });
  assert.ok(outs.every((o) => o.state === 'ready'));
  assertAfter(h.times, ['web-1', 'web-2'], ['web-3', 'web-4']);
  assertAfter(h.times, ['web-3', 'web-4'], ['web-5']);
  assert.equal(h.maxActive(), 2, 'never more than a batch at once');
  assert.ok(
    events.some(
      (e) =>
        e.type === 'node-waiting' &&
        e.path === 'web-5' &&
        e.waitingFor.includes('rollout of web: batch 1 of 3 to finish'),
    ),
    'a held node says which batch it waits for',
  );
});

test('rollout: batches follow dependency order within the group; other nodes are not held', async () => {
  const h = harness({ other: 200 });
  // web-1 depends on web-3: web-3 comes first, and batches are cut in that order: [web-2 web-3] [web-1 web-4].
  const nodes = [
    inGroup(n('web-1', ['web-3']), 'web', 2),
    inGroup(n('web-2'), 'web', 2),
    inGroup(n('web-3'), 'web', 2),
    inGroup(n('web-4'), 'web', 2),
    n('other'),
  ];
  const outs = await schedule({ nodes, concurrency: 10, outside: () => undefined, runNode: h.runNode });
  assert.ok(outs.every((o) => o.state === 'ready'));
  assertAfter(h.times, ['web-2', 'web-3'], ['web-1', 'web-4']);
  assert.ok(h.times.other.start < h.times['web-2'].end, 'a node outside the group starts at once');
});

test('rollout: dependency order across groups: a group waiting on another group batch by batch never deadlocks', async () => {
  const h = harness();
  // app-i depends on db-i; db's batches [db-1 db-2] [db-3], app's [app-1] [app-2] [app-3].
  const db = [1, 2, 3].map((i) => inGroup(n(`db-${i}`), 'db', 2));
  const app = [1, 2, 3].map((i) => inGroup(n(`app-${i}`, [`db-${i}`]), 'app', 1));
  const outs = await schedule({
    nodes: [...app, ...db],
    concurrency: 10,
    outside: () => undefined,
    runNode: h.runNode,
  });
  assert.ok(
    outs.every((o) => o.state === 'ready'),
    JSON.stringify(outs),
  );
  assertAfter(h.times, ['db-1', 'db-2'], ['db-3']);
  assertAfter(h.times, ['app-1'], ['app-2']);
  assertAfter(h.times, ['app-2'], ['app-3']);
  assertAfter(h.times, ['db-3'], ['app-3']);
});

test('rollout: max_failures 0 stops the group at the first failure; the rest are blocked with where and why', async () => {
  const h = harness({ 'web-3': 10, 'web-4': 60 }, ['web-3']);
  const stops: unknown[] = [];
  const outs = byPath(
    await schedule({
      nodes: [...web(5, 2), n('lb', ['web-5']), n('free')],
      concurrency: 10,
      outside: () => undefined,
      runNode: h.runNode,
      onRolloutStopped: (s) => stops.push(s),
    }),
  );
  const reason = 'rollout of web stopped after batch 2 of 3: 1 failure exceeds max_failures 0';
  assert.equal(outs['web-1'].state, 'ready');
  assert.equal(outs['web-3'].state, 'failed');
  assert.equal(outs['web-4'].state, 'ready', 'the rest of the current batch finishes');
  assert.deepEqual([outs['web-5'].state, outs['web-5'].reason], ['blocked', reason]);
  assert.equal(h.times['web-5'], undefined, 'batch 3 never starts');
  assert.equal(outs.lb.state, 'blocked');
  assert.equal(outs.lb.reason, `depends on web-5, which is blocked (${reason})`);
  assert.equal(outs.free.state, 'ready');
  assert.deepEqual(stops, [
    {
      group: 'web',
      batch: 2,
      batches: 3,
      failures: 1,
      maxFailures: 0,
      failed: ['web-3'],
      blocked: ['web-5'],
      reason,
    },
  ]);
});

test('rollout: a failure budget by count tolerates that many failures, one more stops the group', async () => {
  // Batches of 1, max_failures 1: web-1 failing is tolerated, web-3 failing (the second failure) stops the group.
  const h = harness({}, ['web-1', 'web-3']);
  const stops: { reason: string }[] = [];
  const outs = byPath(
    await schedule({
      nodes: web(5, 1, 1),
      concurrency: 10,
      outside: () => undefined,
      runNode: h.runNode,
      onRolloutStopped: (s) => stops.push(s),
    }),
  );
  assert.equal(outs['web-1'].state, 'failed');
  assert.equal(outs['web-2'].state, 'ready', 'one failure is within the budget');
  assert.equal(outs['web-3'].state, 'failed');
  const reason = 'rollout of web stopped after batch 3 of 5: 2 failures exceed max_failures 1';
  for (const p of ['web-4', 'web-5']) assert.deepEqual([outs[p].state, outs[p].reason], ['blocked', reason]);
  assert.equal(h.times['web-4'], undefined);
  assert.deepEqual(
    stops.map((s) => s.reason),
    [reason],
  );
});

test('rollout: a group within its budget runs to the end, and no stop is reported', async () => {
  const h = harness({}, ['web-2']);
  const stops: unknown[] = [];
  const outs = byPath(
    await schedule({
      nodes: web(4, 2, 1),
      concurrency: 10,
      outside: () => undefined,
      runNode: h.runNode,
      onRolloutStopped: (s) => stops.push(s),
    }),
  );
  assert.deepEqual(
    Object.values(outs).map((o) => o.state),
    ['ready', 'failed', 'ready', 'ready'],
  );
  assert.deepEqual(stops, []);
});

test('rollout: the concurrency limit still bounds a batch, and the next batch waits for all of it', async () => {
  const h = harness();
  const outs = await schedule({
    nodes: web(6, 3),
    concurrency: 2,
    outside: () => undefined,
    runNode: h.runNode,
  });
  assert.ok(outs.every((o) => o.state === 'ready'));
  assert.equal(h.maxActive(), 2);
  assertAfter(h.times, ['web-1', 'web-2', 'web-3'], ['web-4', 'web-5', 'web-6']);
});

test('rollout: a failed provisioning counts as a failure and batches hold provisioning too', async () => {
  const log: string[] = [];
  const provision = async (node: SchedulerNode): Promise<PhaseOutcome> => {
    log.push(`provision ${node.path}`);
    await sleep(10);
    return node.path === 'web-1'
      ? { state: 'failed', reason: 'ProvisionFailed: no capacity' }
      : { state: 'provisioned' };
  };
  const nodes = [1, 2, 3].map((i) => inGroup(n(`web-${i}`, [], true), 'web', 1));
  const outs = await schedule({
    nodes,
    concurrency: 10,
    outside: () => undefined,
    provision,
    runNode: async () => ({ state: 'ready' }),
  });
  assert.deepEqual(log, ['provision web-1'], 'no other host is provisioned');
  assert.deepEqual(
    outs.map((o) => [o.state, o.reason]),
    [
      ['failed', 'ProvisionFailed: no capacity'],
      ['blocked', 'rollout of web stopped after batch 1 of 3: 1 failure exceeds max_failures 0'],
      ['blocked', 'rollout of web stopped after batch 1 of 3: 1 failure exceeds max_failures 0'],
    ],
  );
});

test('rollout: a #provisioned cycle split across batches provisions the later host early instead of waiting forever', async () => {
  const log: string[] = [];
  const provision = async (node: SchedulerNode): Promise<PhaseOutcome> => {
    log.push(`provision ${node.path}`);
    await sleep(10);
    return { state: 'provisioned' };
  };
  const runNode = async (node: SchedulerNode): Promise<PhaseOutcome> => {
    log.push(`run ${node.path}`);
    await sleep(10);
    return { state: 'ready' };
  };
  // a needs b's address (b#provisioned); b needs a ready; batches of 1: [a] [b].
  const nodes = [inGroup(n('a', [['b', 'provisioned']], true), 'g', 1), inGroup(n('b', ['a'], true), 'g', 1)];
  const outs = await schedule({ nodes, concurrency: 4, outside: () => undefined, provision, runNode });
  assert.deepEqual(
    outs.map((o) => o.state),
    ['ready', 'ready'],
  );
  assert.deepEqual(log.slice(2), ['run a', 'run b'], 'configuration still follows the batches');
});

// ---------------------------------------------------------------------------------------------------------------
// Cost: the scheduler's work grows with the graph (nodes + dependencies), not with nodes × settles.

/** `dependsOn` lists that count how often the scheduler reads one of their dependencies. */
function countingNeeds(nodes: SchedulerNode[]): { nodes: SchedulerNode[]; reads: () => number } {
  let reads = 0;
  const counted = nodes.map((node) => ({
    ...node,
    dependsOn: new Proxy(node.dependsOn, {
      get(target, key, receiver) {
        if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
        return Reflect.get(target, key, receiver) as unknown;
      },
    }),
  }));
  return { nodes: counted, reads: () => reads };
}

test('cost: a fan-out and fan-in of 400 nodes reads each dependency a bounded number of times, not once per settle', async () => {
  const webs = Array.from({ length: 400 }, (_, i) => n(`web-${i + 1}`, ['db', ['outside', 'ready']]));
  const graph = [
    n('db'),
    ...webs,
    n(
      'lb',
      webs.map((w) => w.path),
    ),
  ];
  const needs = graph.reduce((sum, node) => sum + node.dependsOn.length, 0);
  const { nodes, reads } = countingNeeds(graph);
  let outsideAsked = 0;
  const outs = await schedule({
    nodes,
    concurrency: 50,
    outside: () => (outsideAsked++, { state: 'ready', hasHost: true }),
    runNode: async () => ({ state: 'ready' }),
  });
  assert.ok(outs.every((o) => o.state === 'ready'));
  // Every web, then lb, settled one at a time: a scheduler that re-checked every dependency of every waiting node on
  // each settle would read lb's 400 dependencies about 400 times (160,000 reads) and ask about `outside` per look.
  assert.equal(outsideAsked, webs.length, 'a dependency outside the run is asked about once per node needing it');
  assert.ok(reads() <= 5 * needs, `${reads()} reads of ${needs} dependencies`);
});

test('cost: a failure blocks a fan-in once, naming the failed node, without re-reading the other dependencies', async () => {
  const webs = Array.from({ length: 300 }, (_, i) => n(`web-${i + 1}`));
  const graph = [
    ...webs,
    n(
      'lb',
      webs.map((w) => w.path),
    ),
  ];
  const { nodes, reads } = countingNeeds(graph);
  const outs = byPath(
    await schedule({
      nodes,
      concurrency: 300,
      outside: () => undefined,
      runNode: async (node) => (node.path === 'web-7' ? { state: 'failed', reason: 'TaskFailed' } : { state: 'ready' }),
    }),
  );
  assert.equal(outs.lb.state, 'blocked');
  assert.equal(outs.lb.reason, 'depends on web-7, which failed');
  assert.ok(reads() <= 5 * 300, `${reads()} reads of 300 dependencies`);
});
