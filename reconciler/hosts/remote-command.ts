import { quoteShell } from './quote-shell.js';

/**
 * Wraps a command for an SSH exec channel. Closing a channel does not kill what runs on the other side, so the command
 * runs under coreutils `timeout` when the host has it: `timeout` leads its own process group, kills the whole group when
 * the time is up, and forwards a TERM we send over the channel to it. `/bin/sh -c` gives every host the same shell.
 */
export function wrapRemoteCommand(command: string, timeoutMs?: number): string {
  const q = quoteShell(command);
  const seconds = timeoutMs && timeoutMs > 0 ? Math.ceil(timeoutMs / 1000) + 1 : 0; // 0: no limit, still killable
  return `if command -v timeout >/dev/null 2>&1; then exec timeout -k 5 ${seconds} /bin/sh -c ${q}; else exec /bin/sh -c ${q}; fi`;
}
