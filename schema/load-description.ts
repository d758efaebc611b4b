/**
 * Entry point of the environment language: reads `politburo.yml` and its includes, validates everything and
 * resolves every environment, returning the whole Description or every problem found (never throwing).
 */
import path from 'node:path';
import type { Description, LoadResult, ResolvedEnvironment, ValidationError } from '../kernel/types.js';
import { checkRepositoryPaths } from './check-paths.js';
import { checkTemplates } from './check-templates.js';
import { loadFiles, type Model } from './load-files.js';
import { checkRoles, TaskExpander } from './node-tasks.js';
import { resolveEnvironment, type FoundCycle } from './resolve-environment.js';
import { walkDefs, buildTree } from './resource-tree.js';

export const DEFAULT_FILE = 'politburo.yml';

/** Loads, validates and resolves the description in `dir` (main file `file`, default politburo.yml). */
export async function loadDescription(opts: { dir: string; file?: string }): Promise<LoadResult> {
  const file = opts.file ?? DEFAULT_FILE;
  try {
    return await load(opts.dir, file);
  } catch (e) {
    const rel = path.relative(path.resolve(opts.dir), path.resolve(opts.dir, file)).split(path.sep).join('/');
    return {
      ok: false,
      errors: sortErrors([
        {
          file: rel,
          line: 1,
          column: 1,
          message: `internal error while loading the description: ${(e as Error)?.message ?? String(e)}`,
        },
      ]),
    };
  }
}

async function load(dir: string, file: string): Promise<LoadResult> {
  const errors: ValidationError[] = [];
  const model = await loadFiles(dir, file, errors);
  await checkRepositoryPaths(model, errors);
  checkRoles(model, errors);
  checkTemplates(model, errors);
  const tasks = new TaskExpander(model, errors);
  checkBlueprints(model, tasks, errors);
  const environments = new Map<string, ResolvedEnvironment>();
  const cycles: FoundCycle[] = [];
  const shared = { instances: 0 };
  for (const name of model.environments.keys()) {
    const env = resolveEnvironment(model, name, tasks, errors, cycles, shared);
    if (env) environments.set(name, env);
  }
  errors.push(...cycleErrors(cycles));
  hintUnreadable(model, errors);
  if (errors.length > 0) return { ok: false, errors: sortErrors(errors) };
  const description: Description = {
    root: path.resolve(dir),
    files: model.files.map((f) => f.file),
    environments,
    depsDir: model.deps?.value ?? 'babushka-deps',
  };
  return { ok: true, description };
}

/** Blueprints are checked on their own too, so that a mistake in one no environment uses yet is still reported. */
function checkBlueprints(model: Model, tasks: TaskExpander, errors: ValidationError[]): void {
  for (const [name, bp] of model.blueprints) {
    if (model.broken.has(`blueprints.${name}`)) continue;
    const tree = buildTree(bp.value.resources, { yf: bp.loc.yf, path: [...bp.loc.path, 'resources'] }, '', errors);
    walkDefs(tree, (d) => {
      if (!d.children) tasks.tasksOf(d);
    });
  }
}

/** A name may be unknown only because the file defining it could not be read: say so next to the error. */
function hintUnreadable(model: Model, errors: ValidationError[]): void {
  const unreadable = model.files.filter((f) => f.data === undefined).map((f) => f.file);
  if (unreadable.length === 0) return;
  const hint = ` (unless it is defined in ${unreadable.join(', ')}, which could not be read)`;
  for (const e of errors) if (/^unknown (role|blueprint|environment) /.test(e.message)) e.message += hint;
}

/** One error per cycle (and position), naming every environment it occurs in. */
function cycleErrors(cycles: FoundCycle[]): ValidationError[] {
  const byKey = new Map<string, { c: FoundCycle; envs: string[] }>();
  for (const c of cycles) {
    const key = `${c.source.file}:${c.source.line}:${c.source.column}:${c.cycle.join(' -> ')}`;
    const hit = byKey.get(key);
    if (hit) hit.envs.push(c.env);
    else byKey.set(key, { c, envs: [c.env] });
  }
  return [...byKey.values()].map(({ c, envs }) => ({
    ...c.source,
    message: `dependency cycle: ${c.cycle.join(' -> ')} (in environment${envs.length > 1 ? 's' : ''} ${envs.map((e) => `'${e}'`).join(', ')})`,
  }));
}

/** `FILE:LINE:COLUMN: message`. */
export function formatValidationError(e: ValidationError): string {
  return `${e.file}:${e.line}:${e.column}: ${e.message}`;
}

/**
 * Control characters in a file name or a quoted key would reach terminals, logs and GitHub annotations as they are
 * (a newline breaks the one-error-per-line format, an escape sequence rewrites the screen): they are shown escaped.
 */
function escapeControl(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Errors sorted by file, line and column, duplicates removed, control characters escaped. */
export function sortErrors(errors: ValidationError[]): ValidationError[] {
  const seen = new Set<string>();
  const out: ValidationError[] = [];
  for (const raw of errors) {
    const e = {
      file: escapeControl(raw.file),
      line: raw.line,
      column: raw.column,
      message: escapeControl(raw.message),
    };
    const key = formatValidationError(e);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(e);
  }
  return out.sort((a, b) =>
    a.file < b.file
      ? -1
      : a.file > b.file
        ? 1
        : a.line - b.line || a.column - b.column || (a.message < b.message ? -1 : a.message > b.message ? 1 : 0),
  );
}
