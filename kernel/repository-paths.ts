/**
 * Paths a description names (the main file, includes, deps, known_hosts, provider scripts) are relative to the
 * repository root and stay inside it once every symlink is resolved: nothing outside the repository is ever read
 * (docs/language.md, "Files the description names"). Messages name the path as written and the link that leaves, never
 * what is outside.
 */
import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';

export type PathKind = 'file' | 'directory' | 'other';

export type InsidePath =
  | { ok: true; real: string; kind: PathKind }
  | {
      ok: false;
      reason: 'absolute' | 'dotdot' | 'git' | 'missing' | 'outside' | 'broken-link' | 'unreadable';
      link?: string;
    };

/** The repository root with its own symlinks resolved (a checkout under a symlinked /tmp is still one repository). */
export async function realRoot(dir: string): Promise<string> {
  return realpath(path.resolve(dir));
}

/** True when `real` (a resolved path) is the root or under it. */
function isInside(root: string, real: string): boolean {
  return real === root || real.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

/**
 * Resolves `rel` under the (resolved) `root` one segment at a time, following a symlink only when it stays inside.
 * Never reads a file's content, and never lists or stats anything behind a link that leaves the repository.
 */
export async function resolveInside(root: string, rel: string): Promise<InsidePath> {
  if (path.isAbsolute(rel) || /^[A-Za-z]:/.test(rel)) return { ok: false, reason: 'absolute' };
  const segments = rel.split(/[\\/]/).filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) return { ok: false, reason: 'dotdot' };
  let current = root;
  for (let i = 0; i < segments.length; i++) {
    const next = path.join(current, segments[i]);
    const written = segments.slice(0, i + 1).join('/');
    let info;
    try {
      info = await lstat(next);
    } catch (e) {
      return {
        ok: false,
        reason:
          (e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR'
            ? 'missing'
            : 'unreadable',
      };
    }
    if (!info.isSymbolicLink()) {
      current = next;
      continue;
    }
    let target: string;
    try {
      target = await realpath(next);
    } catch {
      return { ok: false, reason: 'broken-link', link: written };
    }
    if (!isInside(root, target)) return { ok: false, reason: 'outside', link: written };
    current = target;
  }
  // A working copy's .git holds credentials (a CI checkout's token): never part of a description, even through a link.
  if (path.relative(root, current).split(path.sep).includes('.git')) return { ok: false, reason: 'git' };
  const info = await lstat(current).catch(() => null);
  if (!info) return { ok: false, reason: 'missing' };
  return { ok: true, real: current, kind: info.isFile() ? 'file' : info.isDirectory() ? 'directory' : 'other' };
}

/** Why a path was refused, in words: `what` names it as the user wrote it (e.g. `known_hosts 'x'`). */
export function insidePathMessage(what: string, r: Extract<InsidePath, { ok: false }>): string {
  switch (r.reason) {
    case 'absolute':
      return `${what} is an absolute path: use a path relative to the repository root`;
    case 'dotdot':
      return `${what} must not contain '..': use a path inside the repository`;
    case 'git':
      return `${what} is inside a .git directory, which is never read: use a file of the repository's content`;
    case 'outside':
      return `${what} leads outside the repository through the symlink '${r.link}': only paths inside the repository can be used`;
    case 'broken-link':
      return `${what}: the symlink '${r.link}' points to nothing (or loops): fix or remove the link`;
    case 'missing':
      return `${what} does not exist in the repository`;
    case 'unreadable':
      return `${what} cannot be read`;
  }
}
