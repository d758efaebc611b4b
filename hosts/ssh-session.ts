/**
 * One open SSH connection to a host and the commands multiplexed over it, one exec channel each.
 */
import type { Duplex } from 'node:stream';
import type { Client, ClientChannel } from 'ssh2';
import { PolitburoError, type ExecResult } from '../kernel/types.js';
import { ChannelQueue } from './channel-queue.js';
import type { ExecOptions } from '../kernel/exec-options.js';
import { OutputBuffer } from './output-buffer.js';
import { wrapRemoteCommand } from './remote-command.js';
import { HOLD_FAILED, RELEASE_LINE } from './babushka-hold.js';

/** What SshSession uses of a connection: ssh2's Client, or a connection kept by the keeper (keeper-client.ts). */
export type SessionClient = Pick<Client, 'exec' | 'forwardOut' | 'end' | 'on' | 'once'>;

/** Grace between TERM over the channel and closing it, so the remote side can clean up. */
const KILL_GRACE_MS = 500;

export class SshSession {
  private readonly queue: ChannelQueue;
  private closedError: PolitburoError | null = null;
  private readonly ended: Promise<void>;
  /** Commands started ahead and held (babushka-hold.ts), by command, until an exec of the same command releases them. */
  private readonly held = new Map<string, HeldCommand>();

  constructor(
    private readonly client: SessionClient,
    readonly label: string,
    maxSessions: number,
  ) {
    this.queue = new ChannelQueue(maxSessions);
    this.ended = new Promise((resolve) => client.once('close', () => resolve()));
    client.on('error', () => undefined); // reported through 'close' and the pending commands
    client.once('close', () => {
      this.closedError ??= new PolitburoError('HostUnreachable', `the connection to ${label} was lost`);
      this.queue.failAll(this.closedError);
    });
  }

  /** Calls `cb` once the connection is closed (at once if it already is). */
  onClose(cb: () => void): void {
    void this.ended.then(cb);
  }

  get closed(): boolean {
    return this.closedError !== null;
  }

  /**
   * Starts `command` (one that runs Babushka and reads no stdin) ahead of time, held before Babushka runs anything
   * (babushka-hold.ts); the next exec of exactly this command releases it instead of starting it. Best effort: nothing
   * is held when the connection is closing, the command is held already, or holding would take the last free channel.
   * Says whether it started; `onReleased` is called when a release ran the command, `onCannotHold` when the host could
   * not hold it (its `babushka` did not answer the probe, or the hold could not be set up: babushka-hold.ts).
   */
  hold(command: string, onReleased?: () => void, onCannotHold?: () => void): boolean {
    if (this.closedError || this.held.has(command) || !this.queue.tryAcquire(1)) return false;
    let channel: ClientChannel | undefined;
    let pending: ExecOptions | undefined;
    let discarded = false;
    let arm: (o: ExecOptions) => void = () => undefined;
    const go = (ch: ClientChannel, o: ExecOptions) => {
      arm(o);
      ch.write(RELEASE_LINE);
    };
    const h: HeldCommand = {
      released: false,
      release: (o) => {
        h.released = true;
        if (channel) go(channel, o);
        else pending = o;
      },
      discard: () => {
        discarded = true;
        channel?.end(); // end of stdin before the release: the lifeline watcher kills it
      },
      result: Promise.resolve(null),
    };
    this.held.set(command, h);
    h.result = new Promise<ExecResult | null>((resolve) => {
      try {
        this.client.exec(wrapRemoteCommand(command, 0, { lifeline: true, hold: true }), (err, ch) => {
          if (err) return resolve(null);
          const collected = this.collect(ch, {}, false);
          arm = collected.arm;
          collected.result.then(resolve, () => resolve(null));
          channel = ch;
          if (discarded) ch.end();
          else if (pending) go(ch, pending);
        });
      } catch {
        resolve(null);
      }
    }).then((r) => {
      if (this.held.get(command) === h) this.held.delete(command);
      this.queue.release();
      // Ended before it was released, or released after it had given up: it never reached Babushka.
      const cannot = r !== null && r.code === HOLD_FAILED && !r.stdout && !r.stderr;
      if (cannot) onCannotHold?.();
      if (!h.released || !r || cannot) return null;
      onReleased?.();
      return r;
    });
    return true;
  }

