// Hostile file contents get the language's own messages, never a crash: deep nesting in every YAML form, bytes that
// are not UTF-8 (wherever they are), and a count that is not a number alongside other mistakes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatValidationError, loadDescription } from '../../../schema/load-description.js';
import { decodeUtf8 } from '../../../schema/yaml-file.js';
import { loadInvalid } from './helpers.js';

const DEPTH = /nesting deeper than the limit of 32 levels/;

test('deep nesting in flow sequences, flow mappings, compact block sequences and keys gets the depth message', async () => {
  const n = 5000;
  const forms = [
    `politburo: 1\nroles:\n  r: { tasks: ${'['.repeat(n)}${']'.repeat(n)} }\n`,
    `politburo: 1\nroles:\n  r: { tasks: ${'{a: '.repeat(n)}1${'}'.repeat(n)} }\n`,
    `politburo: 1\nx:\n  ${'- '.repeat(n)}a\n`,
    `politburo: 1\nx: { ${'[ '.repeat(n)}${' ]'.repeat(n)}: 1 }\n`,
    `politburo: 1\nx: ${'['.repeat(n)}\n`, // never closed
  ];
  for (const text of forms) {
    const errors = await loadInvalid(text);
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0], DEPTH);
  }
});

test('nesting up to the limit is not a depth error (here the schema refuses the nested argument instead)', async () => {
  const args = `${'{ a: '.repeat(25)}1${' }'.repeat(25)}`;
  const errors = await loadInvalid(`politburo: 1\nroles:\n  r: { tasks: [ { babushka: x, args: { k: ${args} } } ] }\n`);
  assert.ok(!errors.some((e) => DEPTH.test(e)), errors.join('\n'));
});

test('UTF-8: the first bad byte is named with its offset, line and column; a BOM and multi-byte text are fine', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  const join = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));
  const at = (bytes: Uint8Array) => {
    const r = decodeUtf8(bytes, 'f.yml');
    return 'error' in r ? formatValidationError(r.error) : r.text;
  };
  assert.equal(at(join(Uint8Array.of(0xef, 0xbb, 0xbf), enc('a: café €\n'))), '\ufeffa: café €\n');
  // A Latin-1 é in the middle of line 2.
  assert.equal(
    at(join(enc('a: 1\nb: caf'), Uint8Array.of(0xe9), enc('\n'))),
    'f.yml:2:7: the file is not valid UTF-8: byte 0xE9 at byte offset 11 cannot be decoded; save the file as UTF-8',
  );
  // A stray continuation byte after multi-byte text: the column counts characters.
  assert.match(at(join(enc('€€ '), Uint8Array.of(0x80))), /^f\.yml:1:4: .* byte 0x80 at byte offset 7 /);
  // An encoded surrogate, and a sequence cut off by the end of the file.
  assert.match(at(join(enc('x'), Uint8Array.of(0xed, 0xa0, 0x80))), /^f\.yml:1:2: .* byte 0xED at byte offset 1 /);
  assert.match(at(join(enc('x: '), Uint8Array.of(0xe2, 0x82))), /^f\.yml:1:4: .* byte 0xE2 at byte offset 3 /);
  // UTF-16 is not UTF-8.
  assert.match(at(Uint8Array.of(0xff, 0xfe, 0x61, 0x00)), /byte 0xFF at byte offset 0/);
});

test('a main file that is not UTF-8 is an error, not silently decoded', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'politburo-utf8-'));
  try {
    writeFileSync(
      path.join(dir, 'politburo.yml'),
      Buffer.concat([
        Buffer.from("politburo: 1\nroles:\n  r: { description: 'caf"),
        Buffer.from([0xe9]),
        Buffer.from("', tasks: [] }\n"),
      ]),
    );
    const r = await loadDescription({ dir });
    assert.deepEqual(r.ok ? [] : r.errors.map(formatValidationError), [
      'politburo.yml:3:25: the file is not valid UTF-8: byte 0xE9 at byte offset 44 cannot be decoded; save the file as UTF-8',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('count: lots is reported with every other error, in blueprints no environment uses and in broken environments', async () => {
  const errors = await loadInvalid(`politburo: 1
blueprints:
  unused: { resources: { w: { tasks: [ { babushka: x } ], count: lots } } }
environments:
  e:
    resources: { w: { tasks: [ { babushka: x } ], count: plenty, depends_on: [w-1] } }
    hosts: { w: local, w-1: local }
    brnach: main
`);
  assert.deepEqual(errors, [
    "politburo.yml:3:66: count must be a non-negative integer or an interpolation such as '${params.web_count}', got 'lots'",
    "politburo.yml:6:58: count must be a non-negative integer or an interpolation such as '${params.web_count}', got 'plenty'",
    "politburo.yml:8:5: unknown key 'brnach' (did you mean 'branch'?)",
  ]);
});

test('after a count error, hosts, depends_on, remove and address() naming that resource are not reported as unknown', async () => {
  const errors = await loadInvalid(`politburo: 1
environments:
  e:
    params: { n: many }
    resources:
      w: { tasks: [ { babushka: x } ], count: '\${params.n}' }
      lb: { tasks: [ { babushka: lb, args: { b: '\${addresses(w)}', a: '\${address(w-1)}' } } ], depends_on: [w] }
    hosts: { w: [10.0.0.1, 10.0.0.2], lb: local }
    remove: [w-2]
`);
  assert.deepEqual(errors, [
    "politburo.yml:6:47: count must be a non-negative integer, got a string ('many') (in environment 'e')",
  ]);
});

test('control characters in file names and keys are shown escaped, one error per line', async () => {
  const errors = await loadInvalid({
    'politburo.yml': 'politburo: 1\ninclude: [\'envs/*.yml\']\nroles:\n  r: { tasks: [], "bad\\u001b[2Jkey": 1 }\n',
    'envs/x\u001b]0;pwned\u0007\nevil.yml': 'roles: [1]\n',
  });
  assert.deepEqual(errors, [
    "envs/x\\u001b]0;pwned\\u0007\\u000aevil.yml:1:8: 'roles': expected a mapping, got a list",
    "politburo.yml:4:19: unknown key 'bad\\u001b[2Jkey'",
  ]);
});

test('a provider script that is not executable is reported by validate', async () => {
  const errors = await loadInvalid({
    'politburo.yml':
      'politburo: 1\nprovider: { exec: { create: create, destroy: destroy.sh } }\nenvironments:\n  e: { resources: { w: { tasks: [ { babushka: x } ] } } }\n',
    create: '#!/bin/sh\n',
    'destroy.sh': '#!/bin/sh\n',
  });
  assert.deepEqual(errors, [
    "politburo.yml:2:29: provider create script 'create' is not executable: make it so (chmod +x, and git update-index --chmod=+x 'create')",
  ]);
});
