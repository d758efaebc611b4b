// 10,000 node instances: what they resolve to (how long it takes: bench/schema; a test never asserts a duration).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadFiles } from './helpers.js';

const yml = `
politburo: 1
roles:
  base: { tasks: [ { babushka: base } ] }
  web:
    roles: [base]
    tasks:
      - babushka: app
        args: { db: '\${address(db)}', me: '\${self.path}', n: '\${self.index}', ref: '\${params.ref}' }
  lb:
    tasks: [ { babushka: lb, args: { backends: '\${addresses(web)}' } } ]
blueprints:
  big:
    params: { n: 10000, ref: main }
    resources:
      db: { tasks: [ { babushka: pg } ] }
      web: { count: '\${params.n}', roles: [web], depends_on: [db] }
      lb: { roles: [lb], depends_on: [web] }
environments:
  bench:
    blueprint: big
    hosts: { db: 10.0.0.1, lb: 10.0.0.2, web: local }
`;

test('10,000 instances load, validate and resolve', async () => {
  const r = await loadFiles({ 'politburo.yml': yml });
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  const env = r.description.environments.get('bench')!;
  assert.equal(env.nodes.length, 10_002);
  assert.equal(env.nodes.at(-1)!.dependsOn.length, 10_000);
});

test('a dependency cycle through 10,000 nodes is found without exhausting the stack', async () => {
  const chain = yml.replace('db: { tasks: [ { babushka: pg } ] }', 'db: { tasks: [ { babushka: pg } ], depends_on: [lb] }');
  const r = await loadFiles({ 'politburo.yml': chain });
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(r.errors.length, 1);
    assert.match(r.errors[0], /^politburo\.yml:\d+:\d+: dependency cycle: db -> lb -> web-1 -> db \(in environment 'bench'\)$/);
  }
});
