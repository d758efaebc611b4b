/** The published JSON Schema of politburo.yml, generated from the same zod schemas that validate it. */
import { z } from 'zod';
import { PolitburoFile } from './language.js';

export const SCHEMA_ID = 'https://politburo.dev/schema/politburo.schema.json';

/**
 * Builds the JSON Schema document (draft-07, the draft every editor supports) for editors such as yaml-language-server.
 */
function buildJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(PolitburoFile, { target: 'draft-7', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    $id: SCHEMA_ID,
    title: 'Politburo environment description',
    ...rest,
  };
}

/** The schema file's text: stable, 2-space indented, with a final newline. */
export function jsonSchemaText(): string {
  return `${JSON.stringify(buildJsonSchema(), null, 2)}\n`;
}
