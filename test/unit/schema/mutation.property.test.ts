// Property: any mutation of a valid description yields either a valid description or validation errors with
// positions inside the file; loading never throws and never reports an internal error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { isMap, isPair, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { loadDescription } from '../../../schema/load-description.js';

const valid = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/language/valid');
const lamp = readFileSync(path.join(valid, 'lamp/politburo.yml'), 'utf8');
// The second seed has every feature; its included file is copied along and left alone.
const features = readFileSync(path.join(valid, 'features/politburo.yml'), 'utf8');
const featuresRoles = readFileSync(path.join(valid, 'features/roles/monitoring.yml'), 'utf8');

/** Every map entry of the document, as paths, so mutations can address them by number. */
function entries(doc: ReturnType<typeof parseDocument>): (string | number)[][] {
  const out: (string | number)[][] = [];
  const walk = (node: unknown, p: (string | number)[]) => {
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair) || !isScalar(pair.key)) continue;
        const k = String(pair.key.value);
        out.push([...p, k]);
        walk(pair.value as Node, [...p, k]);
      }
    } else if (isSeq(node)) node.items.forEach((item, i) => walk(item, [...p, i]));
  };
  walk(doc.contents, []);
  return out;
}

const paths = entries(parseDocument(features));

type Mutation =
  | { kind: 'delete'; at: number }
  | { kind: 'replace'; at: number; value: unknown }
  | { kind: 'rename'; at: number; name: string }
  | { kind: 'insert'; offset: number; text: string }
  | { kind: 'line'; line: number; text: string }
  | { kind: 'duplicate'; line: number }
  | { kind: 'truncate'; length: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(paths.length - 1) }),
  fc.record({
    kind: fc.constant('replace' as const),
    at: fc.nat(paths.length - 1),
    value: fc.jsonValue({ maxDepth: 3 }),
  }),
  fc.record({
    kind: fc.constant('rename' as const),
    at: fc.nat(paths.length - 1),
    name: fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom('roles', 'count', 'hosts', 'resources', 'depends_on', 'extends', 'for_each', '<<'),
    ),
  }),
  fc.record({
    kind: fc.constant('insert' as const),
    offset: fc.nat(Math.max(lamp.length, features.length)),
    text: fc.oneof(
      fc.string({ maxLength: 8 }),
      fc.constantFrom(
        '${',
        '}',
        '&a ',
        '*a',
        ':',
        '- ',
        '\n  ',
        '#',
        '"',
        "'",
        '${address(web)}',
        '${params.x}',
        '[',
        '{',
        '!!binary ',
      ),
    ),
  }),
  fc.record({ kind: fc.constant('line' as const), line: fc.nat(120), text: fc.string({ maxLength: 30 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), line: fc.nat(120) }),
  fc.record({ kind: fc.constant('truncate' as const), length: fc.nat(Math.max(lamp.length, features.length)) }),
);

function apply(text: string, m: Mutation): string {
  const lines = text.split('\n');
  switch (m.kind) {
    case 'insert':
      return text.slice(0, m.offset) + m.text + text.slice(m.offset);
    case 'line':
      lines.splice(m.line % (lines.length + 1), 0, m.text);
      return lines.join('\n');
    case 'duplicate': {
      const i = m.line % lines.length;
      lines.splice(i, 0, lines[i]);
      return lines.join('\n');
    }
    case 'truncate':
      return text.slice(0, m.length);
    default: {
      const doc = parseDocument(text);
      const all = entries(doc);
      if (all.length === 0) return text;
      const p = all[m.at % all.length];
      if (m.kind === 'delete') doc.deleteIn(p);
      else if (m.kind === 'replace') doc.setIn(p, doc.createNode(m.value));
      else {
        const value = doc.getIn(p, true);
        doc.deleteIn(p);
        doc.setIn([...p.slice(0, -1), m.name], value);
      }
      return doc.toString();
    }
  }
}

test('random mutations of a valid file never throw and always point inside the file', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'politburo-prop-'));
  const file = path.join(dir, 'politburo.yml');
  mkdirSync(path.join(dir, 'roles'));
  writeFileSync(path.join(dir, 'roles/monitoring.yml'), featuresRoles);
  let validCount = 0;
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(lamp, features),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        async (seed, ms) => {
          let text = seed;
          for (const m of ms) {
            try {
              text = apply(text, m);
            } catch {
              // a mutation the yaml library refuses to make (e.g. through an alias): keep the text as it is
            }
          }
          writeFileSync(file, text);
          const r = await loadDescription({ dir });
          if (r.ok) {
            validCount++;
            return;
          }
          const lines = text.split('\n');
          assert.ok(r.errors.length > 0);
          for (const e of r.errors) {
            if (e.file !== 'politburo.yml') {
              assert.equal(e.file, 'roles/monitoring.yml', e.message);
              continue;
            }
            assert.doesNotMatch(e.message, /internal error/, `${e.message}\n--- input ---\n${text}`);
            assert.ok(
              e.line >= 1 && e.line <= lines.length,
              `line ${e.line} outside the file (${lines.length} lines): ${e.message}`,
            );
            assert.ok(
              e.column >= 1 && e.column <= (lines[e.line - 1]?.length ?? 0) + 1,
              `column ${e.column} outside line ${e.line}: ${e.message}`,
            );
          }
        },
      ),
      { numRuns: 2000 },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(validCount > 0, 'some mutations should leave the description valid');
});