  /**
   * Opens a channel for `command` as given (already wrapped by the caller's session) when a slot is free, and frees the
   * slot when it closes: the connection keeper's way in (keeper-server.ts), so that processes sharing a kept connection
   * stay within sshd's MaxSessions together. `opened` is called in the very tick the channel opens, so that listeners
   * put on there see all of its output.
   */
  openChannel(command: string, opened: (err: Error | null, channel?: ClientChannel) => void): void {
    if (this.closedError) return opened(this.closedError);
    this.queue.acquire().then(
      () => {
        try {
          this.client.exec(command, (err, channel) => {
            if (err) {
              this.queue.release();
              return opened(err);
            }
            channel.once('close', () => this.queue.release());
            opened(null, channel);
          });
        } catch (err) {
          this.queue.release();
          opened(err as Error);
        }
      },
      (err: Error) => opened(err),
    );
  }

  /** Ends a held command that will not be released (its node will not run); its processes are killed. */
  discard(command: string): void {
    const h = this.held.get(command);
    if (!h) return;
    this.held.delete(command);
    h.discard();
  }

  /** Runs one command on its own channel, waiting for a free channel slot first; releases it when it is held. */
  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.closedError) throw this.closedError;
    const h = opts.stdin === undefined ? this.held.get(command) : undefined;
    if (h) {
      this.held.delete(command);
      h.release(opts);
      const r = await h.result;
      if (r) return r;
      if (opts.signal?.aborted) throw new PolitburoError('Interrupted', `${this.label}: the command was cancelled`);
      if (this.closedError) throw this.closedError;
    }
    await this.queue.acquire(opts.signal);
    try {
      return await this.execOnChannel(command, opts, 0);
    } finally {
      this.queue.release();
    }
  }

  private async execOnChannel(command: string, opts: ExecOptions, attempt: number): Promise<ExecResult> {
    const result = await new Promise<ExecResult | null>((resolve, reject) => {
      const fail = (err: Error) => {
        // A server with a lower MaxSessions than we assumed: wait for other channels to close and retry.
        if (/open failed/i.test(err.message) && attempt < 20 && !this.closedError) return resolve(null);
        reject(
          this.closedError ??
            new PolitburoError('HostUnreachable', `${this.label}: could not open a channel: ${err.message}`),
        );
      };
      try {
        // Without stdin to send, the channel's stdin stays open as the command's lifeline (see remote-command.ts).
        this.client.exec(
          wrapRemoteCommand(command, opts.timeoutMs, { lifeline: opts.stdin === undefined }),
          (err, channel) => {
            if (err) return fail(err);
            // Listeners go on in this very tick: a quick command's exit status may arrive in the same packet batch.
            this.collect(channel, opts).result.then(resolve, reject);
          },
        );
      } catch (err) {
        fail(err as Error);
      }
    });
    if (result) return result;
    await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
    return this.execOnChannel(command, opts, attempt + 1);
  }

  /**
   * Collects a channel's output and exit status. Unless `armed`, the timeout, cancellation and live output start with
   * `arm(options)` (a held command's, at its release, with the releasing exec's options): output that came before is
   * passed on then.
   */
  private collect(
    channel: ClientChannel,
    opts: ExecOptions,
    armed = true,
  ): { result: Promise<ExecResult>; arm: (options: ExecOptions) => void } {
    let arm: (options: ExecOptions) => void = () => undefined;
    const result = new Promise<ExecResult>((resolve, reject) => {
      const stdout = new OutputBuffer();
      const early: Buffer[] = [];
      const stderr = new OutputBuffer();
      let code: number | null = null;
      let exited = false;
      let timedOut = false;
      let aborted = false;
      const kill = () => {
        sendSignal(channel, 'TERM');
        setTimeout(() => channel.close(), KILL_GRACE_MS).unref();
      };
      let timer: NodeJS.Timeout | undefined;
      let live = false;
      const onAbort = () => ((aborted = true), kill());
      arm = (options) => {
        if (live) return;
        live = true;
        Object.assign(opts, options);
        timer = opts.timeoutMs ? setTimeout(() => ((timedOut = true), kill()), opts.timeoutMs) : undefined;
        if (opts.signal?.aborted) onAbort();
        else opts.signal?.addEventListener('abort', onAbort, { once: true });
        for (const d of early.splice(0)) opts.onStdout?.(d);
      };
      if (armed) arm({});
      channel.on('data', (d: Buffer) => {
        stdout.push(d);
        if (live) opts.onStdout?.(d);
        else early.push(d);
      });
      channel.stderr.on('data', (d: Buffer) => stderr.push(d));
      channel.on('exit', (c: number | null) => {
        exited = true;
        code = typeof c === 'number' ? c : null;
      });
      // ssh2 passes the exit status to 'close' too; it is the reliable source when 'exit' fired before we listened.
      channel.on('close', (closeCode?: number | null) => {
        if (!exited && typeof closeCode === 'number') {
          exited = true;
          code = closeCode;
        }
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        if (aborted) return reject(new PolitburoError('Interrupted', `${this.label}: the command was cancelled`));
        const finish = () => {
          if (!exited && !timedOut && this.closedError) return reject(this.closedError);
          resolve({ code: timedOut ? null : code, stdout: stdout.toString(), stderr: stderr.toString(), timedOut });
        };
        // Without an exit status the connection may be going down: its 'close' comes right after the channel's.
        if (!exited && !timedOut) setImmediate(finish);
        else finish();
      });
      if (opts.stdin !== undefined) channel.end(opts.stdin);
    });
    return { result, arm: (options) => arm(options) };
  }

  /**
   * A TCP connection from this host to `host:port` (a direct-tcpip channel, as `ssh -W` opens): the stream a jump
   * host's next hop is reached over. It takes no channel slot of the exec queue; sshd counts it against MaxSessions
   * only for session channels.
   */
  forwardOut(host: string, port: number): Promise<Duplex> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      try {
        this.client.forwardOut('127.0.0.1', 0, host, port, (err, stream) => (err ? reject(err) : resolve(stream)));
      } catch (err) {
        reject(err as Error);
      }
    });
  }

  /** Closes the connection and waits until it is closed. */
  async end(): Promise<void> {
    if (this.closedError === null) {
      this.closedError = new PolitburoError('Interrupted', `the connection to ${this.label} was closed`);
      this.client.end();
    }
    await this.ended;
  }
}

