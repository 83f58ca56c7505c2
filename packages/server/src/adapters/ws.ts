/**
 * The `ws` adapter: everything that knows about `ws`. It owns the
 * `WebSocketServer` (no server of its own: upgrades come from the HTTP
 * server), completes admitted upgrades, checks the subprotocol, and turns
 * each `ws` socket into a {@link Transport} for the core (WebSocket ping
 * frames, `maxPayload`, sends with shared options). Nothing protocol-specific
 * lives here.
 *
 * ```
 *  upgrade ─▶ door.upgrade (503 as plain HTTP) ─▶ wss.handleUpgrade ─▶ Origin refused? ─▶ close 4403; throttled? ─▶ close 1013
 *                                                                      rxmux.v2 or v1? ──no──▶ close 4406
 *                                          core.opened(transport, auth) ◀── yes (credentials checked at the hello)
 *  ws 'message' ─▶ socket.message   ws 'pong' ─▶ socket.pong   ws 'close' ─▶ socket.closed
 * ```
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCode, SUBPROTOCOL, subprotocolVersion, TRANSFER_SUBPROTOCOL } from '@rxmux/core/protocol';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { ServerCore } from '../core/server-core.js';
import type { SharedMessage, SocketAuth, SocketHandle, Transport } from '../core/transport.js';
import type { UpgradeAdmission } from '../http/door.js';
import { refuseUpgrade } from '../http/errors.js';

/**
 * Refusals answered with a close code after the upgrade rather than an HTTP
 * status: a browser reports a refused upgrade as 1006, which a client retries
 * forever; 4403 (a foreign Origin) is fatal (PROTOCOL.md 9), 1013 (a throttled
 * address) is retried with backoff.
 */
const CLOSE_AFTER_UPGRADE: Readonly<Record<number, number>> = { 403: CloseCode.Forbidden, 429: CloseCode.TryAgainLater };

// Shared send options: a write to every recipient of a publish must not allocate.
const TEXT = Object.freeze({ binary: false });
const BINARY = Object.freeze({ binary: true });

/** `ws`'s `WebSocket.OPEN`. */
const OPEN = 1;

/**
 * What the shared-frame write uses of a `ws` socket beyond its typed API:
 * its `Sender`, whose `sendFrame` writes an already framed message (what
 * engine.io does with socket.io-adapter's `wsPreEncodedFrame`), and whose
 * `_state` is 0 when nothing (a compression, a Blob read) is queued ahead.
 */
interface WsSender {
  readonly _state?: number;
  sendFrame?(list: readonly Uint8Array[]): void;
}

/**
 * The WebSocket frame (RFC 6455 5.2) a server writes for one unfragmented,
 * unmasked, uncompressed message: the bytes `ws.send(data, { binary })`
 * writes, in one buffer, so many sockets can write the same one.
 * @internal
 */
export function wsFrame(data: Uint8Array, binary: boolean): Uint8Array {
  const length = data.byteLength;
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x80 | (binary ? 0x2 : 0x1); // FIN, opcode
  if (header === 2) {
    frame[1] = length;
  } else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame.set(data, header);
  return frame;
}

/**
 * A `ws` socket as a core transport (methods on the prototype: no closures per connection).
 * @internal
 */
export class WsTransport implements Transport {
  constructor(private readonly ws: WebSocket) {}

  send(data: string | Uint8Array, binary: boolean): void {
    this.ws.send(data, binary ? BINARY : TEXT);
  }

  /**
   * Writes the message's WebSocket frame, built once for every socket, to
   * this one: no header, option object or two-buffer `writev` per recipient.
   * `ws.send` when the frame cannot go straight to the socket (not open,
   * something queued in its sender). permessage-deflate is never negotiated
   * ({@link wsAdapter} turns it off), so the frame is never compressed.
   */
  sendShared(message: SharedMessage): void {
    const sender = (this.ws as unknown as { readonly _sender?: WsSender })._sender;
    if (this.ws.readyState !== OPEN || sender?.sendFrame === undefined || sender._state !== 0) {
      this.send(message.data, message.binary);
      return;
    }
    sender.sendFrame([(message.wire ??= wsFrame(message.data, message.binary))]);
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }

  ping(): void {
    this.ws.ping();
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  get protocol(): string {
    return this.ws.protocol;
  }
}

/** What the server composes: the upgrade handler and shutdown. @internal */
export interface WsAdapter {
  /** Handles an HTTP upgrade for the WebSocket path: the door first, then the WebSocket handshake. */
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Closes the `WebSocketServer` (the core closes the sockets). */
  readonly close: () => void;
}

/**
 * Serves `core` over `ws`. `admit` is the HTTP door: it runs before any
 * WebSocket exists, and its refusals are plain HTTP responses.
 * @internal
 */
export function wsAdapter<P>(core: ServerCore<P>, door: (req: IncomingMessage) => UpgradeAdmission<P>): WsAdapter {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: core.limits.maxFrameBytes, // larger messages close with 1009 before reaching the core
    perMessageDeflate: false,
    clientTracking: false,
    // rxmux.v2 (chunked transfers) when offered and spoken, else rxmux.v1; a token subprotocol offered next
    // to them is read by authenticate, never selected.
    handleProtocols: (protocols) =>
      core.transfers && protocols.has(TRANSFER_SUBPROTOCOL) ? TRANSFER_SUBPROTOCOL : protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false,
  });

  const connected = (ws: WebSocket, auth: SocketAuth<P>): void => {
    if (subprotocolVersion(ws.protocol) === undefined) {
      ws.on('error', () => undefined);
      ws.close(CloseCode.UnsupportedProtocol, `subprotocol ${SUBPROTOCOL} required`);
      return;
    }
    (ws as Handled)[HANDLE] = core.opened(new WsTransport(ws), auth);
    ws.on('message', onMessage);
    ws.on('pong', onPong);
    ws.on('error', onError);
    ws.on('close', onClose);
  };

  return {
    upgrade(req, socket, head) {
      const admission = door(req);
      const code = 'status' in admission ? CLOSE_AFTER_UPGRADE[admission.status] : undefined;
      if ('status' in admission && code === undefined) {
        refuseUpgrade(socket, admission.status, admission.message);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        if ('auth' in admission) {
          connected(ws, admission.auth);
          return;
        }
        ws.on('error', () => undefined);
        ws.close(code, admission.message);
      });
    },
    close: () => wss.close(),
  };
}

/** Where a socket's handle is kept on its `ws`: the four listeners are the same functions for every socket (no closures per connection). */
const HANDLE = Symbol('rxmux.handle');

/** A `ws` socket with its handle; `ws` calls listeners with the socket as `this`. */
interface Handled extends WebSocket {
  [HANDLE]: SocketHandle;
}

const handleOf = (ws: WebSocket): SocketHandle => (ws as Handled)[HANDLE];

// Text arrives UTF-8 validated by ws (invalid UTF-8 closes with 1007 before reaching us).
function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  const bytes = bytesOf(data);
  handleOf(this).message(isBinary ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
}

function onPong(this: WebSocket): void {
  handleOf(this).pong();
}

function onError(this: WebSocket, error: Error): void {
  handleOf(this).error(error);
}

function onClose(this: WebSocket, code: number, reason: Buffer): void {
  handleOf(this).closed(code, reason.toString('utf8'));
}

function bytesOf(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}
