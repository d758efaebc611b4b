import type { Command } from 'commander';

// Placeholder until the command is implemented (owned by whoever implements it).
export function registerGraph(program: Command): void {
  program.command('graph').description('(not yet implemented)').action(() => {
    throw new Error('politburo graph is not implemented yet');
  });
}
