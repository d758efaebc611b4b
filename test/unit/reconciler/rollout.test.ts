// The pure part of rolling batches (reconciler/rollout.ts): batches per group in dependency order, and their wording.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  describeRolloutBatches,
  rolloutBatches,
  rolloutStopReason,
  type RolloutMember,
} from '../../../reconciler/rollout.js';

const m = (path: string, group: string | null, deps: string[] = [], batch = 2): RolloutMember => ({
  path,
  dependsOn: deps.map((p) => ({ path: p })),
  ...(group ? { rollout: { group, batch, maxFailures: 0 } } : {}),
});

test('no rollout: no batches', () => {
  assert.deepEqual(rolloutBatches([m('a', null), m('b', null, ['a'])]), []);
});

test('batches per group in tree order, dependencies first, groups in order of their first node', () => {
  const groups = rolloutBatches([
    m('api-1', 'api', ['db'], 1),
    m('web-1', 'web', ['web-4']),
    m('web-2', 'web'),
    m('db', null),
    m('web-3', 'web', ['api-2']),
    m('web-4', 'web'),
    m('api-2', 'api', [], 1),
    m('web-5', 'web'),
  ]);
  assert.deepEqual(
    groups.map((g) => [g.group, g.batches]),
    [
      ['api', [['api-1'], ['api-2']]],
      ['web', [['web-2', 'web-4'], ['web-1', 'web-3'], ['web-5']]],
    ],
  );
});

test('a #provisioned cycle does not lose nodes: they follow in input order', () => {
  const [g] = rolloutBatches([m('a', 'g', ['b'], 1), m('b', 'g', ['a'], 1), m('c', 'g', [], 1)]);
  assert.deepEqual(g.batches, [['c'], ['a'], ['b']]);
});

test('wording of the batches and of a stop', () => {
  assert.equal(
    describeRolloutBatches({
      group: 'web',
      batch: 2,
      maxFailures: 1,
      batches: [['web-1', 'web-2'], ['web-3']],
    }),
    'web: rollout in 2 batches of 2 (max_failures 1): web-1 web-2 | web-3',
  );
  assert.equal(
    describeRolloutBatches({ group: 'app', batch: 4, maxFailures: 0, batches: [['a', 'b']] }),
    'app: rollout in 1 batch of 4 (max_failures 0): a b',
  );
  assert.equal(
    rolloutStopReason({ group: 'web', batch: 3, batches: 5, failures: 2, maxFailures: 1 }),
    'rollout of web stopped after batch 3 of 5: 2 failures exceed max_failures 1',
  );
});
