/**
 * `${...}` interpolation. A closed grammar, never evaluated as code: params.NAME, env.name, self.name, self.path,
 * self.index, each, address(PATH), addresses(PATH), secret.NAME. `$${` is a literal `${` (for shell commands).
 */
import { didYouMean } from '../kernel/did-you-mean.js';

export type Expr =
  | { kind: 'param'; name: string }
  | { kind: 'env' }
  | { kind: 'self'; field: 'name' | 'path' | 'index' }
  | { kind: 'each' }
  | { kind: 'address'; path: string; multi: boolean }
  | { kind: 'secret'; name: string };

export type Part = string | Expr;
export type Template = { parts: Part[] } | { error: string };

export type ExprKind = Expr['kind'];

/** What an interpolation can see while resolving one node (or a count, or a host field). */
export interface InterpolationContext {
  params: Record<string, unknown>;
  envName: string;
  self?: { name: string; path: string; index?: number };
  each?: string;
  /** Address of one node / comma-separated addresses under a path; an error message when the path is bad. */
  address?: (path: string, multi: boolean) => { value: string } | { error: string };
}

const cache = new Map<string, Template>();

/** Parses a string once (cached: the same template is evaluated for thousands of instances). */
export function parseTemplate(s: string): Template {
  let t = cache.get(s);
  if (!t) {
    t = parseUncached(s);
    if (cache.size > 50_000) cache.clear();
    cache.set(s, t);
  }
  return t;
}

function parseUncached(s: string): Template {
  const parts: Part[] = [];
  let lit = '';
  let i = 0;
  while (i < s.length) {
    if (s.startsWith('$${', i)) {
      lit += '${';
      i += 3;
      continue;
    }
    if (!s.startsWith('${', i)) {
      lit += s[i++];
      continue;
    }
    const end = s.indexOf('}', i + 2);
    if (end < 0) return { error: `unterminated '\${' in '${short(s)}' (write '$\${' for a literal '\${')` };
    const expr = parseExpr(s.slice(i + 2, end).trim());
    if (typeof expr === 'string') return { error: expr };
    if (lit) parts.push(lit);
    lit = '';
    parts.push(expr);
    i = end + 1;
  }
  if (lit || parts.length === 0) parts.push(lit);
  return { parts };
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const PATH = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

function parseExpr(e: string): Expr | string {
  const bad = `bad interpolation '\${${e}}': use params.NAME, env.name, self.name, self.path, self.index, each, address(PATH), addresses(PATH) or secret.NAME (write '$\${' for a literal '\${')`;
  if (e === 'env.name') return { kind: 'env' };
  if (e === 'each') return { kind: 'each' };
  if (e === 'self.name' || e === 'self.path' || e === 'self.index')
    return { kind: 'self', field: e.slice(5) as 'name' };
  const dot = /^(params|secret)\.(.+)$/.exec(e);
  if (dot) {
    if (!IDENT.test(dot[2])) return bad;
    return dot[1] === 'params' ? { kind: 'param', name: dot[2] } : { kind: 'secret', name: dot[2] };
  }
  const call = /^(address|addresses)\(\s*([^)]*?)\s*\)$/.exec(e);
  if (call) {
    const path = call[2].replace(/^['"]|['"]$/g, '');
    if (!PATH.test(path)) return `bad path '${call[2]}' in '\${${e}}'`;
    return { kind: 'address', path, multi: call[1] === 'addresses' };
  }
  return bad;
}

function short(s: string): string {
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

/** The expressions a string uses (empty for plain strings and for strings that fail to parse). */
export function expressionsOf(s: string): Expr[] {
  const t = parseTemplate(s);
  return 'parts' in t ? (t.parts.filter((p) => typeof p !== 'string') as Expr[]) : [];
}

/**
 * Evaluates a string. A string that is exactly one `${params.NAME}` keeps the param's type; everything else is a
 * string. `${secret.NAME}` stays symbolic. `allowed` limits which expressions may appear (e.g. count: params, env).
 */
export function interpolate(
  s: string,
  ctx: InterpolationContext,
  allowed?: ReadonlySet<ExprKind>,
): { value: unknown } | { error: string } {
  const t = parseTemplate(s);
  if ('error' in t) return t;
  if (t.parts.length === 1 && typeof t.parts[0] === 'string') return { value: t.parts[0] };
  let out = '';
  for (const p of t.parts) {
    if (typeof p === 'string') {
      out += p;
      continue;
    }
    if (allowed && !allowed.has(p.kind)) return { error: `'\${${exprText(p)}}' cannot be used here` };
    const v = evalExpr(p, ctx);
    if ('error' in v) return v;
    if (t.parts.length === 1) return v;
    out += stringify(v.value);
  }
  return { value: out };
}

function evalExpr(p: Expr, ctx: InterpolationContext): { value: unknown } | { error: string } {
  switch (p.kind) {
    case 'param':
      if (!Object.prototype.hasOwnProperty.call(ctx.params, p.name))
        return { error: `unknown param '${p.name}'${paramHint(p.name, ctx)}` };
      return { value: ctx.params[p.name] };
    case 'env':
      return { value: ctx.envName };
    case 'each':
      return ctx.each === undefined
        ? { error: "'${each}' is only defined under a resource with for_each" }
        : { value: ctx.each };
    case 'self':
      if (!ctx.self) return { error: `'\${self.${p.field}}' cannot be used here` };
      if (p.field === 'index') {
        return ctx.self.index === undefined
          ? { error: "'${self.index}' is only defined under a resource with count" }
          : { value: ctx.self.index };
      }
      return { value: ctx.self[p.field] };
    case 'secret':
      return { value: `\${secret.${p.name}}` };
    case 'address':
      if (!ctx.address) return { error: `'\${${exprText(p)}}' cannot be used here` };
      return ctx.address(p.path, p.multi);
  }
}

function paramHint(name: string, ctx: InterpolationContext): string {
  const hint = didYouMean(name, Object.keys(ctx.params));
  return hint || (Object.keys(ctx.params).length === 0 ? ' (no params are defined)' : '');
}

/** Text of an expression as written in `${...}`. */
function exprText(p: Expr): string {
  switch (p.kind) {
    case 'param':
      return `params.${p.name}`;
    case 'env':
      return 'env.name';
    case 'each':
      return 'each';
    case 'self':
      return `self.${p.field}`;
    case 'secret':
      return `secret.${p.name}`;
    case 'address':
      return `${p.multi ? 'addresses' : 'address'}(${p.path})`;
  }
}

/** Scalars as strings; lists comma-separated (as addresses() is). */
export function stringify(v: unknown): string {
  if (Array.isArray(v)) return v.map(stringify).join(',');
  return String(v);
}
