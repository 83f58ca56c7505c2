/**
 * A WebSocket client written on `net` for hostile use: it can stop reading
 * (the slow consumer a browser tab in the background is, or an attacker on
 * purpose), write frames byte for byte (text that is not UTF-8), and send an
 * HTTP request it never reads the answer of. Client frames are masked as
 * RFC 6455 requires; server frames are parsed (unfragmented, as `ws` writes
 * them) until the client pauses.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** A frame from the server. */
export interface RawFrame {
  /** 1 text, 2 binary, 8 close, 9 ping, 10 pong. */
  readonly opcode: number;
  readonly payload: Buffer;
}

/** Where and how to open a raw socket. */
export interface RawTarget {
  readonly port: number;
  readonly path?: string;
  readonly localAddress?: string;
  /** Extra request headers (Origin, Cookie, …). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Offered subprotocols (default `rxmux.v1`). */
  readonly protocols?: readonly string[];
  /** Most time for the handshake, ms (default 5,000). */
  readonly timeoutMs?: number;
}

/** The server refused the upgrade with an HTTP status. */
export class RefusedUpgrade extends Error {
  constructor(readonly status: number) {
    super(`upgrade refused with HTTP ${status}`);
  }
}

/** An open raw WebSocket. */
export class RawSocket {
  readonly #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  readonly #frames: RawFrame[] = [];
  #wake: (() => void) | undefined;
  #closed: { code: number; reason: string } | undefined;
  /** When set, every text and binary frame goes here instead of the queue {@link nextText} reads. */
  onFrame: ((frame: RawFrame) => void) | undefined;
  /** When set, called once the socket is gone (after its close frame, if any). */
  onClose: ((code: number) => void) | undefined;

  private constructor(socket: Socket, rest: Buffer) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#data(chunk));
    socket.on('close', () => {
      this.#closed ??= { code: 1006, reason: '' };
      this.#notify();
      this.onClose?.(this.#closed.code);
    });
    if (rest.length > 0) this.#data(rest);
  }

  /** Opens a socket: resolves after the 101, rejects with {@link RefusedUpgrade} (or a network error). */
  static open(target: RawTarget): Promise<RawSocket> {
    const socket = connect({ port: target.port, host: '127.0.0.1', ...(target.localAddress === undefined ? {} : { localAddress: target.localAddress }) });
    socket.setNoDelay(true);
    const key = randomBytes(16).toString('base64');
    const protocols = target.protocols ?? ['rxmux.v1'];
    const headers = {
      Host: `127.0.0.1:${target.port}`,
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': key,
      'Sec-WebSocket-Version': '13',
      ...(protocols.length > 0 ? { 'Sec-WebSocket-Protocol': protocols.join(', ') } : {}),
      ...target.headers,
    };
    const request = `GET ${target.path ?? '/rt'} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
    return new Promise((resolve, reject) => {
      let head = Buffer.alloc(0);
      const timer = setTimeout(() => fail(new Error('handshake timed out')), target.timeoutMs ?? 5_000);
      const fail = (error: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) {
          if (head.length > 16_384) fail(new Error('response head too long'));
          return;
        }
        socket.off('data', onData);
        socket.off('error', fail);
        socket.off('close', onClose);
        clearTimeout(timer);
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head.subarray(0, end).toString('latin1'))?.[1] ?? 0);
        if (status !== 101) {
          socket.destroy();
          reject(new RefusedUpgrade(status));
          return;
        }
        socket.on('error', () => undefined);
        resolve(new RawSocket(socket, head.subarray(end + 4)));
      };
      const onClose = (): void => fail(new Error('closed during the handshake'));
      socket.on('data', onData);
      socket.once('error', fail);
      socket.once('close', onClose);
      socket.write(request);
    });
  }

  /** The close the server sent (or 1006), once the socket is gone. */
  get closed(): { readonly code: number; readonly reason: string } | undefined {
    return this.#closed;
  }

  /** Bytes the kernel has not taken yet on our side. */
  get writableLength(): number {
    return this.#socket.writableLength;
  }

  /** Sends a text frame: a string, or bytes written as they are (which need not be UTF-8). */
  text(data: string | Uint8Array): void {
    this.frame(1, typeof data === 'string' ? Buffer.from(data) : data);
  }

  /** Sends a binary frame. */
  binary(data: Uint8Array): void {
    this.frame(2, data);
  }

  /** Sends one frame of any opcode, masked, FIN set. */
  frame(opcode: number, payload: Uint8Array): void {
    if (this.#socket.destroyed) return;
    const n = payload.byteLength;
    const head = Buffer.alloc(n < 126 ? 6 : n < 65_536 ? 8 : 14);
    head[0] = 0x80 | (opcode & 0x0f);
    if (n < 126) head[1] = 0x80 | n;
    else if (n < 65_536) {
      head[1] = 0x80 | 126;
      head.writeUInt16BE(n, 2);
    } else {
      head[1] = 0x80 | 127;
      head.writeBigUInt64BE(BigInt(n), 2);
    }
    const mask = randomBytes(4);
    mask.copy(head, head.length - 4);
    const body = Buffer.from(payload);
    for (let i = 0; i < n; i++) body[i] = (body[i] as number) ^ (mask[i & 3] as number);
    this.#socket.write(Buffer.concat([head, body]));
  }

  /** Stops reading: the server's writes pile up in its buffers and the kernel's. */
  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  /** Takes the next text frame's payload as a string (waits up to `ms`); `undefined` when none came or the socket closed. */
  async nextText(ms: number): Promise<string | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.#frames.findIndex((f) => f.opcode === 1);
      if (i !== -1) return (this.#frames.splice(i, 1)[0] as RawFrame).payload.toString('utf8');
      if (this.#closed !== undefined) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Waits (up to `ms`) for the socket to close; the close code, or `undefined` when it stayed open. */
  async waitClosed(ms: number): Promise<{ readonly code: number; readonly reason: string } | undefined> {
    const deadline = Date.now() + ms;
    while (this.#closed === undefined && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.#closed;
  }

  /** Destroys the TCP connection (no close handshake). */
  destroy(): void {
    this.#socket.destroy();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #data(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const b = this.#buffer;
      if (b.length < 2) return;
      let length = (b[1] as number) & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (b.length < 4) return;
        length = b.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (b.length < 10) return;
        length = Number(b.readBigUInt64BE(2));
        offset = 10;
      }
      if (b.length < offset + length) return;
      const frame: RawFrame = { opcode: (b[0] as number) & 0x0f, payload: b.subarray(offset, offset + length) };
      this.#buffer = b.subarray(offset + length);
      if (frame.opcode === 8) {
        this.#closed = { code: frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005, reason: frame.payload.subarray(2).toString('utf8') };
        this.#socket.end();
      } else if (this.onFrame !== undefined && (frame.opcode === 1 || frame.opcode === 2)) {
        this.onFrame(frame);
      } else if (frame.opcode === 1 && this.#frames.length < 1_000) {
        this.#frames.push(frame); // text only, and bounded: a reader of 1 MiB publications keeps none of them
      }
      this.#notify();
    }
  }
}
