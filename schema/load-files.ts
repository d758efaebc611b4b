/**
 * Reads the main file and its includes, validates every file against the language, and merges them into one model
 * whose entries remember where they were written. A name defined twice is an error naming both places.
 */
import path from 'node:path';
import { glob, isDynamicPattern } from 'tinyglobby';
import type { SourcePos, ValidationError } from '../reconciler/types.js';
import {
  Blueprint,
  Environment,
  fileFrame,
  Name,
  singletonSchemas,
  Role,
  type RawBlueprint,
  type RawDefaults,
  type RawEnvironment,
  type RawProvider,
  type RawRole,
} from './language.js';
import { LIMITS } from './limits.js';
import { readYamlFile, type PathKey, type YamlFile } from './yaml-file.js';
import { validateWith } from './zod-issues.js';

/** Where a value was written: a file and the path of its YAML node. */
export interface Loc {
  yf: YamlFile;
  path: PathKey[];
}

export interface Located<T> {
  value: T;
  loc: Loc;
}

/** Position of `loc` (or of something under it). */
export function posOf(loc: Loc, ...sub: PathKey[]): SourcePos {
  return loc.yf.pos(sub.length ? [...loc.path, ...sub] : loc.path);
}

/** Position of the key of `loc` (or of something under it). */
export function keyPosOf(loc: Loc, ...sub: PathKey[]): SourcePos {
  return loc.yf.pos([...loc.path, ...sub], true);
}

export interface Model {
  files: YamlFile[];
  deps?: Located<string>;
  defaults?: Located<RawDefaults>;
  provider?: Located<RawProvider>;
  roles: Map<string, Located<RawRole>>;
  blueprints: Map<string, Located<RawBlueprint>>;
  environments: Map<string, Located<RawEnvironment>>;
  /** Names whose definition is invalid (already reported): references to them are not reported again. */
  broken: Set<string>;
}

type Section = 'roles' | 'blueprints' | 'environments';
const entrySchemas = { roles: Role, blueprints: Blueprint, environments: Environment } as const;

/** Loads and validates every file of a description rooted at `dir`. */
export async function loadFiles(dir: string, mainFile: string, errors: ValidationError[]): Promise<Model> {
  const model: Model = { files: [], roles: new Map(), blueprints: new Map(), environments: new Map(), broken: new Set() };
  const mainRel = toRel(dir, path.resolve(dir, mainFile));
  const main = await readYamlFile(path.resolve(dir, mainFile), mainRel, errors);
  model.files.push(main);
  if (main.doc === null && errors.length > 0 && errors.some((e) => e.file === mainRel && /cannot read|not a regular/.test(e.message))) {
    return model;
  }
  const frame = mergeFile(model, main, true, errors);
  const includes = await expandIncludes(dir, main, frame?.include ?? [], mainRel, errors);
  for (const rel of includes) {
    const yf = await readYamlFile(path.resolve(dir, rel), rel, errors);
    model.files.push(yf);
    mergeFile(model, yf, false, errors);
  }
  return model;
}

async function expandIncludes(dir: string, main: YamlFile, patterns: string[], mainRel: string, errors: ValidationError[]): Promise<string[]> {
  const found = new Set<string>();
  for (let i = 0; i < patterns.length; i++) {
    const p = patterns[i];
    if (path.isAbsolute(p) || p.split(/[\\/]/).includes('..')) {
      errors.push({ ...main.pos(['include', i]), message: `include pattern '${p}' must be relative and stay inside the repository` });
      continue;
    }
    let matches: string[];
    try {
      matches = await glob(p, { cwd: dir, onlyFiles: true, dot: false, followSymbolicLinks: false, expandDirectories: false });
    } catch (e) {
      errors.push({ ...main.pos(['include', i]), message: `bad include pattern '${p}': ${(e as Error).message}` });
      continue;
    }
    if (matches.length === 0 && !isDynamicPattern(p)) {
      errors.push({ ...main.pos(['include', i]), message: `included file '${p}' does not exist` });
    }
    for (const m of matches.sort()) {
      const rel = toRel(dir, path.resolve(dir, m));
      if (rel !== mainRel) found.add(rel);
    }
    if (found.size + 1 > LIMITS.files) {
      errors.push({ ...main.pos(['include', i]), message: `too many files: more than the limit of ${LIMITS.files} files per description` });
      return [...found].slice(0, LIMITS.files - 1);
    }
  }
  return [...found];
}

function toRel(dir: string, abs: string): string {
  return path.relative(path.resolve(dir), abs).split(path.sep).join('/');
}

function mergeFile(model: Model, yf: YamlFile, main: boolean, errors: ValidationError[]) {
  if (yf.doc === null || yf.data === undefined) return undefined;
  const data = yf.data === null ? {} : yf.data;
  if (!main && (data === null || typeof data !== 'object' || Array.isArray(data))) {
    errors.push({ ...yf.pos([]), message: 'expected a mapping of roles, blueprints and environments' });
    return undefined;
  }
  const frame = validateWith(fileFrame(main), data, yf, [], errors);
  const obj = (data && typeof data === 'object' && !Array.isArray(data) ? data : {}) as Record<string, unknown>;
  for (const key of ['deps', 'defaults', 'provider'] as const) {
    if (obj[key] === undefined) continue;
    const loc: Loc = { yf, path: [key] };
    const value = validateWith(singletonSchemas[key] as never, obj[key], yf, [key], errors);
    const prev = model[key];
    if (prev) errors.push({ ...keyPosOf(loc), message: `${key} is defined twice: ${fmt(keyPosOf(prev.loc))} and ${fmt(keyPosOf(loc))}` });
    else if (value !== undefined) (model[key] as Located<unknown>) = { value, loc };
  }
  for (const section of ['roles', 'blueprints', 'environments'] as const) {
    const entries = obj[section];
    if (entries && typeof entries === 'object' && !Array.isArray(entries)) mergeSection(model, yf, section, entries as Record<string, unknown>, errors);
  }
  return frame ?? { include: Array.isArray(obj.include) ? obj.include.filter((p): p is string => typeof p === 'string' && p !== '') : [] };
}

function mergeSection(model: Model, yf: YamlFile, section: Section, entries: Record<string, unknown>, errors: ValidationError[]) {
  for (const [name, raw] of Object.entries(entries)) {
    if (!Name.safeParse(name).success) continue; // reported by the file's frame
    const loc: Loc = { yf, path: [section, name] };
    const prev = model[section].get(name);
    if (prev) {
      errors.push({ ...keyPosOf(loc), message: `${section}.${name} is defined twice: ${fmt(keyPosOf(prev.loc))} and ${fmt(keyPosOf(loc))}` });
      continue;
    }
    const value = validateWith(entrySchemas[section] as never, raw ?? {}, yf, loc.path, errors);
    if (value === undefined) model.broken.add(`${section}.${name}`);
    (model[section] as Map<string, Located<unknown>>).set(name, { value: value ?? {}, loc });
  }
}

function fmt(p: SourcePos): string {
  return `${p.file}:${p.line}:${p.column}`;
}
