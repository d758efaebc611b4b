import { quoteShell } from '../kernel/quote-shell.js';
import { HOLD_FUNCTION, holdPrelude, RELEASE_LINE } from './babushka-hold.js';

/**
 * Wraps a command for an SSH exec channel. Closing a channel does not kill what runs on the other side, so the command
 * runs under coreutils `timeout` when the host has it: `timeout` leads its own process group, kills the whole group
 * when
 * the time is up, and forwards a TERM we send over the channel to it. `/bin/sh -c` gives every host the same shell.
 *
 * With `lifeline` (commands that take no stdin) the channel's stdin is a lifeline: we never write to it nor close it,
 * so it reaches end-of-file only when the connection is gone (our process was killed, the network dropped). A watcher
 * then TERMs `timeout`, which passes it on to everything the command started and KILLs it 5 s later, so no task keeps
 * running unseen after the run that started it died. When the command ends, its shell stops the watcher.
 *
 * With `hold` (a lifeline command that runs Babushka, babushka-hold.ts) the command's Babushka waits after loading;
 * the first line on stdin ({@link RELEASE_LINE}) releases it, and end-of-file, before or after, kills it as above.
 */
export function wrapRemoteCommand(
  command: string,
  timeoutMs?: number,
  opts: { lifeline?: boolean; hold?: boolean } = {},
): string {
  const q = quoteShell(command);
  const seconds = timeoutMs && timeoutMs > 0 ? Math.ceil(timeoutMs / 1000) + 1 : 0; // 0: no limit, still killable
  const run = (sh: string) =>
    `if command -v timeout >/dev/null 2>&1; then exec timeout -k 5 ${seconds} ${sh}; else exec ${sh}; fi`;
  if (!opts.lifeline) return run(`/bin/sh -c ${q}`);
  // The command runs in a shell that stops the watcher when it exits (eval keeps the process tree as without one).
  const inner = quoteShell(
    `trap "kill $1 2>/dev/null" EXIT; politburo_command=$2; set --; ${opts.hold ? `${HOLD_FUNCTION}; ` : ''}eval "$politburo_command"`,
  );
  const release = `echo ${RELEASE_LINE.trimEnd()} >&9; exec 9>&-; rm -rf "$politburo_hold";`;
  const script = [
    'exec 3<&0 </dev/null',
    ...(opts.hold ? holdPrelude() : []),
    // $$ is this shell, which becomes `timeout` by exec: a TERM to it reaches everything the command started.
    opts.hold
      ? `{ if read -r _ <&3; then ${release} read -r _ <&3; fi; rm -rf "$politburo_hold"; kill -TERM $$; } >/dev/null 2>&1 &`
      : '{ read -r _ <&3; kill -TERM $$; } >/dev/null 2>&1 &',
    'exec 3<&-',
    run(`/bin/sh -c ${inner} politburo-task $! "$1"`),
  ].join('\n');
  return `exec /bin/sh -c ${quoteShell(script)} politburo-task ${q}`;
}
