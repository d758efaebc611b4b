/**
 * Ships a deps directory to a host once per content: `~/.politburo/deps/<hash>/babushka-deps`. A quick `test -d` first;
 * otherwise a tar stream over the exec channel's stdin, unpacked in a temp dir and renamed into place atomically, so
 * concurrent runs never see half a directory.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { checkDepsDir } from '../kernel/deps-hash.js';
import { PolitburoError, type ExecResult } from '../kernel/types.js';
import type { ExecOptions } from '../kernel/exec-options.js';
import { quoteShell } from '../kernel/quote-shell.js';

const run = promisify(execFile);

export type Exec = (command: string, opts?: ExecOptions) => Promise<ExecResult>;

/** Validates a content hash before it becomes part of a path on a host. */
export function checkDepsHash(hash: string): void {
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(hash)) {
    throw new PolitburoError(
      'InvalidSpec',
      `deps hash ${JSON.stringify(hash)} is not a plain hash (letters, digits, - and _)`,
    );
  }
}

/**
 * Tars a local directory's content (not the directory itself) into a buffer; a symlink leading outside it is refused.
 */
export async function tarDirectory(localDir: string): Promise<Buffer> {
  await checkDepsDir(localDir);
  const { stdout } = await run('tar', ['-C', localDir, '-cf', '-', '.'], {
    encoding: 'buffer',
    maxBuffer: 512 * 1024 * 1024,
  });
  return stdout;
}

/** Where the deps of content `hash` are on a host, relative to the home directory an SSH command starts in. */
export function remoteDepsPath(hash: string): string {
  checkDepsHash(hash);
  return `.politburo/deps/${hash}`;
}

/**
 * Makes sure the deps are on the host; returns the absolute remote directory to `cd` into. Calls onUpload when it
 * uploads.
 */
export async function ensureRemoteDeps(
  exec: Exec,
  address: string,
  localDir: string,
  hash: string,
  onUpload?: () => void,
): Promise<string> {
  const rel = remoteDepsPath(hash);
  const check = await exec(`cd && pwd && test -d ${rel}/babushka-deps`, { timeoutMs: 60_000 });
  const home = check.stdout.split('\n')[0].trim();
  if (!home.startsWith('/')) throw uploadError(address, 'could not find the home directory', check);
  if (check.code === 0) return `${home}/${rel}`;
  const tar = await tarDirectory(localDir);
  onUpload?.();
  const script = [
    'set -e',
    'cd',
    'mkdir -p .politburo/deps',
    'tmp=$(mktemp -d .politburo/deps/.upload.XXXXXXXX)',
    'mkdir "$tmp/babushka-deps"',
    'tar -x -f - -C "$tmp/babushka-deps" --no-same-owner',
    'chmod 755 "$tmp"',
    // Another run may have won the race: keep its copy.
    `if ! mv -T "$tmp" ${quoteShell(rel)} 2>/dev/null; then rm -rf "$tmp"; test -d ${quoteShell(rel)}/babushka-deps; fi`,
  ].join('\n');
  const up = await exec(script, { stdin: tar, timeoutMs: 300_000 });
  if (up.code !== 0) throw uploadError(address, 'uploading the deps failed', up);
  return `${home}/${rel}`;
}

function uploadError(address: string, what: string, r: ExecResult): PolitburoError {
  const detail = (r.stderr || r.stdout).trim().split('\n').slice(-5).join('\n');
  return new PolitburoError(
    'TaskFailed',
    `${address}: ${what}${r.timedOut ? ' (timed out)' : ` (exit ${r.code})`}: ${detail}`,
  );
}
