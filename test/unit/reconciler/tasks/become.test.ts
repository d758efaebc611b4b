// The sudo command lines of become.ts and the messages for what sudo answers (its messages as sudo 1.9 prints them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  becomeCheckCommand,
  becomeCommand,
  copyDepsCommand,
  sudoFailureMessage,
  sudoWords,
} from '../../../../reconciler/tasks/become.js';
import type { BecomeSpec } from '../../../../kernel/types.js';

const root: BecomeSpec = { method: 'sudo', user: 'root' };
const ctx = { address: 'web-1.example', sshUser: 'deploy', withPassword: false };
const fail = (stderr: string, code: number | null = 1, b = root) =>
  sudoFailureMessage({ code, stderr, timedOut: false }, b, ctx);

test('sudo runs non-interactively without a password, and reads one from stdin with it', () => {
  assert.equal(sudoWords(root, false), 'sudo -n -H -u root --');
  assert.equal(sudoWords({ method: 'sudo', user: "we'ird" }, true), "sudo -k -S -p '' -H -u 'we'\\''ird' --");
});

test('commands carry the command quoted, never a password (there is none to carry: it goes on stdin)', () => {
  const b: BecomeSpec = { method: 'sudo', user: 'deploy', password: '${secret.pw}' };
  for (const cmd of [
    becomeCommand("echo 'hi'", b, { password: true }),
    becomeCommand('cd /d && babushka meet x', b, { password: true, babushka: true }),
    becomeCheckCommand(b, true, 'abc'),
    copyDepsCommand('/home/u/.politburo/deps/abc', 'abc', b, true),
  ]) {
    assert.ok(!cmd.includes('secret'), cmd);
    assert.match(cmd, /sudo -k -S -p '' -H -u deploy --/);
  }
  assert.match(becomeCommand("echo 'hi'", root, { password: false }), /^exec sudo -n -H -u root -- \/bin\/sh -c /);
  // Babushka is the SSH user's (its PATH, not a held command's function), run as the become user; a held command's
  // FIFO and hold file go through sudo as arguments (docs/babushka.md, "Started ahead"), empty when not held.
  const withBabushka = becomeCommand('babushka meet x', root, { password: false, babushka: true });
  assert.match(
    withBabushka,
    /^politburo_babushka=\$\(unset -f babushka 2>\/dev\/null; command -v babushka 2>\/dev\/null\) \|\| politburo_babushka=babushka\n/,
  );
  assert.match(withBabushka, / "\$politburo_babushka" "\$\{POLITBURO_HOLD_FIFO:-\}" "\$\{POLITBURO_HOLD_RB:-\}"$/);
  // The password line is passed on by shell builtins, never as an argument.
  assert.match(copyDepsCommand('/d', 'abc', b, true), /IFS= read -r politburo_pw && printf '%s\\n' "\$politburo_pw"/);
  assert.doesNotMatch(copyDepsCommand('/d', 'abc', root, false), /read -r/);
});

test('what sudo answers becomes a message saying what to do', () => {
  assert.equal(
    fail('sudo: a password is required'),
    "become: sudo on web-1.example asks deploy for a password and none was given: set `become_password: ${secret.NAME}` (deploy's password) or give deploy a NOPASSWD rule in sudoers",
  );
  assert.match(
    fail('Sorry, try again.\nsudo: no password was provided\nsudo: 1 incorrect password attempt'),
    /^become: sudo on web-1\.example refused the password of become_password for deploy/,
  );
  assert.equal(
    fail('sudo: unknown user nosuchuser\nsudo: error initializing audit plugin sudoers_audit', 1, {
      method: 'sudo',
      user: 'nosuchuser',
    }),
    "become: become_user 'nosuchuser' does not exist on web-1.example",
  );
  assert.match(
    fail("Sorry, user deploy is not allowed to execute '/bin/sh -c ...' as root on vm."),
    /^become: sudoers on web-1\.example does not let deploy run commands as root: Sorry, user deploy/,
  );
  assert.match(fail('deploy is not in the sudoers file.'), /does not let deploy run commands as root/);
  assert.match(fail('sh: 1: sudo: not found', 127), /^become: sudo is not installed on web-1\.example/);
  assert.match(fail('sudo: sorry, you must have a tty to run sudo'), /requires a terminal.*!requiretty/);
  assert.equal(fail('something else', 2), 'become: sudo -u root failed on web-1.example (exit 2): something else');
  assert.match(sudoFailureMessage({ code: null, stderr: '', timedOut: true }, root, ctx), /did not answer in time/);
});
