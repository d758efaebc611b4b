/**
 * A Politburo process's side of the connection keeper (keeper-server.ts): one Unix socket to it per connector, which
 * starts it when none answers, and for each kept connection a client that SshSession drives exactly as it drives an
 * ssh2 Client (exec channels with stdin, stdout, stderr, exit status, signals and close). Commands are wrapped, held,
 * timed and killed here as over a connection of the process's own (ssh-session.ts); the keeper only passes them on.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PolitburoError, type FailureReason } from '../kernel/types.js';
import { encodeFrame, Frame, FrameReader, parseJson, type KeptConnection } from './keeper-protocol.js';
import { optionsToWire } from './keeper-options.js';
import { answers, checkKeeperDir, keeperSocketPath } from './keeper-socket.js';
import type { HostConnectorOptions, SshTarget } from './connector-options.js';
import type { SessionClient } from './ssh-session.js';

/** How long a keeper just started may take to listen (it loads Node and ssh2 first). */
const START_TIMEOUT_MS = 20_000;

export interface KeptSession {
  client: SessionClient;
  label: string;
  /** The hops (names as given) this connect opened; empty when the connection was kept already. */
  opened: string[];
}

/** The keeper's socket closed under a request or a channel. */
class KeeperGone extends PolitburoError {
  constructor() {
    super('HostUnreachable', 'the connection keeper went away');
  }
}

/** A command channel through the keeper: the part of ssh2's ClientChannel that SshSession uses. */
export class KeeperChannel extends EventEmitter {
  readonly stderr = new EventEmitter();
  closed = false;

  constructor(
    private readonly link: KeeperLink,
    readonly id: number,
  ) {
    super();
  }

  write(data: string | Buffer): boolean {
    const bytes = Buffer.from(data);
    // In frames of at most 1 MiB (a deps directory's tar may be large).
    for (let at = 0; at < bytes.length && !this.closed; at += 1 << 20)
      this.link.send(Frame.Stdin, this.id, bytes.subarray(at, at + (1 << 20)));
    return true;
  }

  end(data?: string | Buffer): this {
    if (data !== undefined && data.length > 0) this.write(data);
    if (!this.closed) this.link.send(Frame.Eof, this.id);
    return this;
  }

  close(): void {
    if (!this.closed) this.link.send(Frame.Close, this.id);
  }

  /** A signal to the command (sshd passes it to its process group), as ssh-session.ts's sendSignal sends one. */
  keeperSignal(name: string): void {
    if (!this.closed) this.link.send(Frame.Signal, this.id, name);
  }

  /** Ends it as ssh2 ends a channel whose connection went away: 'close' without an exit status. */
  lost(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
  }
}

/** A kept connection as SshSession sees it: exec channels, end, and 'close' when it is gone. */
class KeeperClient extends EventEmitter {
  private ended = false;
  readonly channels = new Set<KeeperChannel>();

  constructor(
    private readonly link: KeeperLink,
    readonly conn: number,
  ) {
    super();
  }

  exec(command: string, cb: (err: Error | undefined, channel: KeeperChannel) => void): void {
    if (this.ended) throw new Error('Not connected');
    const channel = this.link.openChannel(this, command, cb);
    this.channels.add(channel);
    channel.once('close', () => this.channels.delete(channel));
  }

  forwardOut(_a: string, _b: number, _c: string, _d: number, cb: (err: Error | undefined) => void): void {
    cb(new Error('a kept connection is not used as a jump host here: the keeper reaches the hosts behind it'));
  }

  /** This process is done with it: its commands still running end, and the keeper keeps the connection. */
  end(): void {
    if (this.ended) return;
    for (const ch of this.channels) ch.close();
    this.link.release(this);
    this.gone();
  }

  /** Gone (released, lost, or the keeper went away): SshSession fails what still waits. */
  gone(): void {
    if (this.ended) return;
    this.ended = true;
    for (const ch of [...this.channels]) ch.lost();
    setImmediate(() => this.emit('close'));
  }
}

/** One process's connection to the keeper: requests, channels, and the clients of the kept connections it uses. */
export class KeeperLink {
  private socket: Promise<net.Socket> | null = null;
  private nextId = 1;
  private readonly requests = new Map<
    number,
    {
      resolve(s: KeptSession): void;
      reject(e: Error): void;
      onWarning?(m: string): void;
      onRetry?: HostConnectorOptions['onRetry'];
    }
  >();
  private readonly channels = new Map<
    number,
    { channel: KeeperChannel; opened?: (err: Error | undefined, ch: KeeperChannel) => void }
  >();
  private readonly clients = new Map<number, KeeperClient>();
  private live: net.Socket | null = null;
  private closed = false;

  constructor(private readonly dir: string) {}

