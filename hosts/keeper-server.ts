/**
 * The connection keeper (docs/architecture.md, "Connections kept between runs"): a background process of the operator's
 * own that holds SSH connections open after the Politburo process that opened them has ended, for the time asked
 * (`--ssh-persist`, OpenSSH's ControlPersist), so the next `apply`, `drift` or `plan --live` within that time starts its
 * commands without a handshake. It connects with Politburo's own connector (ssh-connector.ts: the same host key checks,
 * ssh_config, jump hosts and retries), one connector per set of connection options, so a process with other keys,
 * known_hosts or ssh_config never shares a connection opened with different ones. It passes exec channels through
 * unchanged: what runs on a host, its lifeline and its timeout are the calling process's (ssh-session.ts,
 * remote-command.ts). A process that goes away without a word has its channels closed, which ends their commands on the
 * hosts as a lost connection would.
 *
 * It listens on a Unix socket in a directory only its user can enter, and ends once it keeps nothing and nobody is
 * connected.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import net from 'node:net';
import type { ClientChannel } from 'ssh2';
import { PolitburoError } from '../kernel/types.js';
import { createHostConnector, type KeeperHostConnector, type SshTarget } from './ssh-connector.js';
import { sendSignal, type SshSession } from './ssh-session.js';
import { encodeFrame, Frame, FrameReader, parseJson, type KeptConnection } from './keeper-protocol.js';
import { optionsFromWire, type WireOptions } from './keeper-options.js';

interface Kept {
  id: number;
  session: SshSession;
  pool: Pool;
  users: Set<Peer>;
  channels: number;
  lastUsed: number;
  persistMs: number | null;
  timer?: NodeJS.Timeout;
}

interface Pool {
  hash: string;
  connector: KeeperHostConnector;
  kept: Set<Kept>;
  /** Connects under way: a pool ends only when it keeps nothing and connects nothing. */
  connecting: number;
}

interface Peer {
  socket: net.Socket;
  channels: Map<number, ClientChannel | null>;
  send(type: Frame, id: number, payload?: Buffer | string | object): void;
}

/** Who a connection attempt reports to: its warnings, retries and the hops it opened. */
interface Request {
  peer: Peer;
  id: number;
  opened: string[];
}

/** Time without connections and without callers after which the keeper ends. */
const EXIT_GRACE_MS = 1000;

