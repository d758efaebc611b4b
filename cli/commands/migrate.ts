import type { Command } from 'commander';

// Placeholder until the command is implemented (owned by whoever implements it).
export function registerMigrate(program: Command): void {
  program.command('migrate').description('(not yet implemented)').action(() => {
    throw new Error('politburo migrate is not implemented yet');
  });
}
