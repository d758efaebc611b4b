import type { Command } from 'commander';

// Placeholder until the command is implemented (owned by whoever implements it).
export function registerDrift(program: Command): void {
  program.command('drift').description('(not yet implemented)').action(() => {
    throw new Error('politburo drift is not implemented yet');
  });
}
