/** Controller child processes for the crash and replica tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

export interface ControllerProcess {
  child: ChildProcess;
  url: string;
  /** stderr so far. */
  log(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Spawns `politburo serve` (cli/bin.ts) with the environment; resolves once it logs that it listens. */
export async function spawnController(env: Record<string, string>, timeoutMs = 120_000): Promise<ControllerProcess> {
  // Logs at info, as JSON lines on stdout: the "listening" line carries the URL.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'cli', 'bin.ts'), 'serve'], {
    cwd: root,
    env: { ...process.env, ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-200_000)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`controller did not start within ${timeoutMs} ms:\n${stderr.slice(-3000)}`)),
      timeoutMs,
    );
    let out = '';
    let found = false;
    // Keep reading stdout after the URL is found (a full pipe would block the child), but keep none of it.
    child.stdout!.on('data', (c: Buffer) => {
      if (found) return;
      out += c.toString();
      const m = /"url":"(http:\/\/[^"]+)"[^\n]*listening/.exec(out);
      if (m) {
        found = true;
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`controller exited with ${code} before listening:\n${stderr.slice(-3000)}`));
    });
  });
  return {
    child,
    url,
    log: () => stderr,
    kill: (signal = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}
