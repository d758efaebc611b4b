/**
 * Expands a definition tree into instances (count → `web-1`.., for_each → `web-eu`..), and indexes paths once so
 * that `depends_on`, `hosts`, `remove` and `addresses()` look-ups stay linear for tens of thousands of instances.
 */
import type { ValidationError } from '../kernel/types.js';
import { describeValue } from './zod-issues.js';
import { interpolate, type ExprKind } from './interpolation.js';
import { isCountText } from './language.js';
import { LIMITS } from './limits.js';
import { posOf } from './yaml-file.js';
import type { DefNode } from './resource-tree.js';

export interface Instance {
  path: string;
  name: string;
  def: DefNode;
  /** Own count index (ResolvedNode.index). */
  ownIndex?: number;
  /** Own count index, or the nearest enclosing one (`${self.index}`). */
  index?: number;
  /** Own for_each value, or the nearest enclosing one. */
  each?: string;
  parent: Instance | null;
  /** Children for groups; null for nodes. */
  children: Instance[] | null;
}

const COUNT_EXPRS: ReadonlySet<ExprKind> = new Set(['param', 'env']);
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

interface ExpandCtx {
  params: Record<string, unknown>;
  envName: string;
  errors: ValidationError[];
  total: number;
  overLimit: boolean;
  shared: { instances: number };
  /** Paths of definitions that expanded to no instance (`count: 0`, `for_each: []`). */
  empty: Set<string>;
  /** Paths of definitions whose count or for_each is in error (already reported). */
  unresolved: Set<string>;
}

/** Expands the tree; returns null (with an error) when the instance limit is exceeded. */
export function expandTree(
  tree: Map<string, DefNode>,
  params: Record<string, unknown>,
  envName: string,
  errors: ValidationError[],
  shared: { instances: number } = { instances: 0 },
  empty: Set<string> = new Set(),
  unresolved: Set<string> = new Set(),
): Instance[] | null {
  const ctx: ExpandCtx = { params, envName, errors, total: 0, overLimit: false, shared, empty, unresolved };
  const roots = expandChildren(tree, null, ctx);
  return ctx.overLimit ? null : roots;
}

function expandChildren(defs: Map<string, DefNode>, parent: Instance | null, ctx: ExpandCtx): Instance[] {
  const out: Instance[] = [];
  const names = new Set<string>();
  for (const def of defs.values()) {
    for (const inst of instancesOf(def, parent, ctx)) {
      if (ctx.overLimit) return out;
      if (names.has(inst.name)) {
        ctx.errors.push({
          ...posOf(def.loc, ...[]),
          message: `two resources are both named '${inst.path}' in environment '${ctx.envName}'`,
        });
        continue;
      }
      names.add(inst.name);
      if (def.children) inst.children = expandChildren(def.children, inst, ctx);
      out.push(inst);
    }
  }
  return out;
}

function instancesOf(def: DefNode, parent: Instance | null, ctx: ExpandCtx): Instance[] {
  const base = parent ? `${parent.path}/` : '';
  const make = (name: string, index?: number, each?: string): Instance => ({
    path: base + name,
    name,
    def,
    ownIndex: index,
    index: index ?? parent?.index,
    each: each ?? parent?.each,
    parent,
    children: null,
  });
  let list: Instance[];
  if (def.count) {
    const n = evalCount(def, ctx);
    if (n === null) ctx.unresolved.add(base + def.name);
    if (n === null || !reserve(n, def, ctx)) return [];
    if (n === 0) ctx.empty.add(base + def.name);
    list = Array.from({ length: n }, (_, i) => make(`${def.name}-${i + 1}`, i + 1));
  } else if (def.forEach) {
    const values = evalForEach(def, ctx);
    if (values === null) ctx.unresolved.add(base + def.name);
    if (values === null || !reserve(values.length, def, ctx)) return [];
    if (values.length === 0) ctx.empty.add(base + def.name);
    list = values.map((v) => make(`${def.name}-${v}`, undefined, v));
  } else {
    if (!reserve(1, def, ctx)) return [];
    list = [make(def.name)];
  }
  return list;
}

function reserve(n: number, def: DefNode, ctx: ExpandCtx): boolean {
  ctx.total += n;
  ctx.shared.instances += n;
  const where = () => posOf(def.count?.loc ?? def.forEach?.loc ?? def.loc);
  if (ctx.total > LIMITS.instances) {
    ctx.errors.push({
      ...where(),
      message: `environment '${ctx.envName}' has more than ${LIMITS.instances} resource instances (the limit)`,
    });
    ctx.overLimit = true;
  } else if (ctx.shared.instances > LIMITS.totalInstances) {
    ctx.errors.push({
      ...where(),
      message: `the environments have more than ${LIMITS.totalInstances} resource instances together (the limit)`,
    });
    ctx.overLimit = true;
  }
  return !ctx.overLimit;
}

function evalCount(def: DefNode, ctx: ExpandCtx): number | null {
  const { value, loc } = def.count!;
  let v: unknown = value;
  if (typeof value === 'string' && !isCountText(value)) return null; // reported with the file (checkCountLiterals)
  if (typeof value === 'string') {
    const r = interpolate(value, { params: ctx.params, envName: ctx.envName }, COUNT_EXPRS);
    if ('error' in r) {
      ctx.errors.push({ ...posOf(loc), message: `count: ${r.error}` });
      return null;
    }
    v = typeof r.value === 'string' && /^\d+$/.test(r.value.trim()) ? Number(r.value.trim()) : r.value;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    ctx.errors.push({
      ...posOf(loc),
      message: `count must be a non-negative integer, got ${describeValue(v)} (in environment '${ctx.envName}')`,
    });
    return null;
  }
  return v;
}

