/**
 * Resolves one environment of a validated description into nodes: chain → expand instances → remove → bind hosts →
 * tasks (interpolated per node) → dependencies → cycles → spec hashes.
 */
import type {
  EnvironmentDefaults,
  HostBinding,
  ProviderSpec,
  ResolvedEnvironment,
  ResolvedNode,
  SourcePos,
  TaskSpec,
  ValidationError,
} from '../kernel/types.js';
import { LIMITS } from './limits.js';
import { specHash } from '../kernel/spec-hash.js';
import { bindHosts } from './bind-hosts.js';
import { didYouMean } from '../kernel/did-you-mean.js';
import { resolveChain, type EnvironmentChain } from './environment-chain.js';
import { expandTree, PathIndex, removeInstances, type Instance } from './expand-instances.js';
import { expressionsOf, type InterpolationContext } from './interpolation.js';
import { parseDuration, type RawDefaults } from './language.js';
import { type Model } from './load-files.js';
import { posOf } from './yaml-file.js';
import { DependencyResolver, findCycles } from './node-dependencies.js';
import { resolveTasks, type TaskDef, type TaskExpander } from './node-tasks.js';
import { becomeByDef } from './become.js';
import { walkDefs } from './resource-tree.js';
import { assignRollouts, checkRollouts, rolloutGroupOf } from './rollout.js';

export const DEFAULT_DRIFT_SCHEDULE = '0 * * * *';

/** A dependency cycle found in one environment. */
export interface FoundCycle {
  env: string;
  cycle: string[];
  source: SourcePos;
}

/** Resolves environment `name`; null when it has errors (appended to `errors`; cycles to `cycles`). */
export function resolveEnvironment(
  model: Model,
  name: string,
  tasks: TaskExpander,
  errors: ValidationError[],
  cycles: FoundCycle[],
  shared: { instances: number } = { instances: 0 },
): ResolvedEnvironment | null {
  const before = errors.length;
  const chain = resolveChain(model, name, errors);
  if (!chain) return null;
  // Every definition's roles are checked, even one that expands to no instance or whose count is in error.
  walkDefs(chain.tree, (d) => {
    if (!d.children) tasks.tasksOf(d);
  });
  checkRollouts(chain.tree, errors);
  const defaults = mergeDefaults(chain.defaults);
  const becomes = becomeByDef(chain.defaults, chain.tree);
  const provider: ProviderSpec | undefined = chain.provider && {
    ...chain.provider.value.exec,
    source: posOf(chain.provider.loc),
  };
  const index = expandAndRemove(chain, errors, shared);
  if (!index) return null;
  const hosts = bindHosts(chain, index, defaults, provider, errors);
  const address = addressLookup(index, hosts);
  const deps = new DependencyResolver(index, name, errors);
  const nodes: ResolvedNode[] = [];
  const sources = new Map<Instance['def'], SourcePos>();
  const budget = { dependencies: 0, chars: 0 };
  const rollouts: Parameters<typeof assignRollouts>[0] = [];
  for (const inst of index.nodes) {
    const host = hosts.get(inst);
    const defs = tasks.tasksOf(inst.def);
    const ctx: InterpolationContext = {
      params: chain.params,
      envName: name,
      self: { name: inst.name, path: inst.path, index: inst.index },
      each: inst.each,
      address,
    };
    const resolvedTasks = resolveTasks(defs, ctx, errors, becomes.get(inst.def));
    const dependsOn = deps.of(inst, implicitOf(defs));
    let source = sources.get(inst.def);
    if (!source) sources.set(inst.def, (source = posOf(inst.def.loc)));
    if (overBudget(budget, resolvedTasks, dependsOn.length, name, source, errors)) return null;
    if (!host) continue;
    const node: ResolvedNode = {
      path: inst.path,
      name: inst.name,
      host,
      tasks: resolvedTasks,
      dependsOn,
      source,
      specHash: '',
    };
    if (inst.ownIndex !== undefined) node.index = inst.ownIndex;
    node.specHash = specHash(node);
    nodes.push(node);
    const group = rolloutGroupOf(inst);
    if (group) rollouts.push({ node, group });
  }
  assignRollouts(rollouts);
  for (const c of findCycles(nodes)) cycles.push({ env: name, ...c });
  if (errors.length > before) return null;
  return {
    name,
    branch: chain.branch,
    defaults,
    params: chain.params,
    nodes,
    groups: index.groups.map((g) => g.path),
    knownHosts: chain.knownHosts,
    sshConfig: chain.sshConfig,
    drift: { schedule: chain.drift.schedule ?? DEFAULT_DRIFT_SCHEDULE, heal: chain.drift.heal ?? false },
    policy: {
      apply: chain.apply ?? 'auto',
      suspend: chain.suspend ?? false,
      ...(chain.applyFromPullRequest ? { applyFromPullRequest: true } : {}),
    },
    depsDir: model.deps?.value ?? 'babushka-deps',
    provider,
    source: posOf(chain.loc),
  };
}

