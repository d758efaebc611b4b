// Golden tests: every directory under test/fixtures/language/invalid/ is a description with exactly the errors in
// its expected.txt (formatted FILE:LINE:COLUMN: message, sorted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatValidationError, loadDescription } from '../../../schema/load-description.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/language/invalid');

for (const rule of readdirSync(root).sort()) {
  test(`invalid/${rule}`, async () => {
    const dir = path.join(root, rule);
    const expected = readFileSync(path.join(dir, 'expected.txt'), 'utf8').trim().split('\n');
    const result = await loadDescription({ dir });
    assert.equal(result.ok, false, 'the description should be invalid');
    if (result.ok) return;
    assert.deepEqual(result.errors.map(formatValidationError), expected);
  });
}
