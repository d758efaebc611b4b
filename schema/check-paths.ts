/**
 * Checks every path the description names besides its files: `deps`, each environment's `known_hosts`, and the
 * provider scripts (top-level and per environment). Each must be relative, inside the repository after symlinks are
 * resolved, and exist as the right kind of file (docs/language.md, "Files the description names").
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { checkDepsDir } from '../kernel/deps-hash.js';
import type { ValidationError } from '../kernel/types.js';
import { type Model } from './load-files.js';
import { posOf, type Loc } from './yaml-file.js';
import { insidePathMessage, resolveInside, type PathKind } from '../kernel/repository-paths.js';

const DEFAULT_DEPS_DIR = 'babushka-deps';

/** Appends an error for every named path that is outside the repository, missing, or of the wrong kind. */
export async function checkRepositoryPaths(model: Model, errors: ValidationError[]): Promise<void> {
  const root = model.root;
  if (!root || model.files.length === 0) return;
  const check = async (
    value: string,
    loc: Loc,
    what: string,
    kind: PathKind,
    required: boolean,
  ): Promise<string | null> => {
    const r = await resolveInside(root, value);
    if (!r.ok && r.reason === 'missing' && !required) return null;
    if (!r.ok) errors.push({ ...posOf(loc), message: insidePathMessage(`${what} '${value}'`, r) });
    else if (r.kind !== kind)
      errors.push({
        ...posOf(loc),
        message: `${what} '${value}' is not a ${kind === 'file' ? 'regular file' : 'directory'}`,
      });
    else return r.real;
    return null;
  };
  // The default deps directory may be absent (shell tasks only), but when present it is uploaded: it must stay inside.
  const deps = model.deps ?? { value: DEFAULT_DEPS_DIR, loc: { yf: model.files[0], path: [] } };
  const depsReal = await check(deps.value, deps.loc, 'deps directory', 'directory', model.deps !== undefined);
  if (depsReal) {
    await checkDepsDir(depsReal, `'${deps.value}'`).catch((e: Error) =>
      errors.push({ ...posOf(deps.loc), message: e.message }),
    );
  }
  // Read from the raw data, so a path in an otherwise invalid environment or provider is still checked.
  const scripts: Loc[] = [];
  for (const yf of model.files)
    if (isObject(yf.data) && yf.data.provider !== undefined) scripts.push({ yf, path: ['provider'] });
  for (const env of model.environments.values()) {
    const raw = rawAt(env.loc);
    if (!isObject(raw)) continue;
    const sub = (key: string): Loc => ({ yf: env.loc.yf, path: [...env.loc.path, key] });
    if (typeof raw.known_hosts === 'string' && raw.known_hosts)
      await check(raw.known_hosts, sub('known_hosts'), 'known_hosts file', 'file', true);
    if (typeof raw.ssh_config === 'string' && raw.ssh_config)
      await check(raw.ssh_config, sub('ssh_config'), 'ssh_config file', 'file', true);
    if (raw.provider !== undefined) scripts.push(sub('provider'));
  }
  for (const p of scripts) {
    const exec = (rawAt(p) as { exec?: unknown } | undefined)?.exec;
    if (!isObject(exec)) continue;
    for (const script of ['create', 'destroy'] as const) {
      const value = exec[script];
      if (typeof value !== 'string' || !value) continue;
      const loc: Loc = { yf: p.yf, path: [...p.path, 'exec', script] };
      const real = await check(value, loc, `provider ${script} script`, 'file', true);
      if (real && !(await isExecutable(real))) {
        errors.push({
          ...posOf(loc),
          message: `provider ${script} script '${value}' is not executable: make it so (chmod +x, and git update-index --chmod=+x '${value}')`,
        });
      }
    }
  }
}

/** The raw (unvalidated) value written at `loc`. */
function rawAt(loc: Loc): unknown {
  let v: unknown = loc.yf.data;
  for (const k of loc.path) v = isObject(v) ? v[String(k)] : undefined;
  return v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
