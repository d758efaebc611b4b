/** Writing validation errors the way every command reports them: `FILE:LINE:COLUMN: message`, one per line. */
import { formatValidationError } from '../../schema/load-description.js';
import type { ValidationError } from '../../kernel/types.js';

/** All the errors, one per line, then a count. */
export function renderValidationErrors(errors: ValidationError[]): string {
  const lines = errors.map(formatValidationError);
  lines.push(`${errors.length} error${errors.length === 1 ? '' : 's'}: the description is invalid`);
  return `${lines.join('\n')}\n`;
}