/** A command started ahead and held on its channel (SshSession.hold). */
interface HeldCommand {
  released: boolean;
  /** Releases it with the releasing exec's options (its timeout, cancellation and live output start now). */
  release(opts: ExecOptions): void;
  discard(): void;
  /** The command's result once released; null when it never reached Babushka (run it afresh). */
  result: Promise<ExecResult | null>;
}

/**
 * Sends a signal request on a session channel. ssh2's `channel.signal()` refuses once stdin has been ended, which is
 * always the case here, so the request goes through its protocol object (stable across ssh2 1.x). sshd delivers it to
 * the command's process group; the remote `timeout` wrapper (see remote-command.ts) backs it up. A channel of a kept
 * connection sends it through the keeper, which sends it this way.
 */
export function sendSignal(channel: ClientChannel, name: string): void {
  const kept = channel as unknown as { keeperSignal?: (name: string) => void };
  if (typeof kept.keeperSignal === 'function') return kept.keeperSignal(name); // through the keeper (keeper-client.ts)
  const ch = channel as unknown as {
    outgoing?: { id: number; state: string };
    _client?: { _protocol?: { signal(id: number, signal: string): void } };
  };
  try {
    if (ch.outgoing && ['open', 'eof'].includes(ch.outgoing.state)) ch._client?._protocol?.signal(ch.outgoing.id, name);
  } catch {
    // the channel is closing anyway
  }
}
