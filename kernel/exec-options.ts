/** Options of `HostConnection.exec` as Politburo's own connections implement them (a superset of the port's). */
export interface ExecOptions {
  /** Kills the remote command (and what it started) after this long; the result then has `timedOut: true`. */
  timeoutMs?: number;
  /** Aborting kills the command; exec then rejects with PolitburoError('Interrupted'). */
  signal?: AbortSignal;
  /** Sent to the command's stdin, which is then closed; without it stdin is closed at once. */
  stdin?: string | Buffer;
  /** Called with each chunk of stdout as it arrives (for live logs and progress). */
  onStdout?(chunk: Buffer): void;
}
