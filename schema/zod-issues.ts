/**
 * Turns zod issues into positioned validation errors with messages a user can act on: unknown keys with a
 * "did you mean", wrong types naming what was expected and what was found, missing keys.
 */
import type { z } from 'zod';
import type { ValidationError } from '../kernel/types.js';
import { didYouMean } from '../kernel/did-you-mean.js';
import type { PathKey, YamlFile } from './yaml-file.js';

type Issue = z.core.$ZodIssue;

/** Validates `data` (found at `base` inside `yf`) with `schema`; problems are appended to `errors`. */
export function validateWith<T>(
  schema: z.ZodType<T>,
  data: unknown,
  yf: YamlFile,
  base: readonly PathKey[],
  errors: ValidationError[],
): T | undefined {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  for (const issue of result.error.issues) addIssue(issue, schema, data, yf, base, [], errors);
  return undefined;
}

function addIssue(
  issue: Issue,
  schema: z.ZodType,
  root: unknown,
  yf: YamlFile,
  base: readonly PathKey[],
  prefix: PathKey[],
  errors: ValidationError[],
): void {
  const path = [...prefix, ...(issue.path as PathKey[])];
  const where = [...base, ...path];
  const value = valueAt(root, path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeys(schema, path);
      for (const k of issue.keys) {
        errors.push({ ...yf.pos([...where, k], true), message: `unknown key '${k}'${didYouMean(k, known)}` });
      }
      return;
    }
    case 'invalid_union': {
      const branch = bestBranch(issue.errors as Issue[][], value);
      if (branch) {
        for (const sub of branch) addIssue(sub, schema, root, yf, base, path, errors);
        return;
      }
      const expected = issue.errors.flatMap((b) =>
        b.map((i) => (i.code === 'invalid_type' ? describeType(i.expected) : '')),
      );
      const list = [...new Set(expected.filter(Boolean))];
      errors.push({ ...yf.pos(where), message: `${label(path)}expected ${joinOr(list)}, got ${describeValue(value)}` });
      return;
    }
    case 'invalid_type': {
      if (value === undefined && path.length > 0) {
        errors.push({ ...yf.pos(where), message: `missing required key '${String(path[path.length - 1])}'` });
      } else if (issue.expected === 'never') {
        errors.push({ ...yf.pos(where, true), message: issue.message });
      } else {
        errors.push({
          ...yf.pos(where),
          message: `${label(path)}expected ${describeType(issue.expected)}, got ${describeValue(value)}`,
        });
      }
      return;
    }
    case 'invalid_value':
      if (value === undefined && path.length > 0) {
        errors.push({ ...yf.pos(where), message: `missing required key '${String(path[path.length - 1])}'` });
        return;
      }
      errors.push({
        ...yf.pos(where),
        message: `${label(path)}expected ${joinOr(issue.values.map((v) => JSON.stringify(v)))}, got ${describeValue(value)}`,
      });
      return;
    case 'too_small':
      errors.push({ ...yf.pos(where), message: `${label(path)}${tooSmall(issue)}` });
      return;
    case 'too_big':
      errors.push({ ...yf.pos(where), message: `${label(path)}must be at most ${String(issue.maximum)}` });
      return;
    case 'invalid_key':
      errors.push({
        ...yf.pos(where, true),
        message: `invalid name '${String(path[path.length - 1])}': ${issue.issues[0]?.message ?? 'bad key'}`,
      });
      return;
    default:
      errors.push({ ...yf.pos(where), message: `${label(path)}${issue.message}` });
  }
}

function tooSmall(issue: z.core.$ZodIssueTooSmall): string {
  if (issue.origin === 'string') return 'must not be empty';
  if (issue.origin === 'array') return `must have at least ${String(issue.minimum)} entries`;
  return issue.inclusive === false
    ? `must be greater than ${String(issue.minimum)}`
    : `must be at least ${String(issue.minimum)}`;
}

/** The union branch a user most likely meant: fewest unknown keys, then fewest problems. */
function bestBranch(branches: Issue[][], value: unknown): Issue[] | null {
  if (value === null || typeof value !== 'object') return null;
  let best: Issue[] | null = null;
  let bestScore = Infinity;
  for (const b of branches) {
    if (b.length === 1 && b[0].code === 'invalid_type' && b[0].path.length === 0) continue;
    const unknown = b.reduce(
      (n, i) => n + (i.code === 'unrecognized_keys' && i.path.length === 0 ? i.keys.length : 0),
      0,
    );
    const score = unknown * 1000 + b.length;
    if (score < bestScore) {
      best = b;
      bestScore = score;
    }
  }
  return best;
}

function label(path: PathKey[]): string {
  const last = [...path].reverse().find((k) => typeof k === 'string');
  return last === undefined ? '' : `'${last}': `;
}

function joinOr(items: string[]): string {
  if (items.length <= 1) return items[0] ?? 'something else';
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

function describeType(t: string): string {
  const names: Record<string, string> = {
    object: 'a mapping',
    array: 'a list',
    string: 'a string',
    number: 'a number',
    int: 'an integer',
    boolean: 'true or false',
    record: 'a mapping',
  };
  return names[t] ?? t;
}

/** Describes a YAML value by kind, for "expected X, got Y". */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'nothing (null)';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `a string ('${v.length > 40 ? `${v.slice(0, 40)}…` : v}')`;
  if (typeof v === 'number') return Number.isInteger(v) ? `the number ${v}` : `the number ${v}`;
  if (typeof v === 'boolean') return `${v}`;
  return typeof v;
}

function valueAt(root: unknown, path: PathKey[]): unknown {
  let v: unknown = root;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k as string];
  }
  return v;
}

/** Keys allowed at `path` in `schema`, for "did you mean" (all branches of unions). */
function knownKeys(schema: z.ZodType, path: PathKey[]): string[] {
  let current: z.core.$ZodType[] = [schema as unknown as z.core.$ZodType];
  for (const k of [...path, null]) {
    const next: z.core.$ZodType[] = [];
    for (const s of current.flatMap(unwrap)) {
      const def = s._zod.def as unknown as Record<string, unknown> & { type: string };
      if (k === null) {
        if (def.type === 'object') return Object.keys(def.shape as Record<string, unknown>);
        continue;
      }
      if (def.type === 'object') {
        const child = (def.shape as Record<string, z.core.$ZodType>)[String(k)];
        if (child) next.push(child);
      } else if (def.type === 'record') next.push(def.valueType as z.core.$ZodType);
      else if (def.type === 'array') next.push(def.element as z.core.$ZodType);
    }
    if (k !== null) current = next;
  }
  return [];
}

function unwrap(s: z.core.$ZodType): z.core.$ZodType[] {
  const def = s._zod.def as unknown as Record<string, unknown> & { type: string };
  if (def.type === 'optional' || def.type === 'nullable' || def.type === 'default')
    return unwrap(def.innerType as z.core.$ZodType);
  if (def.type === 'pipe') return unwrap(def.in as z.core.$ZodType);
  if (def.type === 'union') return (def.options as z.core.$ZodType[]).flatMap(unwrap);
  return [s];
}