/** Runs a keeper on `socketPath` until it has nothing left to keep; resolves when it has ended. */
export async function runKeeper(socketPath: string, log: (line: string) => void = () => undefined): Promise<void> {
  const request = new AsyncLocalStorage<Request>();
  const pools = new Map<string, Pool>();
  const byId = new Map<number, Kept>();
  const bySession = new WeakMap<SshSession, Kept>();
  const peers = new Set<Peer>();
  let nextId = 1;
  let exitTimer: NodeJS.Timeout | undefined;
  let done!: () => void;
  const ended = new Promise<void>((resolve) => (done = resolve));

  const server = net.createServer((socket) => onPeer(socket));

  // A grace after the last connection and caller are gone (not restarted by callers that come and go meanwhile).
  const maybeExit = () => {
    if (exitTimer || peers.size > 0 || byId.size > 0) return;
    exitTimer = setTimeout(() => {
      exitTimer = undefined;
      if (peers.size > 0 || byId.size > 0) return;
      log('nothing left to keep: ending');
      server.close();
      void unlink(socketPath).catch(() => undefined);
      done();
    }, EXIT_GRACE_MS);
  };

  /** Starts or stops the countdown of a connection nobody uses. */
  const idle = (k: Kept) => {
    clearTimeout(k.timer);
    k.timer = undefined;
    if (k.users.size > 0 || k.channels > 0) return;
    k.lastUsed = Date.now();
    if (k.persistMs !== null) k.timer = setTimeout(() => void endKept(k, 'kept for its persist time'), k.persistMs);
  };

  const forget = (k: Kept) => {
    if (!byId.delete(k.id)) return;
    clearTimeout(k.timer);
    k.pool.kept.delete(k);
    endIfUnused(k.pool);
    maybeExit();
  };

  /** A pool that keeps nothing and connects nothing ends, its jump host connections with it. */
  const endIfUnused = (pool: Pool) => {
    if (pool.kept.size > 0 || pool.connecting > 0 || pools.get(pool.hash) !== pool) return;
    pools.delete(pool.hash);
    void pool.connector.close().catch(() => undefined);
  };

  const endKept = async (k: Kept, why: string) => {
    log(`${k.session.label}: closing (${why})`);
    forget(k);
    await k.session.end().catch(() => undefined);
  };

  const keep = (pool: Pool, session: SshSession, persistMs: number | null): Kept => {
    let k = bySession.get(session);
    if (k && byId.has(k.id)) {
      k.persistMs = persistMs; // the latest caller's setting, as a ControlMaster takes its own
      return k;
    }
    k = { id: nextId++, session, pool, users: new Set(), channels: 0, lastUsed: Date.now(), persistMs };
    bySession.set(session, k);
    byId.set(k.id, k);
    pool.kept.add(k);
    const kept = k;
    session.onClose(() => {
      for (const peer of kept.users) peer.send(Frame.ConnectionLost, kept.id, { message: 'the connection was lost' });
      forget(kept);
    });
    return k;
  };

  const poolFor = (wire: WireOptions): Pool => {
    const hash = createHash('sha256').update(JSON.stringify(wire)).digest('hex');
    let pool = pools.get(hash);
    if (!pool) {
      const connector = createHostConnector({
        ...optionsFromWire(wire),
        onWarning: (message) => {
          const r = request.getStore();
          r?.peer.send(Frame.Warning, r.id, { message });
        },
        onRetry: ({ host, attempt, delayMs, error }) => {
          const r = request.getStore();
          r?.peer.send(Frame.Retry, r.id, { host, attempt, delayMs, reason: error.reason, message: error.message });
        },
        onConnection: (name) => request.getStore()?.opened.push(name),
      }) as KeeperHostConnector;
      pool = { hash, connector, kept: new Set(), connecting: 0 };
      pools.set(hash, pool);
    }
    return pool;
  };

  const connect = (peer: Peer, id: number, payload: Buffer) => {
    const r: Request = { peer, id, opened: [] };
    void request.run(r, async () => {
      let pool: Pool | undefined;
      try {
        const { options, target, persistMs } = parseJson<{
          options: WireOptions;
          target: SshTarget;
          persistMs: number | null;
        }>(payload);
        pool = poolFor(options);
        pool.connecting++;
        const session = await pool.connector.sessionFor(target).finally(() => pool!.connecting--);
        const k = keep(pool, session, persistMs);
        // A caller gone meanwhile does not use it: it is kept for its persist time all the same.
        if (peers.has(peer)) k.users.add(peer);
        idle(k);
        peer.send(Frame.Connected, id, { conn: k.id, label: session.label, opened: r.opened });
      } catch (err) {
        const reason = err instanceof PolitburoError ? err.reason : 'HostUnreachable';
        peer.send(Frame.ConnectFailed, id, { reason, message: (err as Error).message });
        if (pool) endIfUnused(pool);
      }
    });
  };

  const exec = (peer: Peer, id: number, payload: Buffer) => {
    const { conn, command } = parseJson<{ conn: number; command: string }>(payload);
    const k = byId.get(conn);
    if (!k || !k.users.has(peer)) return peer.send(Frame.ExecFailed, id, { message: 'the connection was lost' });
    k.channels++;
    idle(k);
    peer.channels.set(id, null);
    const closed = () => {
      k.channels--;
      idle(k);
    };
    k.session.openChannel(command, (err, channel) => {
      if (err || !channel) {
        peer.channels.delete(id);
        peer.send(Frame.ExecFailed, id, { message: (err ?? new Error('no channel')).message });
        return closed();
      }
      if (!peer.channels.has(id)) {
        // Its caller went away while it opened.
        channel.once('close', closed);
        return channel.close();
      }
      // Listeners go on in the tick it opened: its first output may come in the same packets.
      peer.channels.set(id, channel);
      channel.on('data', (d: Buffer) => peer.send(Frame.Stdout, id, d));
      channel.stderr.on('data', (d: Buffer) => peer.send(Frame.Stderr, id, d));
      channel.on('exit', (code: unknown) =>
        peer.send(Frame.Exit, id, { code: typeof code === 'number' ? code : null }),
      );
      channel.once('close', (code: unknown) => {
        peer.channels.delete(id);
        peer.send(Frame.Closed, id, { code: typeof code === 'number' ? code : null });
        closed();
      });
      peer.send(Frame.ExecOk, id);
    });
  };

  const list = (peer: Peer, id: number, payload: Buffer) => {
    const { close } = parseJson<{ close?: boolean }>(payload);
    const now = Date.now();
    const kept: KeptConnection[] = [...byId.values()].map((k) => ({
      label: k.session.label,
      users: k.users.size,
      channels: k.channels,
      idleMs: k.users.size || k.channels ? 0 : now - k.lastUsed,
      persistMs: k.persistMs,
    }));
    peer.send(Frame.Listed, id, kept);
    if (close) void stop('politburo connections --close');
  };

  /** Ends every kept connection and the keeper at once (`politburo connections --close`, as `ssh -O exit`). */
  const stop = async (why: string) => {
    clearTimeout(exitTimer);
    server.close();
    await unlink(socketPath).catch(() => undefined);
    await Promise.all([...byId.values()].map((k) => endKept(k, why)));
    for (const p of peers) p.socket.end();
    log(`ended (${why})`);
    done();
  };

  const onPeer = (socket: net.Socket) => {
    const peer: Peer = {
      socket,
      channels: new Map(),
      send: (type, id, payload) => {
        if (!socket.destroyed) socket.write(encodeFrame(type, id, payload));
      },
    };
    peers.add(peer);
    const channelOf = (id: number) => peer.channels.get(id) ?? undefined;
    const reader = new FrameReader((type, id, payload) => {
      switch (type) {
        case Frame.Connect:
          return connect(peer, id, payload);
        case Frame.Exec:
          return exec(peer, id, payload);
        case Frame.Stdin:
          return void channelOf(id)?.write(payload);
        case Frame.Eof:
          return void channelOf(id)?.end();
        case Frame.Signal:
          return void (channelOf(id) && sendSignal(channelOf(id)!, payload.toString('utf8')));
        case Frame.Close:
          return void channelOf(id)?.close();
        case Frame.Release: {
          const k = byId.get(id);
          if (k?.users.delete(peer)) idle(k);
          return;
        }
        case Frame.List:
          return list(peer, id, payload);
        default:
          throw new Error(`unknown frame type ${type as number}`);
      }
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (err) {
        log(`a caller sent something that is not the keeper's protocol (${(err as Error).message}): disconnected`);
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      peers.delete(peer);
      // Its commands end as they would with a lost connection: closing the channel ends their stdin, the lifeline.
      for (const channel of peer.channels.values()) channel?.close();
      peer.channels.clear();
      for (const k of byId.values()) if (k.users.delete(peer)) idle(k);
      maybeExit();
    });
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  log(`keeping connections on ${socketPath}`);
  maybeExit();
  return ended;
}
