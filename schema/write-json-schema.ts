/**
 * Writes schema/politburo.schema.json (run by `npm run build` as `node dist/schema/write-json-schema.js`).
 * The output goes to the package root found upward from this script, so it works from source and from dist/.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonSchemaText } from './json-schema.js';

/** The nearest directory at or above `from` that holds a package.json. */
export function packageRoot(from: string): string {
  let dir = from;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
}

/** Writes the schema file and returns its path. */
function writeJsonSchema(root = packageRoot(path.dirname(fileURLToPath(import.meta.url)))): string {
  const out = path.join(root, 'schema', 'politburo.schema.json');
  writeFileSync(out, jsonSchemaText());
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(`wrote ${path.relative(process.cwd(), writeJsonSchema())}`);
}
