/**
 * Which environments a pull request changes: compare the resolved environments at base and head (nodes and their spec
 * hashes, known_hosts, deps directory, provider), plus changed files under an environment's deps or known_hosts.
 * Pure given the two descriptions and the changed paths.
 */
import type { Description, ResolvedEnvironment } from '../../kernel/types.js';

/** Names of the environments whose desired state differs between base and head (head's order, then removed ones). */
export function affectedEnvironments(head: Description, base: Description | null, changedFiles: string[]): string[] {
  const names = [
    ...head.environments.keys(),
    ...[...(base?.environments.keys() ?? [])].filter((n) => !head.environments.has(n)),
  ];
  return names.filter((name) => {
    const h = head.environments.get(name);
    const b = base?.environments.get(name);
    if (!h || !b) return true;
    return !sameEnvironment(h, b) || touches(h, changedFiles) || touches(b, changedFiles);
  });
}

/** True when any changed file could change what a pull request plans (a quick test before loading base). */
export function touchesDescription(head: Description, changedFiles: string[]): boolean {
  const files = new Set(head.files);
  return (
    changedFiles.some((f) => files.has(f) || f.endsWith('.yml') || f.endsWith('.yaml')) ||
    [...head.environments.values()].some((e) => touches(e, changedFiles))
  );
}

function sameEnvironment(a: ResolvedEnvironment, b: ResolvedEnvironment): boolean {
  if (a.nodes.length !== b.nodes.length || a.knownHosts !== b.knownHosts || a.depsDir !== b.depsDir) return false;
  if (
    JSON.stringify(a.provider ? [a.provider.create, a.provider.destroy] : null) !==
    JSON.stringify(b.provider ? [b.provider.create, b.provider.destroy] : null)
  )
    return false;
  const hashes = new Map(b.nodes.map((n) => [n.path, n.specHash]));
  return a.nodes.every((n) => hashes.get(n.path) === n.specHash);
}

function touches(env: ResolvedEnvironment, changedFiles: string[]): boolean {
  const deps = env.depsDir.replace(/\/+$/, '') + '/';
  const exact = new Set(
    [env.knownHosts, env.provider?.create, env.provider?.destroy]
      .filter((f): f is string => !!f)
      .map((f) => f.replace(/^\.\//, '')),
  );
  return changedFiles.some((f) => f.startsWith(deps) || exact.has(f));
}
