/**
 * Checks every `${...}` in a description once, where it is written: syntax errors, and interpolation in a place that
 * does not interpolate (only count, for_each, args, met, meet and host fields do).
 */
import type { ValidationError } from '../kernel/types.js';
import { parseTemplate } from './interpolation.js';
import { type Model } from './load-files.js';
import { type Loc, type PathKey, posOf } from './yaml-file.js';

// become_password is a whole `\${secret.NAME}` (checked by its schema, schema/language.ts).
const INTERPOLATED = new Set(['count', 'for_each', 'args', 'met', 'meet', 'hosts', 'become_password']);
const FREE_TEXT = new Set(['description']);

/** Reports bad interpolation anywhere in roles, blueprints and environments. */
export function checkTemplates(model: Model, errors: ValidationError[]): void {
  for (const section of ['roles', 'blueprints', 'environments'] as const) {
    for (const entry of model[section].values()) walk(entry.value, entry.loc, [], false, errors);
  }
}

function walk(v: unknown, loc: Loc, sub: PathKey[], allowed: boolean, errors: ValidationError[]): void {
  if (typeof v === 'string') {
    if (!v.includes('${')) return;
    const t = parseTemplate(v);
    if ('error' in t) errors.push({ ...posOf(loc, ...sub), message: t.error });
    else if (!allowed && t.parts.some((p) => typeof p !== 'string')) {
      errors.push({
        ...posOf(loc, ...sub),
        message: `interpolation is not allowed in '${lastKey(sub)}': only count, for_each, args, met, meet and hosts are interpolated (write '$\${' for a literal '\${')`,
      });
    }
    return;
  }
  if (Array.isArray(v)) {
    v.forEach((item, i) => walk(item, loc, [...sub, i], allowed, errors));
    return;
  }
  if (v && typeof v === 'object') {
    for (const [k, child] of Object.entries(v)) {
      if (FREE_TEXT.has(k) && typeof child === 'string') continue;
      walk(child, loc, [...sub, k], allowed || INTERPOLATED.has(k), errors);
    }
  }
}

function lastKey(sub: PathKey[]): string {
  return String([...sub].reverse().find((k) => typeof k === 'string') ?? '');
}
