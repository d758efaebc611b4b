import type { Command } from 'commander';

// Placeholder until the command is implemented (owned by whoever implements it).
export function registerValidate(program: Command): void {
  program.command('validate').description('(not yet implemented)').action(() => {
    throw new Error('politburo validate is not implemented yet');
  });
}
