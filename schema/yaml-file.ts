/**
 * One YAML file of a description: parsed with positions kept, so every later problem can point at a line and column.
 * Enforces the per-file limits (size, nesting depth, alias expansion) before the data is ever turned into JS.
 */
import { readFile, stat } from 'node:fs/promises';
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  Parser,
  type CST,
  type Document,
  type Node,
} from 'yaml';
import type { SourcePos, ValidationError } from '../kernel/types.js';
import { LIMITS } from './limits.js';

export type PathKey = string | number;

export interface YamlFile {
  /** Path relative to the description's root directory. */
  file: string;
  doc: Document | null;
  lineCounter: LineCounter;
  /** The file's content as plain data; undefined when the file could not be parsed. */
  data: unknown;
  /** The position of the node at `path` (or of its key with `key`), the deepest existing ancestor otherwise. */
  pos(path: readonly PathKey[], key?: boolean): SourcePos;
}

/** Reads and parses one file; problems are appended to `errors`, never thrown. */
export async function readYamlFile(abs: string, file: string, errors: ValidationError[]): Promise<YamlFile> {
  const lineCounter = new LineCounter();
  const empty: YamlFile = { file, doc: null, lineCounter, data: undefined, pos: () => ({ file, line: 1, column: 1 }) };
  let text: string;
  try {
    const info = await stat(abs);
    if (!info.isFile()) {
      errors.push({ file, line: 1, column: 1, message: 'not a regular file' });
      return empty;
    }
    if (info.size > LIMITS.fileBytes) {
      errors.push({
        file,
        line: 1,
        column: 1,
        message: `file is ${info.size} bytes, more than the limit of 1 MiB (${LIMITS.fileBytes} bytes)`,
      });
      return empty;
    }
    const bytes = await readFile(abs);
    const decoded = decodeUtf8(bytes, file);
    if ('error' in decoded) {
      errors.push(decoded.error);
      return empty;
    }
    text = decoded.text;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    errors.push({ file, line: 1, column: 1, message: `cannot read file: ${why}` });
    return empty;
  }
  return parseYamlText(text, file, errors);
}

/** Decodes a file's bytes; bytes that are not UTF-8 are an error at the first bad byte (never silently replaced). */
export function decodeUtf8(bytes: Uint8Array, file: string): { text: string } | { error: ValidationError } {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes) };
  } catch {
    const offset = firstInvalidByte(bytes);
    const lineStart = bytes.lastIndexOf(0x0a, offset - 1) + 1;
    let line = 1;
    for (let i = 0; i < lineStart; i++) if (bytes[i] === 0x0a) line++;
    const column = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes.subarray(lineStart, offset)).length + 1;
    const byte = `0x${bytes[offset].toString(16).toUpperCase().padStart(2, '0')}`;
    return {
      error: {
        file,
        line,
        column,
        message: `the file is not valid UTF-8: byte ${byte} at byte offset ${offset} cannot be decoded; save the file as UTF-8`,
      },
    };
  }
}

/** Offset of the first byte that cannot be decoded: the shortest prefix that fails to decode ends with it. */
function firstInvalidByte(bytes: Uint8Array): number {
  const fails = (length: number) => {
    try {
      new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(0, length), { stream: true });
      return false;
    } catch {
      return true;
    }
  };
  let lo = 1;
  let hi = bytes.length;
  // A prefix that ends inside a valid sequence decodes in stream mode, so "fails" is monotonic in the length.
  if (!fails(hi)) return sequenceStart(bytes, hi - 1); // a sequence cut off by the end of the file
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (fails(mid)) hi = mid;
    else lo = mid + 1;
  }
  return sequenceStart(bytes, lo - 1);
}

/** The decoder notices a bad sequence at a later byte: point at the lead byte of the sequence it belongs to. */
function sequenceStart(bytes: Uint8Array, at: number): number {
  for (let j = at - 1; j >= Math.max(0, at - 3); j--) {
    if (bytes[j] >= 0xc0) return j;
    if ((bytes[j] & 0xc0) !== 0x80) break;
  }
  return at;
}

