import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateDep } from '../../../../reconciler/tasks/generated-dep.js';
import { batchCommand } from '../../../../reconciler/tasks/run-babushka-batch.js';
import type { BabushkaTask } from '../../../../kernel/types.js';

const src = { file: 'politburo.yml', line: 1, column: 1 };
const task = (dep: string, args: Record<string, string> = {}): BabushkaTask => ({
  kind: 'babushka',
  name: dep,
  dep,
  args,
  source: src,
});

test('requires every task with its arguments passed through parameters, values never in the file', () => {
  const g = generateDep([task('app deployed', { ref: 'v2', db: 's3cret' }), task('base'), task("it's 'quoted' \\")]);
  assert.match(g.name, /^politburo node [0-9a-f]{16}$/);
  assert.equal(g.fileName, `politburo-node-${g.name.split(' ')[2]}.rb`);
  assert.deepEqual(g.params, [
    [
      { key: 'db', param: 'a0' },
      { key: 'ref', param: 'a1' },
    ],
    [],
    [],
  ]);
  assert.ok(g.content.includes(`dep '${g.name}', :a0, :a1 do`));
  assert.ok(g.content.includes(`'app deployed'.with(:'db' => a0.to_s, :'ref' => a1.to_s)`));
  assert.ok(g.content.includes(`'it\\'s \\'quoted\\' \\\\'`));
  assert.ok(!g.content.includes('s3cret') && !g.content.includes('v2'));
});

test('the same shape gives the same dep; another shape another', () => {
  const a = generateDep([task('x', { ref: '1' }), task('y')]);
  const b = generateDep([task('x', { ref: '2' }), task('y')]);
  const c = generateDep([task('x', { other: '1' }), task('y')]);
  assert.equal(a.content, b.content);
  assert.notEqual(a.name, c.name);
});

test('the generated dep is written through a temp file named after the shell pid, then moved into place', () => {
  const g = generateDep([task('base'), task('app deployed', { ref: 'v2' })]);
  const command = batchCommand('/deps', g.fileName, g.name, [['a0', 'v2']], false, g.content);
  const tmp = `babushka-deps/.${g.fileName}.$$`;
  assert.ok(command.includes(`cat > ${tmp} <<'POLITBURO_GENERATED_DEP'`), command);
  assert.ok(command.includes(`mv -f ${tmp} babushka-deps/${g.fileName};`), command);
  assert.ok(command.endsWith(`${g.content.endsWith('\n') ? g.content : `${g.content}\n`}POLITBURO_GENERATED_DEP\n`));
});
