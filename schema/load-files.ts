/**
 * Reads the main file and its includes, validates every file against the language, and merges them into one model
 * whose entries remember where they were written. A name defined twice is an error naming both places.
 */
import path from 'node:path';
import { glob, isDynamicPattern } from 'tinyglobby';
import type { SourcePos, ValidationError } from '../kernel/types.js';
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
import { checkCountLiterals } from './resource-tree.js';
import { insidePathMessage, realRoot, resolveInside } from '../kernel/repository-paths.js';
import { keyPosOf, readYamlFile, type Loc, type Located, type YamlFile } from './yaml-file.js';
import { validateWith } from './zod-issues.js';

/** Where a value was written: a file and the path of its YAML node. */
export interface Model {
  /** The repository root, symlinks resolved (unset when it cannot be read). */
  root?: string;
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

/** Loads and validates every file of a description rooted at `dir`; nothing outside `dir` is read. */
export async function loadFiles(dir: string, mainFile: string, errors: ValidationError[]): Promise<Model> {
  const model: Model = {
    files: [],
    roles: new Map(),
    blueprints: new Map(),
    environments: new Map(),
    broken: new Set(),
  };
  const mainRel = toRel(dir, path.resolve(dir, mainFile));
  const root = await realRoot(dir).catch(() => null);
  if (!root) {
    errors.push({ file: mainRel, line: 1, column: 1, message: `cannot read the repository directory ${dir}` });
    return model;
  }
  model.root = root;
  const mainPath = await mainFilePath(root, mainRel, errors);
  if (mainPath === null) return model;
  const main = await readYamlFile(mainPath, mainRel, errors);
  model.files.push(main);
  if (
    main.doc === null &&
    errors.length > 0 &&
    errors.some((e) => e.file === mainRel && /cannot read|not a regular/.test(e.message))
  ) {
    return model;
  }
  const frame = mergeFile(model, main, true, errors);
  const includes = await expandIncludes(dir, root, main, frame?.include ?? [], errors);
  for (const { rel, real } of includes) {
    const yf = await readYamlFile(real, rel, errors);
    model.files.push(yf);
    mergeFile(model, yf, false, errors);
  }
  return model;
}

/** The main file's real path, or null (with an error) when it lies outside the repository. */
async function mainFilePath(root: string, mainRel: string, errors: ValidationError[]): Promise<string | null> {
  if (mainRel === '..' || mainRel.startsWith('../') || path.isAbsolute(mainRel)) {
    errors.push({
      file: mainRel,
      line: 1,
      column: 1,
      message: 'the description file is outside the repository directory: use a file inside it',
    });
    return null;
  }
  const r = await resolveInside(root, mainRel);
  if (r.ok) return r.real;
  // A missing file is reported by the reader ("file not found"); a link that leaves the repository is never followed.
  if (r.reason === 'missing') return path.join(root, mainRel);
  errors.push({
    file: mainRel,
    line: 1,
    column: 1,
    message: insidePathMessage(`the description file '${mainRel}'`, r),
  });
  return null;
}

interface IncludedFile {
  rel: string;
  real: string;
}

async function expandIncludes(
  dir: string,
  root: string,
  main: YamlFile,
  patterns: string[],
  errors: ValidationError[],
): Promise<IncludedFile[]> {
  const found = new Map<string, IncludedFile>();
  const mainReal = await resolveInside(root, main.file);
  if (mainReal.ok) found.set(mainReal.real, { rel: main.file, real: mainReal.real });
  for (let i = 0; i < patterns.length; i++) {
    const files = await expandPattern(dir, root, patterns[i], (message) =>
      errors.push({ ...main.pos(['include', i]), message }),
    );
    for (const f of files) if (!found.has(f.real)) found.set(f.real, f);
    if (found.size > LIMITS.files) {
      errors.push({
        ...main.pos(['include', i]),
        message: `too many files: more than the limit of ${LIMITS.files} files per description`,
      });
      break;
    }
  }
  return [...found.values()].filter((f) => f.rel !== main.file).slice(0, LIMITS.files - 1);
}

/**
 * The files one include pattern names, in name order. The pattern's literal directories are resolved first (a symlink
 * leaving the repository is refused before anything behind it is listed); wildcards never follow symlinks; every match
 * is resolved again before it is read.
 */
async function expandPattern(
  dir: string,
  root: string,
  p: string,
  report: (message: string) => void,
): Promise<IncludedFile[]> {
  const what = `include pattern '${p}'`;
  // Braces can hide a '..' too ('{..,x}/*.yml').
  if (path.isAbsolute(p) || p.split(/[\\/{},]/).includes('..')) {
    report(`${what} must be relative and stay inside the repository`);
    return [];
  }
  if (!isDynamicPattern(p)) {
    const r = await resolveInside(root, p);
    if (r.ok && r.kind === 'file') return [{ rel: toRel(dir, path.resolve(dir, p)), real: r.real }];
    if (r.ok) report(`included file '${p}' is not a regular file`);
    else if (r.reason === 'missing') report(`included file '${p}' does not exist`);
    else report(insidePathMessage(`included file '${p}'`, r));
    return [];
  }
  const segments = p.split('/');
  const literal = segments
    .slice(
      0,
      segments.findIndex((s) => isDynamicPattern(s)),
    )
    .join('/');
  if (literal) {
    const base = await resolveInside(root, literal);
    if (!base.ok && base.reason !== 'missing') {
      report(insidePathMessage(what, base));
      return [];
    }
  }
  let matches: string[];
  try {
    matches = await glob(p, {
      cwd: root,
      onlyFiles: true,
      dot: false,
      followSymbolicLinks: false,
      expandDirectories: false,
    });
  } catch (e) {
    report(`bad include pattern '${p}': ${(e as Error).message}`);
    return [];
  }
  const out: IncludedFile[] = [];
  for (const m of matches.sort()) {
    const r = await resolveInside(root, m);
    if (r.ok && r.kind === 'file') out.push({ rel: toRel(root, path.resolve(root, m)), real: r.real });
    else if (!r.ok && r.reason !== 'missing') {
      report(insidePathMessage(what, r));
      return [];
    }
  }
  return out;
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
    if (prev)
      errors.push({
        ...keyPosOf(loc),
        message: `${key} is defined twice: ${fmt(keyPosOf(prev.loc))} and ${fmt(keyPosOf(loc))}`,
      });
    else if (value !== undefined) (model[key] as Located<unknown>) = { value, loc };
  }
  for (const section of ['roles', 'blueprints', 'environments'] as const) {
    const entries = obj[section];
    if (entries && typeof entries === 'object' && !Array.isArray(entries))
      mergeSection(model, yf, section, entries as Record<string, unknown>, errors);
  }
  return (
    frame ?? {
      include: Array.isArray(obj.include)
        ? obj.include.filter((p): p is string => typeof p === 'string' && p !== '')
        : [],
    }
  );
}

function mergeSection(
  model: Model,
  yf: YamlFile,
  section: Section,
  entries: Record<string, unknown>,
  errors: ValidationError[],
) {
  for (const [name, raw] of Object.entries(entries)) {
    if (!Name.safeParse(name).success) continue; // reported by the file's frame
    const loc: Loc = { yf, path: [section, name] };
    const prev = model[section].get(name);
    if (prev) {
      errors.push({
        ...keyPosOf(loc),
        message: `${section}.${name} is defined twice: ${fmt(keyPosOf(prev.loc))} and ${fmt(keyPosOf(loc))}`,
      });
      continue;
    }
    const value = validateWith(entrySchemas[section] as never, raw ?? {}, yf, loc.path, errors);
    if (section !== 'roles') checkCountLiterals(raw, loc, errors);
    if (value === undefined) model.broken.add(`${section}.${name}`);
    (model[section] as Map<string, Located<unknown>>).set(name, { value: value ?? {}, loc });
  }
}

function fmt(p: SourcePos): string {
  return `${p.file}:${p.line}:${p.column}`;
}
