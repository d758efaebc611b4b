/** Local commands that die with the process that started them (see docs/operations.md, "A process is killed"). */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/**
 * Runs `$1` with a lifeline: fd 3 is a pipe from this process that is never written to. A watcher waits for it to
 * close, which happens only when this process dies (kill -9 included) while the command runs; it then kills the
 * command's whole process group (TERM, then KILL after 5 s), so no task outlives the run that started it. When the
 * command ends normally the watcher is stopped and what the command left running is left alone.
 */
const WRAPPER = [
  '{ read -r _ <&3; trap "" TERM; kill -TERM 0; sleep 5; kill -KILL 0; } </dev/null >/dev/null 2>&1 &',
  'exec 3<&-',
  '/bin/sh -c "$1"',
  'rc=$?',
  'kill $! 2>/dev/null',
  'exit $rc',
].join('\n');

/**
 * Spawns `/bin/sh -c command` in a process group of its own (so a timeout or Ctrl-C can kill everything it started)
 * behind the lifeline above; stdin, stdout and stderr are pipes.
 */
export function spawnWithLifeline(
  command: string,
  opts: { cwd?: string; name?: string } = {},
): ChildProcessByStdio<Writable, Readable, Readable> {
  const child = spawn('/bin/sh', ['-c', WRAPPER, opts.name ?? 'politburo-task', command], {
    cwd: opts.cwd,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
  });
  // Read (nothing ever comes) so the pipe closes when the wrapper and its watcher are gone.
  (child.stdio[3] as Readable | null)?.on('error', () => undefined).resume();
  return child as unknown as ChildProcessByStdio<Writable, Readable, Readable>;
}
