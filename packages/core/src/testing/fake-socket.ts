import { encode } from '../protocol/codec.js';
import { SUBPROTOCOL, type Frame } from '../protocol/frames.js';
import type { CloseEventLike, MessageEventLike, WebSocketLike } from '../transport/websocket.js';

type Listener = (event: never) => void;
type EventName = 'open' | 'message' | 'close' | 'error';

/**
 * A WebSocket the test drives by hand: nothing happens until the test calls
 * {@link FakeWebSocket.accept}, {@link FakeWebSocket.receive} or
 * {@link FakeWebSocket.drop}. Every event fires synchronously, so marble tests
 * can place them at exact virtual times. A {@link FakeServer} creates them
 * (each is the `socket` of a `ScriptedConnection`); use one directly to send
 * bytes no helper would, or to read `readyState` and `listenerCount`.
 *
 * @example
 * const c = await server.nextConnection();
 * c.welcome();
 * c.socket.receive('not json');   // the client reports RXMUX_ERR_MALFORMED_JSON on errors$
 */
export class FakeWebSocket implements WebSocketLike {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;

  readyState = FakeWebSocket.CONNECTING;
  protocol = '';
  binaryType = 'blob';
  bufferedAmount = 0;
  /** Everything the client sent, raw. */
  readonly sent: (string | Uint8Array)[] = [];
  /** The code and reason the client closed with, once it did. */
  closedWith: { readonly code: number; readonly reason: string } | undefined;
  readonly #listeners = new Map<EventName, Set<Listener>>();

  constructor(
    readonly url: string,
    /** The subprotocols the client asked for. */
    readonly protocols: readonly string[],
  ) {}

  addEventListener(type: EventName, listener: Listener): void {
    let set = this.#listeners.get(type);
    if (set === undefined) this.#listeners.set(type, (set = new Set()));
    set.add(listener);
  }

  removeEventListener(type: EventName, listener: Listener): void {
    this.#listeners.get(type)?.delete(listener);
  }

  /** How many listeners are attached, over all event types (leak checks). */
  get listenerCount(): number {
    let n = 0;
    for (const set of this.#listeners.values()) n += set.size;
    return n;
  }

  send(data: string | ArrayBufferLike | ArrayBufferView): void {
    if (this.readyState !== FakeWebSocket.OPEN) throw new Error(`FakeWebSocket.send in readyState ${this.readyState}`);
    if (typeof data === 'string') this.sent.push(data);
    else if (ArrayBuffer.isView(data)) this.sent.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice());
    else this.sent.push(new Uint8Array(data).slice());
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState >= FakeWebSocket.CLOSING) return;
    this.closedWith = { code, reason };
    this.readyState = FakeWebSocket.CLOSED;
    this.#emit('close', { code, reason, wasClean: true });
  }

  // ---- driven by the test ----

  /** Completes the handshake: the server selects `protocol` (default `rxmux.v1`), `open` fires. */
  accept(protocol = SUBPROTOCOL): void {
    this.protocol = protocol;
    this.readyState = FakeWebSocket.OPEN;
    this.#emit('open', {});
  }

  /** Delivers a frame (encoded with the codec), a raw string or raw bytes, as a server message. */
  receive(message: Frame | string | Uint8Array): void {
    const wire = typeof message === 'string' || message instanceof Uint8Array ? message : encode(message);
    const data = typeof wire === 'string' ? wire : wire.slice().buffer;
    this.#emit('message', { data } satisfies MessageEventLike);
  }

  /** The connection drops (network loss, server close): `error` (for 1006) then `close` fire. */
  drop(code = 1006, reason = ''): void {
    if (this.readyState === FakeWebSocket.CLOSED) return;
    this.readyState = FakeWebSocket.CLOSED;
    if (code === 1006) this.#emit('error', {});
    this.#emit('close', { code, reason, wasClean: code !== 1006 } satisfies CloseEventLike & { wasClean: boolean });
  }

  #emit(type: EventName, event: object): void {
    for (const listener of [...(this.#listeners.get(type) ?? [])]) (listener as (e: object) => void)(event);
  }
}
