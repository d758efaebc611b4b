// Limits that protect the controller from hostile descriptions, for inputs too big to keep as fixtures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatValidationError, loadDescription } from '../../../schema/load-description.js';

function repo(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'politburo-limits-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

async function errorsOf(dir: string): Promise<string[]> {
  try {
    const r = await loadDescription({ dir });
    assert.equal(r.ok, false);
    return r.ok ? [] : r.errors.map(formatValidationError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a file over 1 MiB is rejected without being parsed', async () => {
  const big = `politburo: 1\n# ${'x'.repeat(1024 * 1024)}\n`;
  assert.deepEqual(await errorsOf(repo({ 'politburo.yml': big })), [
    `politburo.yml:1:1: file is ${Buffer.byteLength(big)} bytes, more than the limit of 1 MiB (1048576 bytes)`,
  ]);
});

test('more than 100 files is an error at the include', async () => {
  const files: Record<string, string> = { 'politburo.yml': "politburo: 1\ninclude: ['roles/*.yml']\n" };
  for (let i = 0; i < 120; i++)
    files[`roles/r${String(i).padStart(3, '0')}.yml`] = `roles:\n  r${i}: { tasks: [ { babushka: x } ] }\n`;
  assert.deepEqual(await errorsOf(repo(files)), [
    'politburo.yml:2:11: too many files: more than the limit of 100 files per description',
  ]);
});

test('deeply nested flow collections do not crash the parser', async () => {
  const errors = await errorsOf(repo({ 'politburo.yml': `politburo: 1\nroles: ${'['.repeat(100_000)}\n` }));
  assert.ok(errors.length > 0);
  assert.ok(errors.every((e) => e.startsWith('politburo.yml:')));
});

test('a huge count is refused before instances are made', async () => {
  const yml =
    'politburo: 1\nblueprints:\n  b:\n    resources:\n      web: { count: 1000000000, tasks: [ { babushka: x } ] }\nenvironments:\n  prod: { blueprint: b, hosts: { web: local } }\n';
  assert.deepEqual(await errorsOf(repo({ 'politburo.yml': yml })), [
    "politburo.yml:5:21: environment 'prod' has more than 50000 resource instances (the limit)",
  ]);
});

test('a missing main file is an error, not an exception', async () => {
  const errors = await errorsOf(repo({ 'README.md': 'nothing here' }));
  assert.equal(errors.length, 1);
  assert.match(errors[0], /^politburo\.yml:1:1: cannot read file: file not found$/);
});

// How quickly these are refused: bench/schema (a test never asserts a duration).
test('every node depending on every other node is refused, not resolved', async () => {
  const yml =
    'politburo: 1\nblueprints:\n  b:\n    resources:\n      web: { count: 50000, depends_on: [web], tasks: [ { babushka: x } ] }\nenvironments:\n  prod: { blueprint: b, hosts: { web: local } }\n';
  assert.deepEqual(await errorsOf(repo({ 'politburo.yml': yml })), [
    "politburo.yml:5:12: environment 'prod' has more than 1000000 dependencies between nodes (the limit)",
  ]);
});

test('a big param repeated in many nodes is refused, not resolved', async () => {
  const big = 'x'.repeat(100_000);
  const yml = `politburo: 1\nblueprints:\n  b:\n    params: { big: ${big} }\n    resources:\n      web: { count: 5000, tasks: [ { babushka: x, args: { a: '\${params.big}\${params.big}' } } ] }\nenvironments:\n  prod: { blueprint: b, hosts: { web: local } }\n`;
  assert.deepEqual(await errorsOf(repo({ 'politburo.yml': yml })), [
    "politburo.yml:6:12: environment 'prod' resolves to more than 67108864 characters of task arguments and commands (the limit)",
  ]);
});

test('many large environments together are refused', async () => {
  const envs = Array.from({ length: 6 }, (_, i) => `  e${i}: { blueprint: b, hosts: { web: local } }`).join('\n');
  const yml = `politburo: 1\nblueprints:\n  b:\n    resources:\n      web: { count: 45000, tasks: [ { babushka: x } ] }\nenvironments:\n${envs}\n`;
  assert.deepEqual(await errorsOf(repo({ 'politburo.yml': yml })), [
    'politburo.yml:5:21: the environments have more than 250000 resource instances together (the limit)',
  ]);
});