/** Parses YAML text into a YamlFile (exported for tests and for in-memory descriptions). */
function parseYamlText(text: string, file: string, errors: ValidationError[]): YamlFile {
  const lineCounter = new LineCounter();
  const at = positionIn(text, file);
  // Composing the document recurses once per nesting level: a deep file is refused before, from the (iterative) CST.
  const deep = tooDeepOffset(text);
  if (deep !== null) {
    errors.push({ ...at(deep), message: `nesting deeper than the limit of ${LIMITS.depth} levels` });
    return { file, doc: null, lineCounter, data: undefined, pos: () => at(deep) };
  }
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const yf: YamlFile = {
    file,
    doc,
    lineCounter,
    data: undefined,
    pos: (path, key) => nodePos(doc, path, key ?? false, at),
  };
  if (doc.errors.length > 0) {
    // The first syntax error only: after it the parser's view of the rest of the file is guesswork.
    const e = doc.errors[0];
    const message =
      e.code === 'MULTIPLE_DOCS'
        ? "a description file holds one YAML document: remove the '---' separator"
        : yamlMessage(e.message);
    errors.push({ ...at(e.pos[0]), message: `YAML syntax error: ${message}` });
    return yf;
  }
  const bad = findBadNode(doc.contents as Node | null, 0);
  if (bad) {
    errors.push({ ...at(bad.node.range?.[0] ?? 0), message: bad.message });
    return yf;
  }
  try {
    yf.data = doc.toJS({ maxAliasCount: LIMITS.aliasCount });
  } catch (e) {
    const msg = /alias/i.test((e as Error).message)
      ? `YAML aliases expand too much (limit ${LIMITS.aliasCount} alias uses per file)`
      : `cannot read YAML: ${(e as Error).message}`;
    errors.push({ file, line: 1, column: 1, message: msg });
  }
  return yf;
}

/** Offset of the first collection nested deeper than the limit, or null; walks the parser's CST without recursion. */
function tooDeepOffset(text: string): number | null {
  const stack: { token: CST.Token | undefined; depth: number }[] = [];
  for (const token of new Parser().parse(text)) stack.push({ token, depth: 0 });
  while (stack.length > 0) {
    const { token, depth } = stack.pop()!;
    if (!token) continue;
    if (token.type === 'document') stack.push({ token: token.value, depth });
    else if (token.type === 'block-map' || token.type === 'block-seq' || token.type === 'flow-collection') {
      if (depth >= LIMITS.depth) return token.offset;
      for (const item of token.items) {
        if ('key' in item) stack.push({ token: item.key ?? undefined, depth: depth + 1 });
        stack.push({ token: item.value, depth: depth + 1 });
      }
    }
  }
  return null;
}

/** Maps a character offset to a 1-based line and column (own index: robust whatever the parser saw). */
function positionIn(text: string, file: string): (offset: number) => SourcePos {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return (offset) => {
    const o = Math.max(0, Math.min(offset, text.length));
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= o) lo = mid;
      else hi = mid - 1;
    }
    return { file, line: lo + 1, column: o - starts[lo] + 1 };
  };
}

function yamlMessage(message: string): string {
  return message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
}

/** The first node nested deeper than the limit, or a mapping key that is not a scalar (aliases are leaves here). */
function findBadNode(node: Node | null | undefined, depth: number): { node: Node; message: string } | null {
  if (!node) return null;
  if (isMap(node) || isSeq(node)) {
    if (depth >= LIMITS.depth) return { node, message: `nesting deeper than the limit of ${LIMITS.depth} levels` };
    for (const item of node.items as unknown[]) {
      if (isPair(item) && item.key !== null && !isScalar(item.key)) {
        return { node: item.key as Node, message: 'a mapping key must be a plain string, not a list or a mapping' };
      }
      if (isPair(item) && isScalar(item.key) && item.key.value === '__proto__') {
        return { node: item.key as Node, message: "the key '__proto__' is not allowed" };
      }
      const child = isPair(item) ? (item.value as Node | null) : (item as Node);
      const found = findBadNode(child, depth + 1);
      if (found) return found;
    }
  }
  return null;
}

function nodePos(doc: Document, path: readonly PathKey[], key: boolean, at: (o: number) => SourcePos): SourcePos {
  let node: unknown = doc.contents;
  let last = 0;
  let seen = 0;
  for (let i = 0; i < path.length; i++) {
    if (isAlias(node)) node = node.resolve(doc);
    if (node && (node as Node).range) last = (node as Node).range![0];
    const k = path[i];
    let next: unknown = undefined;
    let keyNode: unknown = undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(k));
      if (pair) {
        keyNode = pair.key;
        next = pair.value ?? pair.key;
      }
    } else if (isSeq(node) && typeof k === 'number') {
      next = node.items[k];
    }
    if (next === undefined) return at(last);
    if (key && i === path.length - 1 && isScalar(keyNode) && keyNode.range) return at(keyNode.range[0]);
    node = next;
    seen++;
    if (seen > 10000) break;
  }
  if (isAlias(node) && (node as Node).range) return at((node as Node).range![0]);
  return at((node as Node | null)?.range?.[0] ?? last);
}

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
