/**
 * The definition tree of an environment's resources (before count / for_each): built from a blueprint's (or an
 * inline) `resources`, then modified by `override` entries, each field remembering the file and line it came from.
 */
import type { ValidationError } from '../kernel/types.js';
import { didYouMean } from '../kernel/did-you-mean.js';
import { isCountText, type RawBecome, type RawResource, type RawRollout, type RawTask } from './language.js';

import { type Loc, type Located, type PathKey, posOf } from './yaml-file.js';

export interface DefNode {
  name: string;
  /** Definition path, e.g. `database/replica`. */
  path: string;
  loc: Loc;
  roles?: Located<string[]>;
  tasks?: Located<RawTask[]>;
  count?: Located<number | string>;
  forEach?: Located<string[] | string>;
  dependsOn?: Located<string[]>;
  /** Rolling batches of the nodes under (or the instances of) this definition (docs/language.md). */
  rollout?: Located<RawRollout>;
  /** Privilege escalation keys written on this resource (docs/language.md, "Privilege escalation"). */
  become?: RawBecome;
  /** Children by name when this is a group; null for a node. */
  children: Map<string, DefNode> | null;
}

/** Builds the children of a `resources` mapping found at `loc`. */
export function buildTree(
  raw: Record<string, RawResource>,
  loc: Loc,
  parentPath: string,
  errors: ValidationError[],
): Map<string, DefNode> {
  const out = new Map<string, DefNode>();
  for (const [name, res] of Object.entries(raw)) {
    const path = parentPath ? `${parentPath}/${name}` : name;
    const node: DefNode = { name, path, loc: { yf: loc.yf, path: [...loc.path, name] }, children: null };
    mergeInto(node, res ?? {}, node.loc, errors);
    out.set(name, node);
  }
  return out;
}

/** Deep-merges one raw resource (written at `loc`) into `node`: scalars and lists replace, `resources` merge. */
export function mergeInto(node: DefNode, res: RawResource, loc: Loc, errors: ValidationError[]): void {
  const at = (key: string): Loc => ({ yf: loc.yf, path: [...loc.path, key] });
  if (res.roles !== undefined) node.roles = { value: res.roles, loc: at('roles') };
  if (res.tasks !== undefined) node.tasks = { value: res.tasks, loc: at('tasks') };
  if (res.count !== undefined) node.count = { value: res.count, loc: at('count') };
  if (res.for_each !== undefined) node.forEach = { value: res.for_each, loc: at('for_each') };
  if (res.depends_on !== undefined) node.dependsOn = { value: res.depends_on, loc: at('depends_on') };
  if (res.rollout !== undefined) node.rollout = { value: res.rollout, loc: at('rollout') };
  for (const key of ['become', 'become_user', 'become_password'] as const)
    if (res[key] !== undefined) node.become = { ...node.become, [key]: res[key] };
  if (node.count && node.forEach) {
    errors.push({
      ...posOf(node.forEach.loc),
      message: `resource '${node.path}' has both count and for_each: use one`,
    });
  }
  if (res.resources !== undefined) {
    node.children ??= new Map();
    const rloc = at('resources');
    for (const [name, child] of Object.entries(res.resources)) {
      const existing = node.children.get(name);
      if (existing) mergeInto(existing, child ?? {}, { yf: rloc.yf, path: [...rloc.path, name] }, errors);
      else for (const [k, v] of buildTree({ [name]: child }, rloc, node.path, errors)) node.children.set(k, v);
    }
  }
  if (node.children && (node.roles || node.tasks)) {
    const where = node.roles?.loc ?? node.tasks!.loc;
    errors.push({
      ...posOf(where),
      message: `resource '${node.path}' has both resources and roles/tasks: a group holds resources, a node has roles and tasks`,
    });
  }
}

/** Applies an environment's `override` mapping (paths to partial resources) to the tree. */
export function applyOverride(
  root: Map<string, DefNode>,
  override: Record<string, RawResource>,
  loc: Loc,
  errors: ValidationError[],
): void {
  for (const [path, res] of Object.entries(override)) {
    const segs = path.split('/');
    const entryLoc: Loc = { yf: loc.yf, path: [...loc.path, path] };
    if (segs.some((s) => !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(s))) {
      errors.push({ ...loc.yf.pos(entryLoc.path, true), message: `override: '${path}' is not a valid resource path` });
      continue;
    }
    let children = root;
    let parentPath = '';
    for (const seg of segs.slice(0, -1)) {
      let next = children.get(seg);
      if (!next) {
        next = { name: seg, path: parentPath ? `${parentPath}/${seg}` : seg, loc: entryLoc, children: new Map() };
        children.set(seg, next);
      }
      if (!next.children) {
        errors.push({
          ...loc.yf.pos(entryLoc.path, true),
          message: `override: '${next.path}' is a node, not a group${didYouMean(seg, children.keys())}`,
        });
        children = new Map();
      } else children = next.children;
      parentPath = next.path;
    }
    const name = segs[segs.length - 1];
    const existing = children.get(name);
    if (existing) mergeInto(existing, res ?? {}, entryLoc, errors);
    else {
      const node: DefNode = { name, path: parentPath ? `${parentPath}/${name}` : name, loc: entryLoc, children: null };
      mergeInto(node, res ?? {}, entryLoc, errors);
      children.set(name, node);
    }
  }
}

/** Calls `fn` for every definition in the tree, parents first. */
export function walkDefs(tree: Map<string, DefNode>, fn: (d: DefNode) => void): void {
  for (const d of tree.values()) {
    fn(d);
    if (d.children) walkDefs(d.children, fn);
  }
}

/**
 * Reports every `count` written as text that can never be a number (`count: lots`), walking the raw `resources` (and
 * `override`) of a blueprint or environment even when other mistakes make it invalid, so they are reported together.
 */
export function checkCountLiterals(raw: unknown, loc: Loc, errors: ValidationError[]): void {
  if (!isObject(raw)) return;
  const stack: { res: Record<string, unknown>; path: PathKey[] }[] = [];
  const pushAll = (map: unknown, path: PathKey[]) => {
    if (isObject(map))
      for (const [k, v] of Object.entries(map)) if (isObject(v)) stack.push({ res: v, path: [...path, k] });
  };
  pushAll(raw.resources, [...loc.path, 'resources']);
  pushAll(raw.override, [...loc.path, 'override']);
  while (stack.length > 0) {
    const { res, path } = stack.pop()!;
    if (typeof res.count === 'string' && !isCountText(res.count)) {
      errors.push({ ...loc.yf.pos([...path, 'count']), message: countLiteralMessage(res.count) });
    }
    pushAll(res.resources, [...path, 'resources']);
  }
}

/** The message for a count text that is neither a number nor an interpolation. */
export function countLiteralMessage(value: string): string {
  return `count must be a non-negative integer or an interpolation such as '\${params.web_count}', got '${value}'`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
