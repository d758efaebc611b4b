/**
 * Follows an environment's `extends` chain down to its blueprint and merges what is inherited: params (child wins),
 * defaults, provider, known_hosts, drift, branch, apply, suspend, apply_from_pull_request, then every `override` and `remove` from the root of the chain to the
 * environment itself. `hosts` is never inherited.
 */
import type { ValidationError } from '../kernel/types.js';
import { didYouMean, unknownEnvironmentMessage } from '../kernel/did-you-mean.js';
import type { RawDefaults, RawEnvironment, RawProvider } from './language.js';
import { type Model } from './load-files.js';
import { keyPosOf, posOf, type Loc, type Located } from './yaml-file.js';
import { applyOverride, buildTree, type DefNode } from './resource-tree.js';

export interface EnvironmentChain {
  name: string;
  loc: Loc;
  params: Record<string, unknown>;
  tree: Map<string, DefNode>;
  /** Removes of the chain; `inherited` ones may name nothing in this environment (e.g. after its params changed). */
  removes: (Located<string> & { inherited: boolean })[];
  defaults: RawDefaults[];
  provider?: Located<RawProvider>;
  knownHosts?: string;
  sshConfig?: string;
  /** The environment's jump hosts (`jump`), outermost first. */
  jump?: string[];
  drift: { schedule?: string; heal?: boolean };
  branch?: string;
  apply?: 'auto' | 'manual';
  suspend?: boolean;
  applyFromPullRequest?: boolean;
  hosts?: Located<NonNullable<RawEnvironment['hosts']>>;
}

/** Resolves the chain of `name`; null when it cannot be resolved (errors reported, or a broken definition). */
export function resolveChain(model: Model, name: string, errors: ValidationError[]): EnvironmentChain | null {
  const chain: Located<RawEnvironment>[] = [];
  const seen: string[] = [];
  let current = name;
  for (;;) {
    if (model.broken.has(`environments.${current}`)) return null;
    const env = model.environments.get(current)!;
    if (seen.includes(current)) {
      const members = seen.slice(seen.indexOf(current));
      const cycle = [...members, current].join(' -> ');
      // Reported once, by the first member in name order.
      if (seen[0] === current && [...members].sort()[0] === current)
        errors.push({ ...posOf(env.loc, 'extends'), message: `environments extend each other in a cycle: ${cycle}` });
      return null;
    }
    seen.push(current);
    chain.unshift(env);
    const raw = env.value;
    if (raw.blueprint !== undefined && raw.extends !== undefined) {
      errors.push({
        ...keyPosOf(env.loc, 'extends'),
        message: `environment '${current}' has both blueprint and extends: use one`,
      });
      return null;
    }
    if (raw.resources !== undefined && (raw.blueprint !== undefined || raw.extends !== undefined)) {
      errors.push({
        ...keyPosOf(env.loc, 'resources'),
        message: `environment '${current}' has resources and ${raw.blueprint !== undefined ? 'blueprint' : 'extends'}: use override to change inherited resources`,
      });
      return null;
    }
    if (raw.extends === undefined) break;
    if (!model.environments.has(raw.extends)) {
      errors.push({
        ...posOf(env.loc, 'extends'),
        message: unknownEnvironmentMessage(raw.extends, model.environments.keys()),
      });
      return null;
    }
    current = raw.extends;
  }
  return mergeChain(model, name, chain, errors);
}

function mergeChain(
  model: Model,
  name: string,
  chain: Located<RawEnvironment>[],
  errors: ValidationError[],
): EnvironmentChain | null {
  const root = chain[0];
  const leaf = chain[chain.length - 1];
  let tree: Map<string, DefNode>;
  let params: Record<string, unknown> = {};
  if (root.value.blueprint !== undefined) {
    const bpName = root.value.blueprint;
    const bp = model.blueprints.get(bpName);
    if (!bp) {
      errors.push({
        ...posOf(root.loc, 'blueprint'),
        message: `unknown blueprint '${bpName}'${didYouMean(bpName, model.blueprints.keys())}`,
      });
      return null;
    }
    if (model.broken.has(`blueprints.${bpName}`)) return null;
    tree = buildTree(bp.value.resources, { yf: bp.loc.yf, path: [...bp.loc.path, 'resources'] }, '', errors);
    params = { ...(bp.value.params ?? {}) };
  } else if (root.value.resources !== undefined) {
    tree = buildTree(root.value.resources, { yf: root.loc.yf, path: [...root.loc.path, 'resources'] }, '', errors);
  } else {
    errors.push({
      ...keyPosOf(root.loc),
      message: `environment '${chainName(root)}' needs a blueprint, extends or resources`,
    });
    return null;
  }
  const out: EnvironmentChain = { name, loc: leaf.loc, params, tree, removes: [], defaults: [], drift: {} };
  if (model.defaults) out.defaults.push(model.defaults.value);
  out.provider = model.provider;
  for (const env of chain) inherit(out, env, env !== leaf, errors);
  if (leaf.value.hosts)
    out.hosts = { value: leaf.value.hosts, loc: { yf: leaf.loc.yf, path: [...leaf.loc.path, 'hosts'] } };
  return out;
}

function inherit(
  out: EnvironmentChain,
  env: Located<RawEnvironment>,
  inherited: boolean,
  errors: ValidationError[],
): void {
  const raw = env.value;
  const sub = (key: string): Loc => ({ yf: env.loc.yf, path: [...env.loc.path, key] });
  Object.assign(out.params, raw.params ?? {});
  if (raw.override) applyOverride(out.tree, raw.override, sub('override'), errors);
  (raw.remove ?? []).forEach((p, i) =>
    out.removes.push({ value: p, loc: { yf: env.loc.yf, path: [...env.loc.path, 'remove', i] }, inherited }),
  );
  if (raw.defaults) out.defaults.push(raw.defaults);
  if (raw.provider) out.provider = { value: raw.provider, loc: sub('provider') };
  if (raw.known_hosts !== undefined) out.knownHosts = raw.known_hosts;
  if (raw.ssh_config !== undefined) out.sshConfig = raw.ssh_config;
  if (raw.jump !== undefined) out.jump = typeof raw.jump === 'string' ? [raw.jump] : raw.jump;
  if (raw.drift?.schedule !== undefined) out.drift.schedule = raw.drift.schedule;
  if (raw.drift?.heal !== undefined) out.drift.heal = raw.drift.heal;
  if (raw.branch !== undefined) out.branch = raw.branch;
  if (raw.apply !== undefined) out.apply = raw.apply;
  if (raw.suspend !== undefined) out.suspend = raw.suspend;
  if (raw.apply_from_pull_request !== undefined) out.applyFromPullRequest = raw.apply_from_pull_request;
}

function chainName(env: Located<RawEnvironment>): string {
  return String(env.loc.path[env.loc.path.length - 1]);
}
