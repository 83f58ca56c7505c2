import { Observable } from 'rxjs';
import { decode, type DecodeLimits, type DecodeResult } from '../protocol/codec.js';
import { CloseCode } from '../protocol/close-codes.js';
import { ErrorCode, RxmuxError } from '../protocol/errors.js';
import { subprotocolVersion } from '../protocol/frames.js';
import { ConnectionLostError } from '../errors.js';

/** The close event fields rxmux reads. */
export interface CloseEventLike {
  readonly code: number;
  readonly reason: string;
}

/** The message event field rxmux reads. */
export interface MessageEventLike {
  readonly data: unknown;
}

/**
 * The part of the WebSocket interface rxmux uses. The browser's `WebSocket`,
 * the `ws` package's `WebSocket` and `FakeWebSocket` from `@rxmux/core/testing` fit it.
 */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  readonly bufferedAmount: number;
  binaryType: string;
  send(data: string | ArrayBufferLike | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'error', listener: (event: unknown) => void): void;
  addEventListener(type: 'message', listener: (event: MessageEventLike) => void): void;
  addEventListener(type: 'close', listener: (event: CloseEventLike) => void): void;
  removeEventListener(type: 'open' | 'error', listener: (event: unknown) => void): void;
  removeEventListener(type: 'message', listener: (event: MessageEventLike) => void): void;
  removeEventListener(type: 'close', listener: (event: CloseEventLike) => void): void;
}

/** A WebSocket constructor: the browser's global, `ws`'s `WebSocket`, or a fake. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/**
 * The `ws` package's EventEmitter side of its `WebSocket`: `'message'`
 * listeners get the data (a `Buffer` for text) and whether it is binary,
 * without the `MessageEvent` its `addEventListener` wraps every message in.
 */
interface NodeWsEmitter {
  on(type: 'message', listener: (data: unknown, isBinary: boolean) => void): unknown;
  off(type: 'message', listener: (data: unknown, isBinary: boolean) => void): unknown;
}

/** `socket` as a `ws` EventEmitter, when it is one (Node's `ws`; not a browser WebSocket or a fake). */
function nodeEmitter(socket: WebSocketLike): NodeWsEmitter | undefined {
  const s = socket as Partial<NodeWsEmitter> & { readonly terminate?: unknown; readonly binaryType: string };
  return typeof s.on === 'function' && typeof s.off === 'function' && typeof s.terminate === 'function' && s.binaryType === 'arraybuffer'
    ? (s as NodeWsEmitter)
    : undefined;
}

/** What an open transport emits. @internal */
export type SocketEvent =
  /** `version`: the protocol version the server selected (2: chunked transfers). */
  | { readonly kind: 'open'; readonly socket: WebSocketLike; readonly version: number }
  | { readonly kind: 'frames'; readonly result: DecodeResult; readonly raw: unknown };

const OPEN = 1;
const CONNECTING = 0;

/**
 * One WebSocket as a cold Observable: subscribing opens the socket,
 * unsubscribing closes it (1000) and removes every listener (a no-op `error`
 * listener only once the close event came). Emits `open`,
 * then one `frames` event per WebSocket message (already decoded). Errors with
 * {@link ConnectionLostError} when the socket closes, and with an
 * `RXMUX_ERR_UNSUPPORTED_PROTOCOL` error when the server did not select one
 * of the `offered` subprotocols (`rxmux.v2, rxmux.v1`, or `rxmux.v1`).
 * @internal
 */
export function openSocket(ctor: WebSocketConstructor, url: string, limits: DecodeLimits, offered: readonly string[]): Observable<SocketEvent> {
  return new Observable<SocketEvent>((subscriber) => {
    let socket: WebSocketLike;
    try {
      socket = new ctor(url, offered.length === 1 ? offered[0] : [...offered]);
    } catch (err) {
      // An invalid URL is a programming error, but it must still reach the caller once, as an error.
      subscriber.error(new RxmuxError(ErrorCode.InvalidArgument, `cannot open WebSocket to ${url}: ${String(err)}`, { cause: err }));
      return;
    }
    socket.binaryType = 'arraybuffer';
    const onOpen = (): void => {
      const version = offered.includes(socket.protocol) ? subprotocolVersion(socket.protocol) : undefined;
      if (version === undefined) {
        socket.close(CloseCode.UnsupportedProtocol, 'rxmux.v1 not negotiated');
        subscriber.error(new RxmuxError(ErrorCode.UnsupportedProtocol, `server selected subprotocol "${socket.protocol}", expected one of "${offered.join('", "')}"`));
        return;
      }
      subscriber.next({ kind: 'open', socket, version });
    };
    const onData = (data: unknown): void => {
      subscriber.next({ kind: 'frames', result: decode(data, limits), raw: data });
    };
    const onMessage = (event: MessageEventLike): void => onData(event.data);
    // The `ws` package's own 'message' event: no MessageEvent built per message (Node only; browsers have no `on`).
    const emitter = nodeEmitter(socket);
    const onNodeMessage = (data: unknown, isBinary: boolean): void => onData(isBinary ? data : String(data));
    const onClose = (event: CloseEventLike): void => {
      subscriber.error(new ConnectionLostError(event.code, event.reason));
    };
    const onError = (): void => {
      // A close event always follows; it carries the code, so it reports the failure.
    };
    socket.addEventListener('open', onOpen);
    if (emitter === undefined) socket.addEventListener('message', onMessage);
    else emitter.on('message', onNodeMessage);
    socket.addEventListener('close', onClose);
    socket.addEventListener('error', onError);
    return () => {
      socket.removeEventListener('open', onOpen);
      if (emitter === undefined) socket.removeEventListener('message', onMessage);
      else emitter.off('message', onNodeMessage);
      socket.removeEventListener('close', onClose);
      if (socket.readyState !== OPEN && socket.readyState !== CONNECTING) {
        socket.removeEventListener('error', onError);
        return;
      }
      // The no-op error listener stays until the socket has closed: closing a CONNECTING socket of the
      // `ws` package emits 'error' (then 'close') on the next tick, and an EventEmitter throws an
      // 'error' nobody listens to, as an uncaught exception.
      const closed = (): void => {
        socket.removeEventListener('error', onError);
        socket.removeEventListener('close', closed);
      };
      socket.addEventListener('close', closed);
      socket.close(CloseCode.Normal, 'client closed');
    };
  });
}