  /** Starts the keeper now if none answers, so that the first connect does not wait for it. */
  warm(): void {
    this.open().catch(() => undefined);
  }

  async connect(options: HostConnectorOptions, target: SshTarget, persistMs: number | null): Promise<KeptSession> {
    for (let attempt = 0; ; attempt++) {
      try {
        const socket = await this.open();
        const id = this.nextId++;
        return await new Promise<KeptSession>((resolve, reject) => {
          this.requests.set(id, { resolve, reject, onWarning: options.onWarning, onRetry: options.onRetry });
          socket.write(encodeFrame(Frame.Connect, id, { options: optionsToWire(options), target, persistMs }));
        });
      } catch (err) {
        // A keeper that was ending as this process reached it: start another, once.
        if (!(err instanceof KeeperGone) || attempt > 0) throw err;
      }
    }
  }

  send(type: Frame, id: number, payload?: Buffer | string | object): void {
    if (this.live && !this.live.destroyed) this.live.write(encodeFrame(type, id, payload));
  }

  openChannel(
    client: KeeperClient,
    command: string,
    opened: (err: Error | undefined, ch: KeeperChannel) => void,
  ): KeeperChannel {
    const id = this.nextId++;
    const channel = new KeeperChannel(this, id);
    this.channels.set(id, { channel, opened });
    this.send(Frame.Exec, id, { conn: client.conn, command });
    return channel;
  }

  release(client: KeeperClient): void {
    this.clients.delete(client.conn);
    this.send(Frame.Release, client.conn);
  }

  /** Closes this process's link: the keeper keeps the connections for their persist time. */
  async close(): Promise<void> {
    this.closed = true;
    // A link still starting (warm) closes as soon as it is up, so that it does not keep this process alive.
    const starting = this.socket;
    if (starting && !this.live) await starting.then((s) => s.destroy()).catch(() => undefined);
    const s = this.live;
    this.live = null;
    this.socket = null;
    if (!s || s.destroyed) return;
    await new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      s.end();
    });
  }

  private open(): Promise<net.Socket> {
    if (this.closed) return Promise.reject(new PolitburoError('Interrupted', 'the host connector is closed'));
    this.socket ??= this.start().then(
      (s) => {
        this.attach(s);
        return s;
      },
      (err: Error) => {
        this.socket = null;
        throw err;
      },
    );
    return this.socket;
  }

  private async start(): Promise<net.Socket> {
    await checkKeeperDir(this.dir);
    const socketPath = keeperSocketPath(this.dir);
    const first = await connectTo(socketPath).catch(() => null);
    if (first) return first;
    const logFile = path.join(this.dir, 'keeper.log');
    const child = spawnKeeper(socketPath, logFile);
    let exited: number | null = null;
    child.once('exit', (code) => (exited = code ?? 1));
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const s = await connectTo(socketPath).catch(() => null);
      if (s) return s;
      if (exited !== null && exited !== 0 && !(await answers(socketPath))) {
        const tail = await readFile(logFile, 'utf8').then(
          (t) => t.trimEnd().split('\n').slice(-3).join('; '),
          () => '',
        );
        throw new PolitburoError(
          'HostUnreachable',
          `the connection keeper could not start (exit status ${exited}${tail ? `: ${tail}` : ''}; log ${logFile})`,
        );
      }
      if (Date.now() > deadline)
        throw new PolitburoError(
          'HostUnreachable',
          `the connection keeper did not listen on ${socketPath} within ${START_TIMEOUT_MS / 1000}s (log ${logFile})`,
        );
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  private attach(socket: net.Socket): void {
    this.live = socket;
    const reader = new FrameReader((type, id, payload) => this.onFrame(type, id, payload));
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch {
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      if (this.live === socket) {
        this.live = null;
        this.socket = null;
      }
      const lost = new KeeperGone();
      for (const r of this.requests.values()) r.reject(lost);
      this.requests.clear();
      for (const { channel, opened } of this.channels.values()) {
        if (opened) opened(lost, channel);
        else channel.lost();
      }
      this.channels.clear();
      for (const c of this.clients.values()) c.gone();
      this.clients.clear();
    });
  }

  private onFrame(type: Frame, id: number, payload: Buffer): void {
    const request = this.requests.get(id);
    const entry = this.channels.get(id);
    switch (type) {
      case Frame.Connected: {
        if (!request) return;
        this.requests.delete(id);
        const { conn, label, opened } = parseJson<{ conn: number; label: string; opened: string[] }>(payload);
        const client = this.clients.get(conn) ?? new KeeperClient(this, conn);
        this.clients.set(conn, client);
        return request.resolve({ client: client as unknown as SessionClient, label, opened });
      }
      case Frame.ConnectFailed: {
        if (!request) return;
        this.requests.delete(id);
        const { reason, message } = parseJson<{ reason: FailureReason; message: string }>(payload);
        return request.reject(new PolitburoError(reason, message));
      }
      case Frame.Warning:
        return request?.onWarning?.(parseJson<{ message: string }>(payload).message);
      case Frame.Retry: {
        const r = parseJson<{ host: string; attempt: number; delayMs: number; reason: FailureReason; message: string }>(
          payload,
        );
        void request?.onRetry?.({ ...r, error: new PolitburoError(r.reason, r.message) });
        return;
      }
      case Frame.ExecOk:
        if (entry?.opened) {
          const opened = entry.opened;
          entry.opened = undefined;
          opened(undefined, entry.channel);
        }
        return;
      case Frame.ExecFailed:
        if (!entry) return;
        this.channels.delete(id);
        entry.channel.closed = true;
        entry.opened?.(new Error(parseJson<{ message: string }>(payload).message), entry.channel);
        return;
      case Frame.Stdout:
        return void entry?.channel.emit('data', Buffer.from(payload));
      case Frame.Stderr:
        return void entry?.channel.stderr.emit('data', Buffer.from(payload));
      case Frame.Exit:
        return void entry?.channel.emit('exit', parseJson<{ code: number | null }>(payload).code);
      case Frame.Closed:
        if (!entry) return;
        this.channels.delete(id);
        entry.channel.closed = true;
        entry.channel.emit('close', parseJson<{ code: number | null }>(payload).code ?? undefined);
        return;
      case Frame.ConnectionLost: {
        const client = this.clients.get(id);
        this.clients.delete(id);
        client?.gone();
        return;
      }
      default:
        return;
    }
  }
}

