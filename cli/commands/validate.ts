/**
 * `politburo validate [--json]`: checks the whole description and reports every problem as `FILE:LINE:COLUMN: message`.
 */
import type { Command } from 'commander';
import {
  addDescriptionOptions,
  addJsonOption,
  EXIT_CHANGES,
  EXIT_OK,
  printJson,
  readCliEnv,
  validationErrorJson,
  type DescriptionOptions,
  type JsonOption,
} from '../common.js';
import type { Description } from '../../kernel/types.js';
import { loadDescription } from '../../schema/load-description.js';
import { renderValidationErrors } from '../render/validation-errors.js';

/** Environments and nodes of a description (nodes counted over every environment). */
function counts(description: Description): { environments: number; nodes: number } {
  let nodes = 0;
  for (const env of description.environments.values()) nodes += env.nodes.length;
  return { environments: description.environments.size, nodes };
}

/** `valid: 3 environments, 17 nodes`. */
function validSummary(description: Description): string {
  const { environments: envs, nodes } = counts(description);
  return `valid: ${envs} environment${envs === 1 ? '' : 's'}, ${nodes} node${nodes === 1 ? '' : 's'}`;
}

/** Runs the command; resolves to the exit code (0 valid, 2 invalid). */
async function runValidate(opts: DescriptionOptions & JsonOption): Promise<number> {
  const result = await loadDescription({ dir: opts.dir, file: opts.file ?? readCliEnv().file });
  if (!result.ok) {
    process.stderr.write(renderValidationErrors(result.errors));
    if (opts.json) printJson({ valid: false, errors: result.errors.map(validationErrorJson) });
    return EXIT_CHANGES;
  }
  const description = result.description;
  if (opts.json) {
    printJson({ valid: true, environments: [...description.environments.keys()], nodes: counts(description).nodes });
  } else process.stdout.write(`${validSummary(description)}\n`);
  return EXIT_OK;
}

export function registerValidate(program: Command): void {
  addJsonOption(addDescriptionOptions(program.command('validate')))
    .description('check the description (exit 0 valid, 2 invalid; errors as FILE:LINE:COLUMN: message on stderr)')
    .action(async (opts: DescriptionOptions & JsonOption) => {
      process.exitCode = await runValidate(opts);
    });
}
