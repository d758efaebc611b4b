// specHash: stable under formatting, sensitive to what would change a host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { specHash } from '../../../kernel/spec-hash.js';
import type { HostBinding, TaskSpec } from '../../../kernel/types.js';
import { loadValid, node } from '../schema/helpers.js';

const src = { file: 'politburo.yml', line: 1, column: 1 };
const host: HostBinding = { kind: 'static', address: '10.0.0.1', port: 22, user: 'root', source: src };
const tasks: TaskSpec[] = [
  { kind: 'babushka', name: 'app', dep: 'app', args: { a: '1', b: '2' }, source: src },
  { kind: 'shell', name: 'tuned', met: 'true', meet: 'true', source: src },
];

test('source positions and key order do not change the hash', () => {
  const moved = { file: 'other.yml', line: 9, column: 9 };
  const h1 = specHash({ host, tasks });
  const h2 = specHash({
    host: { ...host, source: moved },
    tasks: [
      { kind: 'babushka', name: 'app', dep: 'app', args: { b: '2', a: '1' }, source: moved },
      { ...tasks[1], source: moved },
    ],
  });
  assert.equal(h1, h2);
  assert.match(h1, /^[0-9a-f]{64}$/);
});

test('a changed argument, host, port, user, task order or command changes the hash', () => {
  const h = specHash({ host, tasks });
  const variants = [
    { host, tasks: [{ ...tasks[0], args: { a: '1', b: '3' } } as TaskSpec, tasks[1]] },
    { host: { ...host, address: '10.0.0.2' }, tasks },
    { host: { ...host, port: 2222 }, tasks },
    { host: { ...host, user: 'deploy' }, tasks },
    { host, tasks: [tasks[1], tasks[0]] },
    { host, tasks: [tasks[0], { ...tasks[1], meet: 'false' } as TaskSpec] },
    { host: { kind: 'local', source: src } as HostBinding, tasks },
  ];
  const hashes = new Set([h, ...variants.map(specHash)]);
  assert.equal(hashes.size, variants.length + 1);
});

const yml = (comment: string, dbHost: string, order: string) => `
politburo: 1
${comment}
roles:
  app:
    tasks:
      - babushka: app
        args: ${order}
blueprints:
  b:
    resources:
      db: { tasks: [ { babushka: pg } ] }
      app: { roles: [app] }
environments:
  prod: { blueprint: b, hosts: { db: ${dbHost}, app: 10.0.0.2 } }
`;

test('comments, whitespace and key order in the YAML do not change resolved hashes; a used address does', async () => {
  const a = node((await loadValid(yml('', '10.0.0.1', "{ db: '${address(db)}', x: 1 }"))).get('prod'), 'app');
  const b = node(
    (await loadValid(yml('# a comment\n\n', '10.0.0.1', "\n          x: 1\n          db: '${address(db)}'"))).get(
      'prod',
    ),
    'app',
  );
  const c = node((await loadValid(yml('', '10.0.0.9', "{ db: '${address(db)}', x: 1 }"))).get('prod'), 'app');
  assert.equal(a.specHash, b.specHash);
  assert.notEqual(a.specHash, c.specHash);
  assert.equal(a.specHash, specHash(a));
});
