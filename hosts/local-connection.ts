/**
 * The `local` host: commands run with `/bin/sh -c` on the controller's own machine, behind the same interface as SSH.
 */
import { cp, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PolitburoError, type ExecResult, type HostConnection } from '../kernel/types.js';
import { checkDepsHash } from './deps-upload.js';
import type { ExecOptions } from '../kernel/exec-options.js';
import { OutputBuffer } from './output-buffer.js';
import { spawnWithLifeline } from '../kernel/lifeline.js';

const KILL_AFTER_MS = 5000;

export interface LocalConnectionOptions {
  /** Where deps directories are kept (default `~/.politburo/deps`). */
  depsRoot?: string;
}

/** A HostConnection to this machine. */
export function createLocalConnection(opts: LocalConnectionOptions = {}): HostConnection {
  const depsRoot = opts.depsRoot ?? path.join(os.homedir(), '.politburo', 'deps');
  const pending = new Map<string, Promise<string>>();
  return {
    address: 'local',
    exec: (command: string, execOpts?: ExecOptions) => execLocal(command, execOpts),
    ensureDeps(localDir: string, hash: string) {
      let p = pending.get(hash);
      if (!p) {
        p = copyDeps(depsRoot, localDir, hash);
        pending.set(hash, p);
        p.catch(() => pending.delete(hash));
      }
      return p;
    },
    close: async () => undefined,
  };
}

/**
 * Runs a command in its own process group so a timeout kills everything it started, and so does this process's death.
 */
export function execLocal(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
  if (opts.signal?.aborted)
    return Promise.reject(new PolitburoError('Interrupted', 'the command was cancelled before it started'));
  return new Promise((resolve, reject) => {
    const child = spawnWithLifeline(command);
    const stdout = new OutputBuffer();
    const stderr = new OutputBuffer();
    let timedOut = false;
    let aborted = false;
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // already gone
      }
    };
    const kill = () => {
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), KILL_AFTER_MS).unref();
    };
    const timer = opts.timeoutMs ? setTimeout(() => ((timedOut = true), kill()), opts.timeoutMs) : undefined;
    const onAbort = () => ((aborted = true), kill());
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (d: Buffer) => {
      stdout.push(d);
      opts.onStdout?.(d);
    });
    child.stderr.on('data', (d: Buffer) => stderr.push(d));
    child.stdin.on('error', () => undefined); // the command may exit without reading its stdin
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new PolitburoError('HostUnreachable', `local: could not start /bin/sh: ${err.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (aborted) return reject(new PolitburoError('Interrupted', 'local: the command was cancelled'));
      resolve({ code: timedOut ? null : code, stdout: stdout.toString(), stderr: stderr.toString(), timedOut });
    });
    child.stdin.end(opts.stdin ?? undefined);
  });
}

async function copyDeps(depsRoot: string, localDir: string, hash: string): Promise<string> {
  checkDepsHash(hash);
  const dest = path.join(depsRoot, hash);
  if (await isDir(path.join(dest, 'babushka-deps'))) return dest;
  if (!(await isDir(localDir)))
    throw new PolitburoError('InvalidSpec', `deps directory ${localDir} does not exist or is not a directory`);
  await mkdir(depsRoot, { recursive: true });
  const tmp = await mkdtemp(path.join(depsRoot, '.upload.'));
  try {
    await cp(localDir, path.join(tmp, 'babushka-deps'), { recursive: true, verbatimSymlinks: true });
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    // Another run put the same content there first.
    if (!(await isDir(path.join(dest, 'babushka-deps')))) throw err;
  }
  return dest;
}

async function isDir(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null))?.isDirectory() ?? false;
}
