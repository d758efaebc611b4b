/**
 * ssh_config's ProxyCommand, from the operator's own files only (docs/cli.md, "SSH configuration"): the command runs on
 * the controller as OpenSSH runs it (`exec CMD` through /bin/sh), its standard input and output carry the SSH
 * connection, and its standard error is kept for the message when the connection fails. It is ended when the
 * connection closes or fails.
 */
import { spawn } from 'node:child_process';
import { Duplex } from 'node:stream';
import { PolitburoError } from '../kernel/types.js';

/** What the tokens of a ProxyCommand stand for: the hop it carries the connection to. */
export interface ProxyTokens {
  /** %n: the name as given (an alias of ssh_config, an address...). */
  name: string;
  /** %h: the HostName, resolved. */
  hostName: string;
  /** %p */
  port: number;
  /** %r: the remote user. */
  user: string;
}

/**
 * A name a shell would not interpret: it may come from the description or a repository's ssh_config, and is put into
 * a command the controller runs (as OpenSSH refuses such names from its command line since 9.6).
 */
const SAFE_NAME = /^[A-Za-z0-9_.:%@+][A-Za-z0-9_.:%@+-]*$/;

/**
 * Expands `%%`, `%h`, `%n`, `%p`, `%r` as OpenSSH does for ProxyCommand; another token, or a host or user name with
 * characters a shell would interpret, is an InvalidSpec error saying which (`where`: the host, for the message).
 */
export function expandProxyCommand(command: string, t: ProxyTokens, where: string): string {
  const fail = (why: string) =>
    new PolitburoError('InvalidSpec', `${where}: ProxyCommand \`${command}\`: ${why}; it was not run`);
  const safe = (what: string, value: string) => {
    if (!SAFE_NAME.test(value))
      throw fail(`the ${what} '${value}' has characters a shell would interpret (or starts with '-')`);
    return value;
  };
  return command.replace(/%(.?)/gs, (_all, token: string) => {
    switch (token) {
      case '%':
        return '%';
      case 'h':
        return safe('host name', t.hostName);
      case 'n':
        return safe('host name', t.name);
      case 'p':
        return String(t.port);
      case 'r':
        return safe('user', t.user);
      default:
        throw fail(`${token ? `unknown token %${token}` : "a '%' at the end"} (ProxyCommand takes %%, %h, %n, %p, %r)`);
    }
  });
}

/** How a ProxyCommand ended, for the message of a failed connection. */
export interface ProxyEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** It ended because it was told to (the connection had failed or closed), not by itself. */
  stopped: boolean;
  /** It could not be started. */
  error?: Error;
  /** The end of its standard error, on one line. */
  stderr: string;
}

export interface ProxyCommandProcess {
  readonly command: string;
  /** The SSH transport: the command's standard output to read, its standard input to write. */
  readonly stream: Duplex;
  /**
   * Ends the command unless it is ending by itself (its output closed): SIGHUP as OpenSSH sends, SIGKILL if it is still
   * there after STOP_GRACE_MS. Resolves once it has exited. Idempotent.
   */
  stop(): Promise<ProxyEnd>;
}

const STOP_GRACE_MS = 2000;
const STDERR_KEPT = 2000;
const STDERR_SHOWN = 500;

/** Starts `command` (tokens already expanded) through /bin/sh. */
export function startProxyCommand(command: string): ProxyCommandProcess {
  const child = spawn('/bin/sh', ['-c', `exec ${command}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-STDERR_KEPT)));
  // Its output closed, or its input (EPIPE): the command is ending by itself, and says why by its exit status.
  let endingByItself = false;
  child.stdout.once('end', () => (endingByItself = true));
  child.stdin.on('error', (err: NodeJS.ErrnoException) => err.code === 'EPIPE' && (endingByItself = true));
  // A pipe's errors end the connection through ssh2's handlers; never unhandled.
  for (const s of [child.stdin, child.stdout, child.stderr]) s.on('error', () => undefined);
  let error: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (err) => {
      error = err;
      resolve();
    });
  });
  // Its standard error may still be draining after the exit (or held open by a child of its own): not long.
  const stderrDrained = () =>
    Promise.race([new Promise((r) => child.stderr.once('close', r)), new Promise((r) => setTimeout(r, 200).unref())]);
  const stream = Duplex.from({ readable: child.stdout, writable: child.stdin });
  stream.on('error', () => undefined);
  let stopping: Promise<ProxyEnd> | undefined;
  return {
    command,
    stream,
    stop() {
      stopping ??= (async () => {
        const running = child.exitCode === null && child.signalCode === null && error === undefined;
        let stopped = false;
        const kill = (signal: NodeJS.Signals) => {
          stopped = true;
          child.kill(signal);
        };
        if (running && !endingByItself) kill('SIGHUP');
        let timer: NodeJS.Timeout | undefined;
        if (running) timer = setTimeout(() => kill('SIGKILL'), STOP_GRACE_MS).unref();
        await exited;
        clearTimeout(timer);
        await stderrDrained();
        stream.destroy();
        const tail = stderr
          .trim()
          .replace(/\s*\n\s*/g, ' | ')
          .slice(-STDERR_SHOWN);
        return { code: child.exitCode, signal: child.signalCode, stopped, error, stderr: tail };
      })();
      return stopping;
    },
  };
}

/**
 * The error of a connection through a ProxyCommand that failed: the command's own failure when it ended by itself
 * (its exit status and standard error), else `cause` (from the SSH connection) naming the command.
 */
export function proxyCommandError(
  label: string,
  command: string,
  end: ProxyEnd,
  cause: PolitburoError,
): PolitburoError {
  const said = end.stderr ? `: ${end.stderr}` : ' (nothing on its standard error)';
  const what = `ProxyCommand \`${command}\``;
  if (end.error)
    return new PolitburoError('HostUnreachable', `${label}: ${what} could not be started: ${end.error.message}`);
  if (!end.stopped && end.code !== null)
    return new PolitburoError('HostUnreachable', `${label}: ${what} exited with status ${end.code}${said}`);
  if (!end.stopped && end.signal)
    return new PolitburoError('HostUnreachable', `${label}: ${what} was ended by ${end.signal}${said}`);
  const stderr = end.stderr ? `; its standard error: ${end.stderr}` : '';
  return new PolitburoError(cause.reason, `${cause.message} (through ${what}${stderr})`);
}
