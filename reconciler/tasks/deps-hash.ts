/**
 * Content hash of a deps directory: every path, type, executable bit and content, in a stable order. Two checkouts
 * with the same deps get the same hash, so a host keeps one copy per content.
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { PolitburoError } from '../types.js';

/** Hashes a deps directory (sha256, hex). */
export async function hashDepsDir(dir: string): Promise<string> {
  const info = await lstat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new PolitburoError('InvalidSpec', `deps directory ${dir} does not exist or is not a directory`);
  const hash = createHash('sha256');
  await walk(dir, '', hash);
  return hash.digest('hex');
}

async function walk(root: string, rel: string, hash: ReturnType<typeof createHash>): Promise<void> {
  const names = (await readdir(path.join(root, rel))).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const relPath = rel ? `${rel}/${name}` : name;
    const full = path.join(root, relPath);
    const info = await lstat(full);
    if (info.isDirectory()) {
      hash.update(`D\0${relPath}\0`);
      await walk(root, relPath, hash);
    } else if (info.isSymbolicLink()) {
      hash.update(`L\0${relPath}\0${await readlink(full)}\0`);
    } else if (info.isFile()) {
      const content = await readFile(full);
      hash.update(`F\0${relPath}\0${info.mode & 0o111 ? 'x' : '-'}\0${content.length}\0`);
      hash.update(content);
    }
  }
}
