// 10,000 node instances: what they resolve to (how long it takes: bench/schema; a test never asserts a duration).
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadFiles } from './helpers.js';

const yml = readFileSync(new URL('../../fixtures/scale/ten-thousand/politburo.yml', import.meta.url), 'utf8');

test('10,000 instances load, validate and resolve', async () => {
  const r = await loadFiles({ 'politburo.yml': yml });
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  const env = r.description.environments.get('bench')!;
  assert.equal(env.nodes.length, 10_002);
  assert.equal(env.nodes.at(-1)!.dependsOn.length, 10_000);
});

test('a dependency cycle through 10,000 nodes is found without exhausting the stack', async () => {
  const chain = yml.replace(
    'db: { tasks: [ { babushka: pg } ] }',
    'db: { tasks: [ { babushka: pg } ], depends_on: [lb] }',
  );
  const r = await loadFiles({ 'politburo.yml': chain });
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(r.errors.length, 1);
    assert.match(
      r.errors[0],
      /^politburo\.yml:\d+:\d+: dependency cycle: db -> lb -> web-1 -> db \(in environment 'bench'\)$/,
    );
  }
});
