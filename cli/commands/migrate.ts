/** `politburo migrate`: brings the database schema up to date and says what it applied. */
import type { Command } from 'commander';
import { addStoreOption, readCliEnv, type StoreOptions } from '../common.js';
import { openStore } from '../../store/open-store.js';
import { migrationNames } from '../../store/migrations-dir.js';

/** Progress (e.g. starting the embedded PostgreSQL) goes to stderr, and only for a person watching a terminal. */
export function stderrLog(msg: string): void {
  if (process.stderr.isTTY) process.stderr.write(`politburo: ${msg}\n`);
}

/** Adds `politburo migrate`. */
export function registerMigrate(program: Command): void {
  addStoreOption(program.command('migrate'))
    .description('bring the database schema up to date (--database-url, DATABASE_URL or the embedded PostgreSQL)')
    .action(async (opts: StoreOptions) => {
      const opened = await openStore({ databaseUrl: opts.databaseUrl ?? readCliEnv().databaseUrl, log: stderrLog });
      try {
        if (opened.applied.length === 0) {
          process.stdout.write(`Schema is up to date (${migrationNames().length} migrations applied).\n`);
        } else {
          process.stdout.write(
            `Applied ${opened.applied.length} migration${opened.applied.length === 1 ? '' : 's'}:\n`,
          );
          for (const name of opened.applied) process.stdout.write(`  ${name}\n`);
        }
      } finally {
        await opened.close();
      }
    });
}
