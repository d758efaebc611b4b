import type { Command } from 'commander';

// Placeholder until the command is implemented (owned by whoever implements it).
export function registerApply(program: Command): void {
  program.command('apply').description('(not yet implemented)').action(() => {
    throw new Error('politburo apply is not implemented yet');
  });
}
