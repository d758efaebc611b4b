/**
 * Privilege escalation of tasks through sudo (docs/language.md, "Privilege escalation").
 *
 * A task with `become` runs as `sudo -u USER -H -- /bin/sh -c ...`, so its commands (and Babushka, with its
 * `~/.babushka`) run as that user with that user's HOME. Without a password sudo runs with `-n` and must not ask; with
 * `become_password` (a `${secret.NAME}`) it runs with `-k -S -p ''` and reads the password from the command's stdin:
 * the
 * password is never on a command line (the process list shows none), in an environment variable, a file or a log (the
 * redactor hides every secret value in output and messages). The escalated command's own stdin is /dev/null, so it can
 * never read the password sudo left unread (a NOPASSWD rule does not ask).
 *
 * Before a node's first task that escalates, one check per distinct setting asks sudo to run a trivial command; its
 * failure becomes the task's failure with a message saying what to fix (no password given, a wrong password, an unknown
 * user, a user sudoers does not allow), so a missing password never hangs and never reaches Babushka.
 *
 * Deps: root reads the SSH user's deps directory (hosts/deps-upload.ts) where it is. Another user gets its own copy in
 * its own home (`~USER/.politburo/deps/HASH`), streamed through sudo: that user may not be able to traverse the SSH
 * user's home (mode 700 is common), and Babushka writes the node's generated dep into the deps directory, which must be
 * writable by the user it runs as. Loosening the permissions of the SSH user's home instead would change a directory
 * Politburo does not own.
 *
 * Timeouts and cancellation: sudo relays the TERM that the remote command's `timeout` (hosts/remote-command.ts)
 * sends, and an inner `timeout` running as the escalated user then kills everything the command started (the SSH user
 * may not signal them itself). With a password the command's stdin carries it, so over SSH it has no lifeline: a task
 * whose run died keeps running until its own timeout (docs/operations.md).
 */
import { quoteShell } from '../../kernel/quote-shell.js';
import { HOLD_FAILED } from '../../kernel/hold.js';
import type { BecomeSpec, ExecResult } from '../../kernel/types.js';
import type { ExecOptions } from '../../kernel/exec-options.js';
import { resolveTaskValue, TaskValueError } from './resolve-task-value.js';
import { execOn, type TaskRun } from './task-run.js';

/** What a task needs to run escalated: the password for sudo's stdin, and the deps directory of the escalated user. */
export type BecomeReady = { ok: true; stdin?: string; dir: string | null } | { ok: false; message: string };

const OK_MARK = 'politburo-become-ok';

/** sudo's options: non-interactive without a password; with one, read from stdin, never from a cached credential. */
export function sudoWords(b: BecomeSpec, withPassword: boolean): string {
  const auth = withPassword ? "-k -S -p ''" : '-n';
  return `sudo ${auth} -H -u ${quoteShell(b.user)} --`;
}

/**
 * The escalated shell: stdin from /dev/null, then the command under an inner `timeout` (as the escalated user, so it
 * can kill what the command started when sudo relays a TERM to it). `$1` is the command; the rest are its arguments.
 */
const INNER = [
  'exec </dev/null',
  'politburo_command=$1',
  'shift',
  'if command -v timeout >/dev/null 2>&1; then exec timeout -k 5 0 /bin/sh -c "$politburo_command" politburo-task "$@"',
  'else exec /bin/sh -c "$politburo_command" politburo-task "$@"; fi',
].join('\n');

/**
 * Wraps `command` to run as the become user. With `babushka`, the `babushka` the SSH user would run (its PATH) is
 * found first and used as the escalated user (sudo's secure_path may not hold it); otherwise the escalated user's PATH.
 */
export function becomeCommand(command: string, b: BecomeSpec, opts: { password: boolean; babushka?: boolean }): string {
  const sudo = sudoWords(b, opts.password);
  if (!opts.babushka) return `exec ${sudo} /bin/sh -c ${quoteShell(INNER)} politburo-become ${quoteShell(command)}`;
  const withBabushka = `${BABUSHKA_AS_BECOME}\n${command}`;
  return [
    // The `babushka` of the SSH user's PATH (not the function of a held command, hosts/babushka-hold.ts).
    'politburo_babushka=$(unset -f babushka 2>/dev/null; command -v babushka 2>/dev/null) || politburo_babushka=babushka',
    `exec ${sudo} /bin/sh -c ${quoteShell(INNER)} politburo-become ${quoteShell(withBabushka)} "$politburo_babushka" "\${POLITBURO_HOLD_FIFO:-}" "\${POLITBURO_HOLD_RB:-}"`,
  ].join('\n');
}

