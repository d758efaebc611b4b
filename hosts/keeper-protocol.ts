/**
 * The wire format between a Politburo process and its connection keeper (docs/architecture.md, "Connections kept
 * between runs"): frames over a Unix socket, each `u32 length | u8 type | u32 id | payload`, the length counting type,
 * id and payload. Control payloads are JSON; channel data is raw bytes.
 */

/** Bumped when frames change: a keeper of another version listens on another socket. */
export const KEEPER_PROTOCOL = 1;

export const Frame = {
  // Politburo → keeper
  /** id: request; JSON {options, target, persistMs}. */
  Connect: 1,
  /** id: channel; JSON {conn, command}. */
  Exec: 2,
  /** id: channel; bytes for the command's stdin. */
  Stdin: 3,
  /** id: channel; end of the command's stdin. */
  Eof: 4,
  /** id: channel; the signal's name (TERM...). */
  Signal: 5,
  /** id: channel; close it. */
  Close: 6,
  /** id: connection; this process no longer uses it (it stays kept for its persist time). */
  Release: 7,
  /** id: request; JSON {close: boolean}: the kept connections, and with close, end them and the keeper. */
  List: 8,
  // keeper → Politburo
  /** id: request; JSON {conn, label, opened: string[]}: opened lists the hops newly connected for it. */
  Connected: 20,
  /** id: request; JSON {reason, message}. */
  ConnectFailed: 21,
  /** id: request; JSON {message}: a warning while connecting. */
  Warning: 22,
  /** id: request; JSON {host, attempt, delayMs, reason, message}: a connection attempt failed and is retried. */
  Retry: 23,
  /** id: channel; the channel is open. */
  ExecOk: 24,
  /** id: channel; JSON {message}. */
  ExecFailed: 25,
  /** id: channel; bytes of stdout. */
  Stdout: 26,
  /** id: channel; bytes of stderr. */
  Stderr: 27,
  /** id: channel; JSON {code}: the exit status (null for a signal). */
  Exit: 28,
  /** id: channel; it closed. */
  Closed: 29,
  /** id: connection; JSON {message}: the connection to the host was lost or ended. */
  ConnectionLost: 30,
  /** id: request; JSON KeptConnection[]. */
  Listed: 31,
} as const;
export type Frame = (typeof Frame)[keyof typeof Frame];

/** One kept connection, as `politburo connections` prints it. */
export interface KeptConnection {
  label: string;
  /** Processes using it now. */
  users: number;
  /** Commands running over it now. */
  channels: number;
  /** Milliseconds since it was last used (0 while in use). */
  idleMs: number;
  /** How long it is kept once idle (null: until closed). */
  persistMs: number | null;
}

const HEADER = 9;

export function encodeFrame(type: Frame, id: number, payload: Buffer | string | object = Buffer.alloc(0)): Buffer {
  const body = Buffer.isBuffer(payload)
    ? payload
    : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
  const frame = Buffer.allocUnsafe(HEADER + body.length);
  frame.writeUInt32BE(5 + body.length, 0);
  frame.writeUInt8(type, 4);
  frame.writeUInt32BE(id >>> 0, 5);
  body.copy(frame, HEADER);
  return frame;
}

/** Splits a byte stream into frames. A frame longer than `maxBytes` is a protocol error (the stream is not ours). */
export class FrameReader {
  private buffered: Buffer[] = [];
  private size = 0;

  constructor(
    private readonly onFrame: (type: Frame, id: number, payload: Buffer) => void,
    private readonly maxBytes = 64 * 1024 * 1024,
  ) {}

  push(chunk: Buffer): void {
    this.buffered.push(chunk);
    this.size += chunk.length;
    if (this.size < 4) return;
    let data = this.buffered.length === 1 ? this.buffered[0] : Buffer.concat(this.buffered);
    let offset = 0;
    while (data.length - offset >= 4) {
      const length = data.readUInt32BE(offset);
      if (length < 5 || length > this.maxBytes) throw new Error(`bad frame length ${length}`);
      if (data.length - offset < 4 + length) break;
      const type = data.readUInt8(offset + 4) as Frame;
      const id = data.readUInt32BE(offset + 5);
      const payload = data.subarray(offset + HEADER, offset + 4 + length);
      offset += 4 + length;
      this.onFrame(type, id, payload);
    }
    data = data.subarray(offset);
    this.buffered = data.length ? [data] : [];
    this.size = data.length;
  }
}

export function parseJson<T>(payload: Buffer): T {
  return JSON.parse(payload.toString('utf8')) as T;
}