/** Bounds the work a hostile description can cause (every node using addresses() of every other node). */
function overBudget(
  budget: { dependencies: number; chars: number },
  tasks: TaskSpec[],
  dependencies: number,
  env: string,
  source: SourcePos,
  errors: ValidationError[],
): boolean {
  budget.dependencies += dependencies;
  for (const t of tasks) {
    if (t.kind === 'shell') budget.chars += t.met.length + t.meet.length;
    else for (const v of Object.values(t.args)) budget.chars += v.length;
  }
  if (budget.dependencies > LIMITS.dependencies) {
    errors.push({
      ...source,
      message: `environment '${env}' has more than ${LIMITS.dependencies} dependencies between nodes (the limit)`,
    });
    return true;
  }
  if (budget.chars > LIMITS.resolvedChars) {
    errors.push({
      ...source,
      message: `environment '${env}' resolves to more than ${LIMITS.resolvedChars} characters of task arguments and commands (the limit)`,
    });
    return true;
  }
  return false;
}

function expandAndRemove(
  chain: EnvironmentChain,
  errors: ValidationError[],
  shared: { instances: number },
): PathIndex | null {
  const empty = new Set<string>();
  const unresolved = new Set<string>();
  const roots = expandTree(chain.tree, chain.params, chain.name, errors, shared, empty, unresolved);
  if (!roots) return null;
  if (chain.removes.length === 0) return new PathIndex(roots, empty, unresolved);
  const before = new PathIndex(roots, empty, unresolved);
  const hit = new Set<Instance>();
  for (const r of chain.removes) {
    const found = before.match(r.value);
    if (found.length === 0 && !r.inherited && !before.isUnresolved(r.value)) {
      errors.push({
        ...posOf(r.loc),
        message: `remove: no resource '${r.value}' in environment '${chain.name}'${didYouMean(r.value, before.allPaths())}`,
      });
    }
    found.forEach((i) => hit.add(i));
  }
  removeInstances(roots, hit);
  return new PathIndex(roots, empty, unresolved);
}

/** Resolves `address(PATH)` / `addresses(PATH)`; each distinct path is computed once per environment. */
function addressLookup(
  index: PathIndex,
  hosts: Map<Instance, HostBinding>,
): NonNullable<InterpolationContext['address']> {
  const cache = new Map<string, { value: string } | { error: string }>();
  const one = (n: Instance): string => {
    const h = hosts.get(n);
    if (h?.kind === 'static') return h.address;
    if (h?.kind === 'local') return '127.0.0.1';
    return `\${address(${n.path})}`;
  };
  return (path, multi) => {
    const key = `${multi ? 'm' : 's'}:${path}`;
    let hit = cache.get(key);
    if (hit) return hit;
    const nodes = index.nodesUnder(path);
    const fn = multi ? 'addresses' : 'address';
    if (nodes.length === 0 && multi && index.isDeclaredEmpty(path)) {
      hit = { value: '' }; // `count: 0`: no addresses, not an error (staging with no replicas)
    } else if (nodes.length === 0 && index.isUnresolved(path)) {
      hit = { value: '' }; // its count is in error, reported already
    } else if (nodes.length === 0) {
      const exists = index.match(path).length > 0;
      hit = {
        error: exists
          ? `${fn}(${path}): no nodes under '${path}'`
          : `${fn}(${path}): no resource '${path}'${didYouMean(path, index.allPaths())}`,
      };
    } else if (!multi && nodes.length > 1) {
      hit = {
        error: `address(${path}) names ${nodes.length} nodes: use addresses(${path}) or one instance such as ${nodes[0].path}`,
      };
    } else hit = { value: nodes.map(one).join(',') };
    cache.set(key, hit);
    return hit;
  };
}

const implicitCache = new WeakMap<TaskDef[], { path: string; source: SourcePos }[]>();

/** Paths used in address()/addresses() by a list of task definitions (an implicit `#provisioned` dependency each). */
function implicitOf(defs: TaskDef[]): { path: string; source: SourcePos }[] {
  let hit = implicitCache.get(defs);
  if (hit) return hit;
  hit = [];
  for (const d of defs) {
    const strings =
      'babushka' in d.raw
        ? Object.values(d.raw.args ?? {}).filter((v): v is string => typeof v === 'string')
        : [d.raw.met, d.raw.meet];
    for (const s of strings)
      for (const e of expressionsOf(s)) if (e.kind === 'address') hit.push({ path: e.path, source: d.pos });
  }
  implicitCache.set(defs, hit);
  return hit;
}

/** Top-level defaults, then each environment's along the extends chain (later wins). */
export function mergeDefaults(layers: RawDefaults[]): EnvironmentDefaults {
  // No SSH user or port unless the description names one: then OpenSSH's choice applies (ssh_config, else the local
  // user and port 22), never a silent `root` (docs/language.md, "Hosts").
  const out: EnvironmentDefaults = { ssh: {}, concurrency: 20, timeoutMs: 15 * 60 * 1000 };
  for (const d of layers) {
    if (d.ssh?.user !== undefined) out.ssh.user = d.ssh.user;
    if (d.ssh?.port !== undefined) out.ssh.port = d.ssh.port;
    if (d.concurrency !== undefined) out.concurrency = d.concurrency;
    if (d.timeout !== undefined)
      out.timeoutMs = typeof d.timeout === 'number' ? d.timeout * 1000 : (parseDuration(d.timeout) ?? out.timeoutMs);
  }
  return out;
}
