import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { quoteShell } from '../../../kernel/quote-shell.js';

const sh = (script: string) => execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' });

test('awkward values arrive verbatim through /bin/sh', () => {
  const values = [
    "it's",
    '"double"',
    'a b  c',
    '$(touch /tmp/pwned)',
    '`id`',
    'line1\nline2',
    '\\',
    '$HOME',
    '*',
    '',
    '-n',
    "'",
  ];
  for (const v of values) assert.equal(sh(`printf %s ${quoteShell(v)}`), v);
});

test('any string without NUL arrives verbatim (property)', () => {
  fc.assert(
    fc.property(
      fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !s.includes('\0')),
      (v) => {
        assert.equal(sh(`printf %s ${quoteShell(v)}`), v);
      },
    ),
    { numRuns: 60 },
  );
});

test('plain words stay unquoted', () => {
  assert.equal(quoteShell('ref=v1.4.2'), 'ref=v1.4.2');
  assert.equal(quoteShell('a b'), "'a b'");
});
