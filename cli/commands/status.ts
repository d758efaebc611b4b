import type { Command } from 'commander';

// Placeholder until the command is implemented (owned by whoever implements it).
export function registerStatus(program: Command): void {
  program.command('status').description('(not yet implemented)').action(() => {
    throw new Error('politburo status is not implemented yet');
  });
}
