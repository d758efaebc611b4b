import type { Command } from 'commander';

// Placeholder until the command is implemented (owned by whoever implements it).
export function registerPlan(program: Command): void {
  program.command('plan').description('(not yet implemented)').action(() => {
    throw new Error('politburo plan is not implemented yet');
  });
}