function evalForEach(def: DefNode, ctx: ExpandCtx): string[] | null {
  const { value, loc } = def.forEach!;
  let list: unknown = value;
  if (typeof value === 'string') {
    const r = interpolate(value, { params: ctx.params, envName: ctx.envName }, COUNT_EXPRS);
    if ('error' in r) {
      ctx.errors.push({ ...posOf(loc), message: `for_each: ${r.error}` });
      return null;
    }
    list =
      typeof r.value === 'string'
        ? r.value
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : r.value;
  }
  if (!Array.isArray(list)) {
    ctx.errors.push({ ...posOf(loc), message: `for_each must be a list of strings, got ${describeValue(list)}` });
    return null;
  }
  const out: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < list.length; i++) {
    const where = typeof value === 'string' ? posOf(loc) : posOf(loc, i);
    let v = String(list[i]);
    if (typeof value !== 'string' && v.includes('${')) {
      const r = interpolate(v, { params: ctx.params, envName: ctx.envName }, COUNT_EXPRS);
      if ('error' in r) {
        ctx.errors.push({ ...where, message: `for_each: ${r.error}` });
        continue;
      }
      v = String(r.value);
    }
    if (!NAME.test(v))
      ctx.errors.push({
        ...where,
        message: `for_each value '${v}' cannot be part of a name: use letters, digits, '_', '.' and '-'`,
      });
    else if (seen.has(v)) ctx.errors.push({ ...where, message: `for_each value '${v}' appears twice` });
    else {
      seen.add(v);
      out.push(v);
    }
  }
  return out;
}

/** Path look-ups over an expanded tree; each distinct path is resolved once. */
export class PathIndex {
  readonly nodes: Instance[] = [];
  readonly groups: Instance[] = [];
  private readonly matchCache = new Map<string, Instance[]>();
  private readonly nodesCache = new Map<string, Instance[]>();

  /** Per parent (null: the root), the children by instance name and by definition name. */
  private readonly childIndex = new Map<Instance | null, Map<string, Instance[]>>();

  /**
   * @param empty paths of definitions with no instances (`count: 0`): they exist, and name no node, so depending on
   * them waits for nothing and `addresses()` of them is empty.
   */
  constructor(
    readonly roots: Instance[],
    private readonly empty: ReadonlySet<string> = new Set(),
    private readonly unresolved: ReadonlySet<string> = new Set(),
  ) {
    const walk = (list: Instance[]) => {
      for (const inst of list) {
        let byName = this.childIndex.get(inst.parent);
        if (!byName) this.childIndex.set(inst.parent, (byName = new Map()));
        for (const key of inst.name === inst.def.name ? [inst.name] : [inst.name, inst.def.name]) {
          const l = byName.get(key);
          if (l) l.push(inst);
          else byName.set(key, [inst]);
        }
        if (inst.children) {
          this.groups.push(inst);
          walk(inst.children);
        } else this.nodes.push(inst);
      }
    };
    walk(roots);
  }

  /** Instances a path names: each segment is an instance name, or a definition name meaning all its instances. */
  match(path: string): Instance[] {
    let hit = this.matchCache.get(path);
    if (hit) return hit;
    let current: (Instance | null)[] = [null];
    for (const seg of path.split('/')) {
      const next: Instance[] = [];
      for (const parent of current) next.push(...(this.childIndex.get(parent)?.get(seg) ?? []));
      current = next;
      if (current.length === 0) break;
    }
    hit = current as Instance[];
    this.matchCache.set(path, hit);
    return hit;
  }

  /** True when the path names a declared resource (or something under one) that has no instances. */
  isDeclaredEmpty(path: string): boolean {
    if (this.empty.has(path)) return true;
    for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1))
      if (this.empty.has(path.slice(0, i))) return true;
    return false;
  }

  /**
   * True when the path may name instances of a definition whose count or for_each is in error: that error is
   * reported already, so "no resource" for it would only mislead.
   */
  isUnresolved(path: string): boolean {
    for (const u of this.unresolved)
      if (path === u || path.startsWith(`${u}/`) || path.startsWith(`${u}-`)) return true;
    return false;
  }

  /** Every node under the instances a path names, in tree order. */
  nodesUnder(path: string): Instance[] {
    let hit = this.nodesCache.get(path);
    if (hit) return hit;
    const out: Instance[] = [];
    const visit = (i: Instance) => {
      if (i.children) i.children.forEach(visit);
      else out.push(i);
    };
    this.match(path).forEach(visit);
    hit = out;
    this.nodesCache.set(path, hit);
    return hit;
  }

  /** Every nameable path (instances and multi-instance definitions), for "did you mean". */
  allPaths(): string[] {
    const out = new Set<string>();
    for (const i of [...this.groups, ...this.nodes]) {
      out.add(i.path);
      const parent = i.parent ? `${i.parent.path}/` : '';
      out.add(parent + i.def.name);
    }
    return [...out];
  }
}

/** Removes the given instances (with everything under them) from the tree. */
export function removeInstances(roots: Instance[], hit: ReadonlySet<Instance>): void {
  const prune = (list: Instance[]): Instance[] =>
    list.filter((i) => !hit.has(i)).map((i) => (i.children ? Object.assign(i, { children: prune(i.children) }) : i));
  const kept = prune(roots);
  roots.splice(0, roots.length, ...kept);
}
