/**
 * Binds every node of an environment to a host: the environment's own `hosts` (by path; a list fills the instances
 * under the path in order), else its provider. A node with neither is an error.
 */
import type { EnvironmentDefaults, HostBinding, ProviderSpec, SourcePos, ValidationError } from '../kernel/types.js';
import { didYouMean } from '../kernel/did-you-mean.js';
import type { EnvironmentChain } from './environment-chain.js';
import type { Instance, PathIndex } from './expand-instances.js';
import { interpolate, type ExprKind } from './interpolation.js';

import { type PathKey, posOf } from './yaml-file.js';
import { describeValue } from './zod-issues.js';

const HOST_EXPRS: ReadonlySet<ExprKind> = new Set(['param', 'env', 'self', 'each']);

type HostEntry = string | { address: string; port?: number | string; user?: string; jump?: string | string[] };

/** Returns the host of every node; errors for bad entries and for nodes left without a host. */
export function bindHosts(
  chain: EnvironmentChain,
  index: PathIndex,
  defaults: EnvironmentDefaults,
  provider: ProviderSpec | undefined,
  errors: ValidationError[],
): Map<Instance, HostBinding> {
  const bound = new Map<Instance, HostBinding>();
  const boundBy = new Map<Instance, string>();
  const hosts = chain.hosts;
  for (const [key, value] of Object.entries(hosts?.value ?? {})) {
    const keyPos = hosts!.loc.yf.pos([...hosts!.loc.path, key], true);
    const nodes = index.nodesUnder(key);
    if (nodes.length === 0) {
      if (index.isUnresolved(key)) continue; // its count or for_each is in error, reported already
      const exists = index.match(key).length > 0;
      errors.push({
        ...keyPos,
        message: exists
          ? `hosts: '${key}' has no nodes in environment '${chain.name}'`
          : `hosts: no resource '${key}' in environment '${chain.name}'${didYouMean(key, index.allPaths())}`,
      });
      continue;
    }
    const entries: [HostEntry, PathKey[]][] = Array.isArray(value)
      ? value.map((v, i) => [v, [key, i]])
      : nodes.map(() => [value, [key]]);
    if (Array.isArray(value) && value.length > nodes.length) {
      errors.push({
        ...posOf(hosts!.loc, key, nodes.length),
        message: `hosts: '${key}' lists ${value.length} hosts but has only ${nodes.length} instance${nodes.length === 1 ? '' : 's'}`,
      });
    }
    const single = Array.isArray(value) ? null : posOf(hosts!.loc, key);
    for (let i = 0; i < Math.min(entries.length, nodes.length); i++) {
      const node = nodes[i];
      const prev = boundBy.get(node);
      if (prev !== undefined) {
        errors.push({ ...keyPos, message: `hosts: '${node.path}' is bound twice, by '${prev}' and by '${key}'` });
        continue;
      }
      const binding = hostOf(
        entries[i][0],
        node,
        chain,
        defaults,
        single ?? posOf(hosts!.loc, ...entries[i][1]),
        errors,
      );
      if (binding) bound.set(node, binding);
      boundBy.set(node, key);
    }
  }
  bindRest(chain, index, defaults, provider, bound, new Set(boundBy.keys()), errors);
  return bound;
}

function bindRest(
  chain: EnvironmentChain,
  index: PathIndex,
  defaults: EnvironmentDefaults,
  provider: ProviderSpec | undefined,
  bound: Map<Instance, HostBinding>,
  attempted: ReadonlySet<Instance>,
  errors: ValidationError[],
): void {
  const missing = new Map<string, Instance[]>();
  for (const node of index.nodes) {
    if (attempted.has(node)) continue; // bound, or its host entry has an error already reported
    if (provider) bound.set(node, providerBinding(provider, defaults, chain.jump));
    else {
      const l = missing.get(node.def.path) ?? [];
      l.push(node);
      missing.set(node.def.path, l);
    }
  }
  for (const nodes of missing.values()) {
    const names =
      nodes
        .slice(0, 5)
        .map((n) => n.path)
        .join(', ') + (nodes.length > 5 ? ` and ${nodes.length - 5} more` : '');
    const plural = nodes.length > 1;
    errors.push({
      ...posOf(nodes[0].def.loc),
      message: `${plural ? 'nodes' : 'node'} ${names} in environment '${chain.name}' ${plural ? 'have' : 'has'} no host: add ${plural ? 'them' : 'it'} under environments.${chain.name}.hosts or configure a provider`,
    });
  }
}

function hostOf(
  entry: HostEntry,
  node: Instance,
  chain: EnvironmentChain,
  defaults: EnvironmentDefaults,
  source: SourcePos,
  errors: ValidationError[],
): HostBinding | null {
  const ctx = {
    params: chain.params,
    envName: chain.name,
    self: { name: node.name, path: node.path, index: node.index },
    each: node.each,
  };
  const field = (v: string, what: string): string | null => {
    const r = interpolate(v, ctx, HOST_EXPRS);
    if ('error' in r) {
      errors.push({ ...source, message: `hosts: ${what}: ${r.error}` });
      return null;
    }
    return String(r.value);
  };
  const obj = typeof entry === 'string' ? { address: entry } : entry;
  const address = field(obj.address, 'address');
  if (address === null) return null;
  if (address === 'local') return { kind: 'local', source };
  if (address.trim() === '' || /\s/.test(address)) {
    errors.push({ ...source, message: `hosts: '${address}' is not a host address` });
    return null;
  }
  const user = obj.user === undefined ? defaults.ssh.user : field(obj.user, 'user');
  let port: unknown = obj.port ?? defaults.ssh.port;
  if (port === undefined)
    return user === null
      ? null
      : withOptional({ kind: 'static', address, source }, user, undefined, jumpOf(obj, chain));
  if (typeof port === 'string') {
    const p = field(port, 'port');
    if (p === null) return null;
    port = /^\d+$/.test(p) ? Number(p) : p;
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    errors.push({ ...source, message: `hosts: port must be an integer from 1 to 65535, got ${describeValue(port)}` });
    return null;
  }
  if (user === null) return null;
  return withOptional({ kind: 'static', address, source }, user, port, jumpOf(obj, chain));
}

/** The entry's jump hosts, else the environment's (docs/language.md, "Jump hosts"). */
function jumpOf(obj: Exclude<HostEntry, string>, chain: EnvironmentChain): string[] | undefined {
  if (obj.jump !== undefined) return typeof obj.jump === 'string' ? [obj.jump] : obj.jump;
  return chain.jump;
}

function providerBinding(provider: ProviderSpec, defaults: EnvironmentDefaults, jump?: string[]): HostBinding {
  return withOptional({ kind: 'provider', provider }, defaults.ssh.user, defaults.ssh.port, jump);
}

/** Sets user, port and jump only when there is one: absent means OpenSSH's choice (ssh_config, local user, 22). */
function withOptional<T extends HostBinding & { kind: 'static' | 'provider' }>(
  binding: T,
  user: string | null | undefined,
  port: number | undefined,
  jump: string[] | undefined,
): T {
  if (user != null) binding.user = user;
  if (port !== undefined) binding.port = port;
  if (jump !== undefined) binding.jump = jump;
  return binding;
}
