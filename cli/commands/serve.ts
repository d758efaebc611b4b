import type { Command } from 'commander';

// Placeholder until the command is implemented (owned by whoever implements it).
export function registerServe(program: Command): void {
  program.command('serve').description('(not yet implemented)').action(() => {
    throw new Error('politburo serve is not implemented yet');
  });
}