function connectTo(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/**
 * Starts the keeper detached (it outlives this process), with this process's Node and loader options: keeper-main.js
 * beside this module, or keeper-main.ts when running from the sources.
 */
function spawnKeeper(socketPath: string, logFile: string) {
  const here = fileURLToPath(import.meta.url);
  const main = path.join(path.dirname(here), `keeper-main${path.extname(here)}`);
  const execArgv = loaderArgs(process.execArgv);
  const log = openSync(logFile, 'a', 0o600);
  try {
    const child = spawn(process.execPath, [...execArgv, main, socketPath], {
      env: keeperEnv(process.env),
      detached: true,
      stdio: ['ignore', log, log],
      cwd: process.cwd(), // where its loader options resolve from, as for this process
    });
    child.unref();
    return child;
  } finally {
    closeSync(log);
  }
}

/**
 * The connections the keeper listening in `dir` keeps (`politburo connections`); with `close`, it ends them and then
 * itself. Null when no keeper answers there.
 */
export async function keptConnections(dir: string, opts: { close?: boolean } = {}): Promise<KeptConnection[] | null> {
  await checkKeeperDir(dir);
  const socket = await connectTo(keeperSocketPath(dir)).catch(() => null);
  if (!socket) return null;
  try {
    let listed: KeptConnection[] | undefined;
    return await new Promise<KeptConnection[]>((resolve, reject) => {
      const reader = new FrameReader((type, _id, payload) => {
        if (type !== Frame.Listed) return;
        listed = parseJson<KeptConnection[]>(payload);
        if (!opts.close) resolve(listed);
      });
      socket.on('data', (chunk: Buffer) => reader.push(chunk));
      socket.once('error', reject);
      // With close, the keeper ends its connections and then this socket: it has ended when that happens.
      socket.once('close', () =>
        listed ? resolve(listed) : reject(new PolitburoError('HostUnreachable', 'the connection keeper went away')),
      );
      socket.write(encodeFrame(Frame.List, 1, { close: !!opts.close }));
    });
  } finally {
    socket.destroy();
  }
}

/** Of Node's options, those that load code before the main module (a TypeScript loader from the sources): kept. */
export function loaderArgs(execArgv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i];
    if (/^(--import|--require|-r|--loader|--experimental-loader)=/.test(a)) out.push(a);
    else if (/^(--import|--require|-r|--loader|--experimental-loader)$/.test(a) && i + 1 < execArgv.length)
      out.push(a, execArgv[++i]);
  }
  return out;
}

/**
 * The keeper's environment: this process's (a ProxyCommand it runs may need the operator's variables, as under an
 * OpenSSH ControlMaster), without Politburo's own settings and secrets (POLITBURO_*: task secrets, the key's passphrase;
 * DATABASE_URL; GITHUB_*: the controller's credentials), which it never needs and would otherwise keep for as long as
 * it lives.
 */
export function keeperEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(([k]) => !/^(POLITBURO_|GITHUB_)/.test(k) && k !== 'DATABASE_URL'),
  );
}
