// Rolling batches in the language (docs/language.md, "Rolling batches"): groups, resolved percentages, validation
// errors with source positions, and the spec hash left alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadInvalid, loadValid, node } from './helpers.js';

const file = (resources: string, override = '', hosts = '{ web: local, db: local }') => `
politburo: 1
blueprints:
  b:
    resources:
${resources}
environments:
  prod:
    blueprint: b
    hosts: ${hosts}
${override}`;

test('rollout on a count resource: its instances form the group; percentages of the group, rounded up', async () => {
  const envs = await loadValid(
    file(`      web:
        count: 5
        rollout: { batch: '25%', max_failures: '10%' }
        tasks: [ { babushka: app } ]
      db: { tasks: [ { babushka: pg } ] }`),
  );
  const prod = envs.get('prod')!;
  const r = node(prod, 'web-3').rollout!;
  assert.deepEqual(
    { group: r.group, batch: r.batch, maxFailures: r.maxFailures, size: r.size },
    { group: 'web', batch: 2, maxFailures: 1, size: 5 },
  );
  assert.equal(r.source.line, 8);
  assert.equal(node(prod, 'db').rollout, undefined, 'no rollout: released at once, as before');
});

test('rollout on a group covers every node under it; max_failures defaults to 0; a batch is at least 1 node', async () => {
  const envs = await loadValid(
    file(
      `      app:
        rollout: { batch: '1%' }
        resources:
          web: { count: 3, tasks: [ { babushka: app } ] }
          api: { tasks: [ { babushka: api } ] }`,
      '',
      '{ app: local }',
    ),
  );
  const prod = envs.get('prod')!;
  for (const p of ['app/web-1', 'app/web-3', 'app/api'])
    assert.deepEqual(
      (({ group, batch, maxFailures, size }) => ({ group, batch, maxFailures, size }))(node(prod, p).rollout!),
      { group: 'app', batch: 1, maxFailures: 0, size: 4 },
    );
});

test('rollout is an ordering setting: it changes no spec hash; override can add it per environment', async () => {
  const base = `      web: { count: 2, tasks: [ { babushka: app } ] }`;
  const plain = (await loadValid(file(base, '', '{ web: local }'))).get('prod')!;
  const rolled = (
    await loadValid(file(base, '    override: { web: { rollout: { batch: 1 } } }', '{ web: local }'))
  ).get('prod')!;
  assert.equal(node(rolled, 'web-1').rollout?.batch, 1);
  assert.deepEqual(
    rolled.nodes.map((n) => n.specHash),
    plain.nodes.map((n) => n.specHash),
  );
});

test('bad rollout values are errors with their positions', async () => {
  const errors = await loadInvalid(
    file(`      web:
        count: 2
        rollout: { batch: 0, max_failures: -1 }
        tasks: [ { babushka: app } ]
      app:
        count: 2
        rollout: { batch: '150%', max_failures: 'lots', size: 3 }
        tasks: [ { babushka: app } ]`),
  );
  assert.deepEqual(errors, [
    `politburo.yml:8:27: 'batch': must be a whole number of nodes (at least 1) or a percentage of the group's nodes from 1% to 100% such as '25%', got 0`,
    `politburo.yml:8:44: 'max_failures': must be a whole number of nodes (0 or more) or a percentage of the group's nodes from 0% to 100% such as '25%', got -1`,
    `politburo.yml:12:27: 'batch': must be a whole number of nodes (at least 1) or a percentage of the group's nodes from 1% to 100% such as '25%', got "150%"`,
    `politburo.yml:12:49: 'max_failures': must be a whole number of nodes (0 or more) or a percentage of the group's nodes from 0% to 100% such as '25%', got "lots"`,
    `politburo.yml:12:57: unknown key 'size'`,
  ]);
});

test('rollout on a single node, or inside another rollout, makes no sense: errors at the rollout', async () => {
  const errors = await loadInvalid(
    file(
      `      db:
        rollout: { batch: 1 }
        tasks: [ { babushka: pg } ]
      app:
        rollout: { batch: 2 }
        resources:
          web: { count: 2, rollout: { batch: 1 }, tasks: [ { babushka: app } ] }`,
      '',
      '{ db: local, app: local }',
    ),
  );
  assert.deepEqual(errors, [
    "politburo.yml:7:18: rollout on 'db' makes no sense: it is a single node; put rollout on a group, or on a resource with count or for_each",
    "politburo.yml:12:37: rollout on 'app/web' is inside the rollout of 'app': a node belongs to one rollout group, remove one of them",
  ]);
});
