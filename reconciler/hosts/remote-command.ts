import { quoteShell } from './quote-shell.js';

/**
 * Wraps a command for an SSH exec channel. Closing a channel does not kill what runs on the other side, so the command
 * runs under coreutils `timeout` when the host has it: `timeout` leads its own process group, kills the whole group when
 * the time is up, and forwards a TERM we send over the channel to it. `/bin/sh -c` gives every host the same shell.
 *
 * With `lifeline` (commands that take no stdin) the channel's stdin is a lifeline: we never write to it nor close it,
 * so it reaches end-of-file only when the connection is gone (our process was killed, the network dropped). A watcher
 * then TERMs the command (`timeout` passes it on to everything the command started and KILLs it 5 s later), so no task
 * keeps running unseen after the run that started it died.
 */
export function wrapRemoteCommand(command: string, timeoutMs?: number, opts: { lifeline?: boolean } = {}): string {
  const q = quoteShell(command);
  const seconds = timeoutMs && timeoutMs > 0 ? Math.ceil(timeoutMs / 1000) + 1 : 0; // 0: no limit, still killable
  if (!opts.lifeline) return `if command -v timeout >/dev/null 2>&1; then exec timeout -k 5 ${seconds} /bin/sh -c ${q}; else exec /bin/sh -c ${q}; fi`;
  const script = [
    'exec 3<&0 </dev/null',
    `if command -v timeout >/dev/null 2>&1; then timeout -k 5 ${seconds} /bin/sh -c "$1" 3<&- & else /bin/sh -c "$1" 3<&- & fi`,
    'c=$!',
    '{ read -r _ <&3; kill -TERM $c 2>/dev/null; } >/dev/null 2>&1 &',
    'w=$!',
    'exec 3<&-',
    // A TERM sent over the channel reaches this shell: pass it on, then wait for the command to end.
    "trap 'kill -TERM $c 2>/dev/null' TERM HUP INT",
    'while :; do wait $c; rc=$?; kill -0 $c 2>/dev/null || break; done',
    'kill $w 2>/dev/null',
    'exit $rc',
  ].join('\n');
  return `exec /bin/sh -c ${quoteShell(script)} politburo-task ${q}`;
}
