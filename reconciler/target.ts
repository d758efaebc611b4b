/**
 * Apply targets: `ENV[:PATH][#STATE]` (docs/cli.md), e.g. `production:database/master#ready`, and which nodes a path
 * names.
 */
import { didYouMean } from '../kernel/did-you-mean.js';
import { PolitburoError } from '../kernel/types.js';

export type TargetState = 'provisioned' | 'ready' | 'terminated';

export interface Target {
  environment: string;
  /** A node, group or definition path; absent: the whole environment. */
  path?: string;
  state: TargetState;
}

const STATES: readonly TargetState[] = ['provisioned', 'ready', 'terminated'];
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Parses `ENV[:PATH][#STATE]`; throws a PolitburoError (InvalidSpec) saying what is wrong. */
export function parseTarget(text: string): Target {
  const m = /^([^:#]*)(?::([^#]*))?(?:#(.*))?$/.exec(text.trim());
  const usage = `expected ENV[:PATH][#STATE] (STATE one of ${STATES.join(', ')}), e.g. 'production:database/master#ready'`;
  if (!m) throw new PolitburoError('InvalidSpec', `bad target '${text}': ${usage}`);
  const [, environment, path, state] = m;
  if (!environment || !NAME.test(environment))
    throw new PolitburoError('InvalidSpec', `bad target '${text}': missing or invalid environment name; ${usage}`);
  if (path !== undefined) {
    const segments = path.replace(/\/+$/, '').split('/');
    if (!path || segments.some((s) => !NAME.test(s)))
      throw new PolitburoError('InvalidSpec', `bad target '${text}': invalid path '${path}'; ${usage}`);
  }
  if (state !== undefined && !STATES.includes(state as TargetState)) {
    throw new PolitburoError('InvalidSpec', `bad target '${text}': unknown state '${state}'; ${usage}`);
  }
  return { environment, path: path?.replace(/\/+$/, ''), state: (state as TargetState | undefined) ?? 'ready' };
}

/**
 * The node paths (of `paths`) a target path names: the node itself, everything under a group, and every instance of a
 * definition (`web` names `web-1`, `web-2`; `region/web` the `web` instances of every region).
 */
export function pathsUnder(target: string, paths: string[]): string[] {
  const exact = paths.filter((p) => p === target || p.startsWith(`${target}/`));
  if (exact.length) return exact;
  const want = target.split('/');
  return paths.filter((p) => {
    const segs = p.split('/');
    if (segs.length < want.length) return false;
    return want.every((w, i) => segs[i] === w || (segs[i].startsWith(`${w}-`) && segs[i].length > w.length + 1));
  });
}

/**
 * Every name a target path can use for these node paths: each node, each group above it, and each definition of
 * instances (`web` for `web-1`).
 */
export function targetNames(paths: string[]): string[] {
  const names = new Set<string>();
  for (const p of paths) {
    const segs = p.split('/');
    segs.forEach((_, i) => names.add(segs.slice(0, i + 1).join('/')));
    const definition = segs.map((s) => s.replace(/-\d+$/, '')).join('/');
    if (definition !== p) names.add(definition);
  }
  return [...names];
}

/**
 * Throws InvalidSpec, with a "did you mean", when the target has a path that names none of the environment's `paths`.
 */
export function checkTargetPath(target: Target, paths: string[]): void {
  if (!target.path || pathsUnder(target.path, paths).length) return;
  throw new PolitburoError(
    'InvalidSpec',
    `target path '${target.path}' names no node of environment '${target.environment}'${didYouMean(target.path, targetNames(paths))}`,
  );
}
