/**
 * Counts the SSH sessions opened on test hosts: sshd runs ~/.ssh/rc at the start of every session, and each appends a
 * line to ~/sessions. Tests use it to prove that nothing reached a host (a manual environment, a refused apply).
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SshHost } from './sshd.js';

/** Installs the counting ~/.ssh/rc on each host; the returned function reads how many sessions were opened so far. */
export async function countSshSessions(hosts: readonly Pick<SshHost, 'home'>[]): Promise<() => Promise<number>> {
  for (const host of hosts) {
    await mkdir(path.join(host.home, '.ssh'), { recursive: true, mode: 0o755 });
    await writeFile(path.join(host.home, '.ssh', 'rc'), 'echo session >> "$HOME/sessions"\n');
    await chmod(path.join(host.home, '.ssh', 'rc'), 0o755);
  }
  return async () => {
    let n = 0;
    for (const host of hosts)
      n += (await readFile(path.join(host.home, 'sessions'), 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean).length;
    return n;
  };
}
