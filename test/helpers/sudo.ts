/**
 * Real sudo for tests: sudoers rules in /etc/sudoers.d (checked with visudo), passwords of test users, and extra unix
 * users to become. Needs root (CI runs as root) and the `sudo` package. Everything made here is undone by cleanup().
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SudoFixture {
  /** Writes a sudoers rule letting `user` run anything as `runAs` (default any user), with or without a password. */
  allow(user: string, opts: { nopasswd: boolean; runAs?: string }): Promise<void>;
  /** Removes the rules written for `user`. */
  disallow(user: string): Promise<void>;
  /** Sets a user's password (restored to `*`, no password, by cleanup). */
  setPassword(user: string, password: string): Promise<void>;
  /** Creates a unix user with a home of its own (mode 700); removed by cleanup. Returns its name and home. */
  addUser(): Promise<{ name: string; home: string }>;
  cleanup(): Promise<void>;
}

/** Starts a fixture; call cleanup() in `after`. */
export async function sudoFixture(): Promise<SudoFixture> {
  if (process.getuid?.() !== 0) throw new Error('test/helpers/sudo.ts needs root: it writes /etc/sudoers.d');
  await run('sudo', ['-V']).catch(() => {
    throw new Error('sudo is not installed (Debian package `sudo`; .ci/run installs it)');
  });
  const files = new Map<string, string>();
  const passwords = new Set<string>();
  const users: string[] = [];
  const fixture: SudoFixture = {
    async allow(user, opts) {
      // sudo ignores files in sudoers.d whose names contain a dot.
      const file = `/etc/sudoers.d/politburo-test-${user}`;
      const rule = `${user} ALL=(${opts.runAs ?? 'ALL'}:ALL) ${opts.nopasswd ? 'NOPASSWD: ' : ''}ALL\n`;
      const tmp = `${file}-${randomBytes(4).toString('hex')}~`; // `~`: ignored by sudo until renamed
      await mkdir('/etc/sudoers.d', { recursive: true });
      await writeFile(tmp, rule, { mode: 0o440 });
      try {
        await run('visudo', ['-c', '-q', '-f', tmp]);
        await run('mv', ['-f', tmp, file]);
      } finally {
        await rm(tmp, { force: true });
      }
      await chmod(file, 0o440);
      files.set(user, file);
    },
    async disallow(user) {
      const file = files.get(user);
      if (file) await rm(file, { force: true });
      files.delete(user);
    },
    async setPassword(user, password) {
      passwords.add(user);
      await new Promise<void>((resolve, reject) => {
        const child = execFile('chpasswd', (err) => (err ? reject(err) : resolve()));
        child.stdin!.end(`${user}:${password}\n`);
      });
    },
    async addUser() {
      const name = `pbb${randomBytes(3).toString('hex')}`;
      const home = `/home/${name}`;
      for (let attempt = 0; ; attempt++) {
        try {
          await run('useradd', ['-m', '-d', home, '-s', '/bin/sh', '-p', '*', name]);
          break;
        } catch (err) {
          if (attempt > 30) throw err;
          await new Promise((r) => setTimeout(r, 50 + Math.random() * 100)); // /etc/passwd locked by a parallel useradd
        }
      }
      users.push(name);
      await chmod(home, 0o700);
      return { name, home };
    },
    async cleanup() {
      await Promise.all([...files.values()].map((f) => rm(f, { force: true })));
      files.clear();
      // `*` as the test helpers' users had (test/helpers/sshd.ts): no password, public keys still accepted.
      for (const user of passwords) await run('usermod', ['-p', '*', user]).catch(() => undefined);
      passwords.clear();
      for (const user of users.splice(0)) {
        await run('userdel', ['-r', '-f', user]).catch(() => undefined);
        await rm(`/home/${user}`, { recursive: true, force: true });
      }
    },
  };
  return fixture;
}
