// loadDescription's contract: options, file list, error formatting and ordering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatValidationError, loadDescription, sortErrors } from '../../../schema/load-description.js';

test('formatValidationError renders FILE:LINE:COLUMN: message', () => {
  assert.equal(formatValidationError({ file: 'a.yml', line: 3, column: 7, message: 'bad' }), 'a.yml:3:7: bad');
});

test('sortErrors orders by file, line, column and removes duplicates', () => {
  const e = (file: string, line: number, column: number, message = 'm') => ({ file, line, column, message });
  assert.deepEqual(
    sortErrors([e('b.yml', 1, 1), e('a.yml', 10, 2), e('a.yml', 2, 5), e('a.yml', 2, 3), e('a.yml', 2, 3)]),
    [e('a.yml', 2, 3), e('a.yml', 2, 5), e('a.yml', 10, 2), e('b.yml', 1, 1)],
  );
});

test('file is relative to dir; files lists the main file first, then includes in order', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'politburo-load-'));
  try {
    mkdirSync(path.join(dir, 'infra/envs'), { recursive: true });
    writeFileSync(
      path.join(dir, 'infra/main.yml'),
      "politburo: 1\ninclude: ['infra/envs/*.yml']\nroles:\n  r: { tasks: [ { babushka: x } ] }\n",
    );
    writeFileSync(
      path.join(dir, 'infra/envs/b.yml'),
      'environments:\n  b: { resources: { n: { roles: [r] } }, hosts: { n: local } }\n',
    );
    writeFileSync(
      path.join(dir, 'infra/envs/a.yml'),
      'environments:\n  a: { resources: { n: { roles: [r] } }, hosts: { n: local } }\n',
    );
    const r = await loadDescription({ dir, file: 'infra/main.yml' });
    assert.ok(r.ok, r.ok ? '' : r.errors.map(formatValidationError).join('\n'));
    assert.deepEqual(r.description.files, ['infra/main.yml', 'infra/envs/a.yml', 'infra/envs/b.yml']);
    assert.deepEqual([...r.description.environments.keys()], ['a', 'b']);
    const bad = await loadDescription({ dir, file: 'infra/nope.yml' });
    assert.deepEqual(bad.ok ? [] : bad.errors.map(formatValidationError), [
      'infra/nope.yml:1:1: cannot read file: file not found',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a main file outside --dir is refused without being read', async () => {
  const base = mkdtempSync(path.join(tmpdir(), 'politburo-load-'));
  try {
    mkdirSync(path.join(base, 'repo'));
    writeFileSync(path.join(base, 'outside.yml'), 'politburo: 1\nroles:\n  outsidemarker: {}\n');
    for (const file of ['../outside.yml', path.join(base, 'outside.yml')]) {
      const r = await loadDescription({ dir: path.join(base, 'repo'), file });
      assert.deepEqual(r.ok ? [] : r.errors.map(formatValidationError), [
        '../outside.yml:1:1: the description file is outside the repository directory: use a file inside it',
      ]);
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
