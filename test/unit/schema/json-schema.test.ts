// The published JSON Schema is generated from the zod schemas and must not go stale; it accepts the example.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { jsonSchemaText, SCHEMA_ID } from '../../../schema/json-schema.js';
import { packageRoot } from '../../../schema/write-json-schema.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = packageRoot(here);

test('schema/politburo.schema.json is what the generator produces now (run npm run build to refresh)', () => {
  assert.equal(readFileSync(path.join(root, 'schema/politburo.schema.json'), 'utf8'), jsonSchemaText());
});

test('the schema has an id, a title and descriptions for editor completion', () => {
  const schema = JSON.parse(jsonSchemaText());
  assert.equal(schema.$id, SCHEMA_ID);
  assert.equal(schema.title, 'Politburo environment description');
  assert.match(schema.properties.roles.description, /tasks/);
  assert.ok(schema.properties.environments.additionalProperties.properties.hosts.description);
});

test('the schema accepts the example of docs/language.md and rejects unknown keys', () => {
  const ajv = new Ajv({ strict: false, allErrors: true });
  const validate = ajv.compile(JSON.parse(jsonSchemaText()));
  const lamp = parse(readFileSync(path.join(root, 'test/fixtures/language/valid/lamp/politburo.yml'), 'utf8'));
  assert.equal(validate(lamp), true, JSON.stringify(validate.errors));
  assert.equal(validate({ ...lamp, rols: {} }), false);
  assert.equal(validate({ ...lamp, politburo: 2 }), false);
});

test('packageRoot finds the directory holding package.json', () => {
  assert.equal(packageRoot(path.join(root, 'schema')), root);
});
