/**
 * Content hash of a deps directory: every path, type, executable bit and content, in a stable order. Two checkouts
 * with the same deps get the same hash, so a host keeps one copy per content.
 *
 * The directory is copied to hosts as it is, symlinks included, so a symlink in it must be relative and point inside
 * it: one leading elsewhere would ship (or, on the controller's own machine, read) files outside the repository
 * (docs/language.md, "Files the description names").
 */
import { createHash, type Hash } from 'node:crypto';
import { lstat, readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { PolitburoError } from './types.js';

/** Hashes a deps directory (sha256, hex); refuses a symlink that leads outside it. */
export async function hashDepsDir(dir: string): Promise<string> {
  const hash = createHash('sha256');
  await walkDepsDir(dir, hash);
  return hash.digest('hex');
}

/**
 * Checks a deps directory before it is copied: it exists, and every symlink in it is relative and stays inside.
 * `label` names the directory in messages (default: its path).
 */
export async function checkDepsDir(dir: string, label = dir): Promise<void> {
  await walkDepsDir(dir, null, label);
}

async function walkDepsDir(dir: string, hash: Hash | null, label = dir): Promise<void> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory())
    throw new PolitburoError('InvalidSpec', `deps directory ${label} does not exist or is not a directory`);
  await walk({ dir, real: await realpath(dir), hash, label }, '');
}

interface Walk {
  dir: string;
  real: string;
  hash: Hash | null;
  label: string;
}

async function walk(w: Walk, rel: string): Promise<void> {
  const names = (await readdir(path.join(w.dir, rel))).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const relPath = rel ? `${rel}/${name}` : name;
    const full = path.join(w.dir, relPath);
    const info = await lstat(full);
    if (info.isDirectory()) {
      w.hash?.update(`D\0${relPath}\0`);
      await walk(w, relPath);
    } else if (info.isSymbolicLink()) {
      const target = await readlink(full);
      await checkLink(w, relPath, target);
      w.hash?.update(`L\0${relPath}\0${target}\0`);
    } else if (info.isFile() && w.hash) {
      const content = await readFile(full);
      w.hash.update(`F\0${relPath}\0${info.mode & 0o111 ? 'x' : '-'}\0${content.length}\0`);
      w.hash.update(content);
    }
  }
}

/** A link must read the same on a host as here: relative, inside the directory both as written and once resolved. */
async function checkLink(w: Walk, relPath: string, target: string): Promise<void> {
  const refuse = (why: string) =>
    new PolitburoError(
      'InvalidSpec',
      `deps directory ${w.label}: the symlink '${relPath}' ${why}: copy the file into the deps directory instead`,
    );
  if (path.isAbsolute(target)) throw refuse('is absolute');
  const lexical = path.relative(w.dir, path.resolve(w.dir, path.dirname(relPath), target));
  if (lexical === '..' || lexical.startsWith(`..${path.sep}`)) throw refuse('points outside the deps directory');
  const resolved = await realpath(path.join(w.dir, relPath)).catch(() => null);
  if (resolved === null) throw refuse('points to nothing');
  if (resolved !== w.real && !resolved.startsWith(w.real + path.sep)) throw refuse('points outside the deps directory');
}
