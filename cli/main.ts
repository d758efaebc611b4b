/** The `politburo` command line: one file per command under cli/commands/, wired here. */
import { Command, CommanderError } from 'commander';
import { CliExit, EXIT_USAGE, reportError, resetJsonPrinted } from './common.js';

type Register = (program: Command) => void;

/**
 * Each command's module, loaded on demand: a command imports only what it needs (the plan benchmark showed eager
 * loading of every command — database, SSH, HTTP server — cost about 0.3 s of start-up).
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  validate: async () => (await import('./commands/validate.js')).registerValidate,
  plan: async () => (await import('./commands/plan.js')).registerPlan,
  apply: async () => (await import('./commands/apply.js')).registerApply,
  drift: async () => (await import('./commands/drift.js')).registerDrift,
  status: async () => (await import('./commands/status.js')).registerStatus,
  graph: async () => (await import('./commands/graph.js')).registerGraph,
  serve: async () => (await import('./commands/serve.js')).registerServe,
  migrate: async () => (await import('./commands/migrate.js')).registerMigrate,
  connections: async () => (await import('./commands/connections.js')).registerConnections,
};

/**
 * Builds the program with the named commands (all of them by default); exported so tests can run commands in-process.
 */
async function buildProgram(only?: string[]): Promise<Command> {
  const program = new Command('politburo')
    .description('git-ops for whole environments: plan, apply and watch Babushka-configured hosts')
    .version('0.1.0')
    .showHelpAfterError(true)
    .exitOverride();
  const names = only?.length ? only : Object.keys(COMMANDS);
  for (const register of await Promise.all(names.map((n) => COMMANDS[n]()))) register(program);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

/**
 * Runs the CLI; resolves to the process exit code. Every problem ends here: `politburo: message` on stderr and, when
 * --json was given, the `{"error": …}` document on stdout unless the command printed its own (docs/cli.md).
 */
export async function main(argv: string[]): Promise<number> {
  resetJsonPrinted();
  const json = argv.includes('--json');
  // A known command as the first word: load only that one. Anything else (help, typos) sees every command.
  const first = argv[0];
  const program = await buildProgram(first && first in COMMANDS ? [first] : undefined);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
        return 0;
      // commander has printed the message and the help on stderr already.
      const message = err.message.replace(/^error: /, '');
      return reportError(new CliExit(EXIT_USAGE, message, 'usage', {}, true), json);
    }
    return reportError(err, json);
  }
}
