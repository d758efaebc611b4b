/** The `politburo` command line: one file per command under cli/commands/, wired here. */
import { Command, CommanderError } from 'commander';
import { registerValidate } from './commands/validate.js';
import { registerPlan } from './commands/plan.js';
import { registerGraph } from './commands/graph.js';
import { registerStatus } from './commands/status.js';
import { registerMigrate } from './commands/migrate.js';
import { registerApply } from './commands/apply.js';
import { registerDrift } from './commands/drift.js';
import { registerServe } from './commands/serve.js';
import { EXIT_USAGE } from './common.js';

/** Builds the program; exported so tests can run commands in-process. */
export function buildProgram(): Command {
  const program = new Command('politburo')
    .description('git-ops for whole environments: plan, apply and watch Babushka-configured hosts')
    .version('0.1.0')
    .showHelpAfterError(true)
    .exitOverride();
  for (const register of [registerValidate, registerPlan, registerApply, registerDrift, registerStatus, registerGraph, registerServe, registerMigrate]) {
    register(program);
  }
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return EXIT_USAGE;
    }
    process.stderr.write(`politburo: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