/**
 * `babushka` in the escalated shell: `$1` is the SSH user's babushka. When the command was started ahead and held
 * (hosts/babushka-hold.ts, docs/babushka.md "Started ahead"; only to root without a password, where the node's first
 * task is such: run-node-tasks.ts), `$2` is the hold's FIFO and `$3` the hold file, which sudo's reset environment and
 * closed descriptors would otherwise lose: the FIFO is opened again by its path (root may enter the SSH user's
 * directory; another user may not, and then nothing runs: exit status 125, and the node's run starts it afresh), and
 * the same probe as the SSH user's makes sure this babushka loads the hold file before anything of a dep runs.
 */
const BABUSHKA_AS_BECOME = [
  'politburo_babushka=$1',
  'if test -n "$2"; then',
  // `command exec`: a FIFO it cannot open (or one removed by a release meanwhile) ends it quietly, not with sh's error.
  `  { command exec 9<>"$2"; } 2>/dev/null || exit ${HOLD_FAILED}`,
  '  politburo_hold_rb=$3',
  `  babushka() { test "$(POLITBURO_HOLD=probe RUBYOPT="--disable-gems -r$politburo_hold_rb" "$politburo_babushka" </dev/null 2>/dev/null)" = politburo-hold || exit ${HOLD_FAILED}; RUBYOPT="-r$politburo_hold_rb\${RUBYOPT:+ $RUBYOPT}" POLITBURO_HOLD_FD=9 "$politburo_babushka" "$@"; }`,
  'else',
  '  babushka() { "$politburo_babushka" "$@"; }',
  'fi',
].join('\n');

/**
 * The check: prints the SSH user, then (as the become user, when sudo lets it) a mark, the become user's HOME and
 * whether deps `hash` are in its home.
 */
export function becomeCheckCommand(b: BecomeSpec, withPassword: boolean, hash: string | null): string {
  const inner = [
    `printf '%s\\n%s\\n' ${OK_MARK} "$HOME"`,
    hash === null
      ? 'echo -'
      : 'if test -d "$HOME/.politburo/deps/$1/babushka-deps"; then echo deps; else echo none; fi',
  ].join('\n');
  const sudo = `LC_ALL=C ${sudoWords(b, withPassword)}`;
  return `id -un\n${sudo} /bin/sh -c ${quoteShell(inner)} politburo-become ${quoteShell(hash ?? '-')}`;
}

/**
 * Copies the SSH user's deps directory `src` into the become user's `~/.politburo/deps/HASH` through sudo (a tar
 * stream on sudo's stdin, after the password line when there is one; `read` and `printf` are shell builtins, so the
 * password never becomes an argument). Atomic as hosts/deps-upload.ts: a temp dir renamed into place.
 */
export function copyDepsCommand(src: string, hash: string, b: BecomeSpec, withPassword: boolean): string {
  const inner = [
    'set -e',
    'cd',
    'rel=.politburo/deps/$1',
    'test -d "$rel/babushka-deps" && exit 0',
    'mkdir -p .politburo/deps',
    'tmp=$(mktemp -d .politburo/deps/.upload.XXXXXXXX)',
    'tar -x -f - -C "$tmp" --no-same-owner',
    'chmod 755 "$tmp"',
    'if ! mv -T "$tmp" "$rel" 2>/dev/null; then rm -rf "$tmp"; test -d "$rel/babushka-deps"; fi',
  ].join('\n');
  const feed = withPassword
    ? `{ IFS= read -r politburo_pw && printf '%s\\n' "$politburo_pw"; politburo_pw=; tar -C ${quoteShell(src)} -cf - babushka-deps; }`
    : `tar -C ${quoteShell(src)} -cf - babushka-deps`;
  return `set -e\n${feed} | LC_ALL=C ${sudoWords(b, withPassword)} /bin/sh -c ${quoteShell(inner)} politburo-deps ${quoteShell(hash)}`;
}

