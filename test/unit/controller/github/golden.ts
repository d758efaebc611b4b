/** Golden files under test/fixtures/github/: compared byte for byte; `UPDATE_GOLDEN=1` rewrites them. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const goldenDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../fixtures/github');

/** Asserts `actual` equals the golden file `name` (JSON-encodes non-strings). */
export function assertGolden(name: string, actual: unknown): void {
  const text = typeof actual === 'string' ? actual : `${JSON.stringify(actual, null, 2)}\n`;
  const file = path.join(goldenDir, name);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
    if (process.env.UPDATE_GOLDEN !== '1')
      assert.fail(`golden file ${file} is missing: run with UPDATE_GOLDEN=1 to create it`);
    mkdirSync(goldenDir, { recursive: true });
    writeFileSync(file, text);
    return;
  }
  assert.equal(
    text,
    readFileSync(file, 'utf8'),
    `output differs from ${file} (UPDATE_GOLDEN=1 rewrites it after review)`,
  );
}
