/** `politburo validate`: checks the whole description and reports every problem as `FILE:LINE:COLUMN: message`. */
import type { Command } from 'commander';
import { addCommonOptions, EXIT_CHANGES, EXIT_OK, type CommonOptions } from '../common.js';
import type { Description } from '../../kernel/types.js';
import { loadOrReport } from './plan.js';

/** `valid: 3 environments, 17 nodes` (nodes counted over every environment). */
export function validSummary(description: Description): string {
  const envs = description.environments.size;
  let nodes = 0;
  for (const env of description.environments.values()) nodes += env.nodes.length;
  return `valid: ${envs} environment${envs === 1 ? '' : 's'}, ${nodes} node${nodes === 1 ? '' : 's'}`;
}

export function registerValidate(program: Command): void {
  addCommonOptions(program.command('validate'))
    .description('check the description (exit 0 valid, 2 invalid; errors as FILE:LINE:COLUMN: message on stderr)')
    .action(async (opts: CommonOptions) => {
      const description = await loadOrReport(opts);
      if (!description) {
        process.exitCode = EXIT_CHANGES;
        return;
      }
      process.stdout.write(`${validSummary(description)}\n`);
      process.exitCode = EXIT_OK;
    });
}