/** A sentence saying why sudo did not run the check, and what to do about it. */
export function sudoFailureMessage(
  r: Pick<ExecResult, 'code' | 'stderr' | 'timedOut'>,
  b: BecomeSpec,
  ctx: { address: string; sshUser: string; withPassword: boolean },
): string {
  const err = r.stderr.trim();
  const who = ctx.sshUser || 'the SSH user';
  const lastLines = err.split('\n').slice(-3).join('\n');
  if (r.timedOut) return `become: sudo on ${ctx.address} did not answer in time (as ${b.user})`;
  if (r.code === 127 || /sudo: (command )?not found|sudo: No such file/.test(err))
    return `become: sudo is not installed on ${ctx.address} (install the sudo package, or remove become)`;
  if (/a password is required/.test(err))
    return (
      `become: sudo on ${ctx.address} asks ${who} for a password and none was given: set ` +
      `\`become_password: \${secret.NAME}\` (${who}'s password) or give ${who} a NOPASSWD rule in sudoers`
    );
  if (/incorrect password attempt|Sorry, try again|no password was provided/.test(err))
    return `become: sudo on ${ctx.address} refused the password of become_password for ${who} (a wrong password?)`;
  if (/unknown user/.test(err)) return `become: become_user '${b.user}' does not exist on ${ctx.address}`;
  if (/not in the sudoers file|not allowed to execute|may not run sudo/.test(err))
    return `become: sudoers on ${ctx.address} does not let ${who} run commands as ${b.user}: ${lastLines}`;
  if (/must have a tty|terminal is required/.test(err))
    return `become: sudo on ${ctx.address} requires a terminal: allow ${who} without one (Defaults:${who} !requiretty)`;
  return `become: sudo -u ${b.user} failed on ${ctx.address} (exit ${r.code})${lastLines ? `: ${lastLines}` : ''}`;
}

type Cache = Map<string, Promise<BecomeReady>>;
const caches = new WeakMap<TaskRun, Cache>();

/**
 * Checks once per run of a node and setting that sudo works, and puts the deps where the become user reads them.
 * `depsDir` is the SSH user's deps directory (null for shell tasks).
 */
export function prepareBecome(run: TaskRun, b: BecomeSpec, depsDir: string | null): Promise<BecomeReady> {
  let cache = caches.get(run);
  if (!cache) caches.set(run, (cache = new Map()));
  const key = JSON.stringify([b.user, b.password ?? null, depsDir]);
  let hit = cache.get(key);
  if (!hit) {
    hit = check(run, b, depsDir);
    cache.set(key, hit);
  }
  return hit;
}

async function check(run: TaskRun, b: BecomeSpec, depsDir: string | null): Promise<BecomeReady> {
  let stdin: string | undefined;
  if (b.password !== undefined) {
    let password: string;
    try {
      password = resolveTaskValue(b.password, run.opts);
    } catch (err) {
      if (err instanceof TaskValueError) return { ok: false, message: `become_password: ${err.message}` };
      throw err;
    }
    if (password.includes('\n') || password === '')
      return { ok: false, message: `become_password: the secret ${b.password} is empty or spans lines` };
    stdin = `${password}\n`;
  }
  const withPassword = stdin !== undefined;
  // Another user gets its own copy of the deps; root reads the SSH user's.
  const hash = depsDir !== null && b.user !== 'root' ? depsDir.replace(/\/+$/, '').split('/').pop()! : null;
  const opts: ExecOptions = { timeoutMs: 60_000, signal: run.opts.signal, stdin };
  const r = await execOn(run.conn, becomeCheckCommand(b, withPassword, hash), opts);
  const lines = r.stdout.split('\n');
  const sshUser = lines[0].trim();
  const ctx = { address: run.conn.address, sshUser, withPassword };
  if (r.code !== 0 || lines[1] !== OK_MARK)
    return { ok: false, message: run.redactor.redact(sudoFailureMessage(r, b, ctx)) };
  const home = lines[2];
  if (depsDir === null) return { ok: true, stdin, dir: null };
  if (hash === null) return { ok: true, stdin, dir: depsDir };
  const dir = `${home}/.politburo/deps/${hash}`;
  if (lines[3] === 'deps') return { ok: true, stdin, dir };
  if (!home.startsWith('/'))
    return { ok: false, message: `become: ${b.user} has no home directory on ${run.conn.address} to keep deps in` };
  const copy = await execOn(run.conn, copyDepsCommand(depsDir, hash, b, withPassword), { ...opts, timeoutMs: 300_000 });
  if (copy.code !== 0) {
    const detail = (copy.stderr || copy.stdout).trim().split('\n').slice(-5).join('\n');
    return {
      ok: false,
      message: run.redactor.redact(
        `become: could not copy the deps into ${b.user}'s home (${dir}) on ${run.conn.address} (exit ${copy.code}): ${detail}`,
      ),
    };
  }
  return { ok: true, stdin, dir };
}
