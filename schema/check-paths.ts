/**
 * Checks every path the description names besides its files: `deps`, each environment's `known_hosts`, and the
 * provider scripts (top-level and per environment). Each must be relative, inside the repository after symlinks are
 * resolved, and exist as the right kind of file (docs/language.md, "Files the description names").
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { checkDepsDir } from '../reconciler/tasks/deps-hash.js';
import type { ValidationError } from '../reconciler/types.js';
import type { RawProvider } from './language.js';
import { posOf, type Loc, type Model } from './load-files.js';
import { insidePathMessage, resolveInside, type PathKind } from './repository-paths.js';

export const DEFAULT_DEPS_DIR = 'babushka-deps';

/** Appends an error for every named path that is outside the repository, missing, or of the wrong kind. */
export async function checkRepositoryPaths(model: Model, errors: ValidationError[]): Promise<void> {
  const root = model.root;
  if (!root || model.files.length === 0) return;
  const check = async (value: string, loc: Loc, what: string, kind: PathKind, required: boolean): Promise<string | null> => {
    const r = await resolveInside(root, value);
    if (!r.ok && r.reason === 'missing' && !required) return null;
    if (!r.ok) errors.push({ ...posOf(loc), message: insidePathMessage(`${what} '${value}'`, r) });
    else if (r.kind !== kind) errors.push({ ...posOf(loc), message: `${what} '${value}' is not a ${kind === 'file' ? 'regular file' : 'directory'}` });
    else return r.real;
    return null;
  };
  // The default deps directory may be absent (shell tasks only), but when present it is uploaded: it must stay inside.
  const deps = model.deps ?? { value: DEFAULT_DEPS_DIR, loc: { yf: model.files[0], path: [] } };
  const depsReal = await check(deps.value, deps.loc, 'deps directory', 'directory', model.deps !== undefined);
  if (depsReal) {
    await checkDepsDir(depsReal, `'${deps.value}'`).catch((e: Error) => errors.push({ ...posOf(deps.loc), message: e.message }));
  }
  const providers: { value: RawProvider; loc: Loc }[] = model.provider ? [model.provider] : [];
  for (const [name, env] of model.environments) {
    if (model.broken.has(`environments.${name}`)) continue;
    const sub = (key: string): Loc => ({ yf: env.loc.yf, path: [...env.loc.path, key] });
    if (env.value.known_hosts !== undefined) await check(env.value.known_hosts, sub('known_hosts'), 'known_hosts file', 'file', true);
    if (env.value.provider) providers.push({ value: env.value.provider, loc: sub('provider') });
  }
  for (const p of providers) {
    for (const script of ['create', 'destroy'] as const) {
      const loc: Loc = { yf: p.loc.yf, path: [...p.loc.path, 'exec', script] };
      const real = await check(p.value.exec[script], loc, `provider ${script} script`, 'file', true);
      if (real && !(await isExecutable(real))) {
        const value = p.value.exec[script];
        errors.push({ ...posOf(loc), message: `provider ${script} script '${value}' is not executable: make it so (chmod +x, and git update-index --chmod=+x '${value}')` });
      }
    }
  }
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
