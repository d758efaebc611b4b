/** Locates the SQL migrations shipped with Politburo, from source (tsx), from dist/ and from the published package. */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Migration files are SQL only, so they need no compilation and load the same way from source, dist/ and npm. */
export const MIGRATION_FILE = /^\d+_[A-Za-z0-9_-]+\.sql$/;

/** The directory holding the `NNN_name.sql` migrations (the package's top-level `migrations/`). */
export function migrationsDir(): string {
  // store/ -> ../migrations from source; dist/store/ -> ../../migrations from the build.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'migrations');
    if (existsSync(candidate) && readdirSync(candidate).some((f) => MIGRATION_FILE.test(f))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(`politburo: cannot find the migrations directory above ${fileURLToPath(import.meta.url)}`);
}

/** Names of the migrations (file names without `.sql`), in the order they apply. */
export function migrationNames(dir = migrationsDir()): string[] {
  return readdirSync(dir)
    .filter((f) => MIGRATION_FILE.test(f))
    .map((f) => f.slice(0, -'.sql'.length))
    .sort((a, b) => parseInt(a, 10) - parseInt(b, 10) || a.localeCompare(b));
}
