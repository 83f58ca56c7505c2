import { filter, Observable } from 'rxjs';
import { encodeBinary } from '../protocol/binary.js';
import { messageEncoder } from '../protocol/codec.js';
import type { JsonSafe, JsonValue, Payload } from '../protocol/frames.js';
import type { Ack } from '../connection/outbox.js';
import type { RxmuxError } from '../protocol/errors.js';
import type { GapNotice } from './positions.js';

/** Options of `channel.send()` and `channel.sendBinary()`. */
export interface SendOptions {
  /**
   * Ask the server to acknowledge the message. The message then carries an id,
   * is re-sent after a reconnect until acked (the server drops duplicates), and
   * the call returns an Observable that emits the {@link Ack} and completes.
   */
  readonly ack: true;
  /**
   * Give up after this many milliseconds without an ack (counted from the
   * send, offline time included): the Observable errors with
   * `AckTimeoutError` and the message is withdrawn. Default: no limit.
   */
  readonly timeout?: number;
}

/** Options of `channel.request()`. */
export interface RequestOptions {
  /** Milliseconds to wait for the response (`Infinity`: no limit). Default: the connection's `requestTimeout`. Not a non-negative number: `request()` throws `RXMUX_ERR_INVALID_ARGUMENT`. */
  readonly timeout?: number;
}

/**
 * Where a channel's subscription stands on the server:
 * - `'idle'`: no subscriber (or the server refused or ended the subscription);
 * - `'joining'`: subscribed here, the server has not confirmed yet (the
 *   subscribe is on its way, or waits for the socket: also after every
 *   reconnect, until the re-join is confirmed);
 * - `'joined'`: the server confirmed (`subscribed`): publications flow.
 */
export type ChannelState = 'idle' | 'joining' | 'joined';

/** An encoded outgoing frame: the wire form and its size. @internal */
export interface Outgoing {
  readonly wire: string | Uint8Array;
  readonly bytes: number;
}

/** How a {@link Channel} sends: the connection's outgoing path. @internal */
export interface ChannelTransport {
  nextId(): number;
  send(frame: Outgoing): void;
  sendWithAck(frame: Outgoing, id: number, timeout: number | undefined): Observable<Ack>;
  request(data: JsonValue, options: RequestOptions): Observable<JsonValue>;
}

/** Everything a {@link Channel} needs from its connection. @internal */
export interface ChannelHost extends ChannelTransport {
  readonly stream$: Observable<Payload>;
  readonly gaps$: Observable<GapNotice>;
  readonly errors$: Observable<RxmuxError>;
  readonly state$: Observable<ChannelState>;
}

/** The key of {@link Channel}'s factory: the multiplexer creates channels, apps ask `conn.channel(id)`. @internal */
export const CREATE_CHANNEL: unique symbol = Symbol('rxmux.createChannel');

function toBytes(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  return data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * One logical channel on a pooled connection: an Observable of the channel's
 * JSON messages, typed `In` (binary frames arrive on {@link Channel.binary$}),
 * that joins the channel on the server when its first subscriber arrives,
 * shares one stream among all subscribers, and leaves `linger` ms after the
 * last one is gone. What it sends is typed `Out` (`In` unless told otherwise).
 * Publications the server numbers are delivered in order without duplicates,
 * also across reconnects; what cannot be replayed is announced on `gaps$`.
 *
 * `In` is what the app expects from the server: nothing checks it at run
 * time (validate untrusted data yourself). `Out` is checked by the compiler
 * ({@link JsonSafe}: interfaces welcome, functions and dates refused) and by
 * the encoder at run time.
 *
 * @example
 * interface Beat { bpm: number }
 * const p1 = conn.channel<Beat>('player-1');
 * const sub = p1.subscribe((beat) => render(beat.bpm));
 * p1.send({ bpm: 72 });
 * sub.unsubscribe();
 */
export class Channel<In = JsonValue, Out = In> extends Observable<In> {
  /**
   * The channel's binary frames (`sendBinary` on the other side, or a
   * `Uint8Array` published by the server), as `Uint8Array` views. Shares the
   * channel's one join with the JSON stream: subscribing to either joins.
   */
  readonly binary$: Observable<Uint8Array>;
  /** Notices of messages lost for good on this channel (history exceeded, epoch reset). Hot. */
  readonly gaps$: Observable<GapNotice>;
  /**
   * Failures this channel survives, hot: a send the server refused or whose
   * handler failed (`RemoteError` with the server's code), a frame for it that
   * failed to decode (`ProtocolError`). They are on `conn.errors$` too. The
   * channel's subscribers go on; only a refused or ended subscription, or the
   * connection failing or closing, ends them.
   */
  readonly errors$: Observable<RxmuxError>;
  /**
   * Where the subscription stands on the server ({@link ChannelState}),
   * replayed to each subscriber. Observing it does not join the channel.
   *
   * @example
   * // wait until the server confirmed the join (e.g. in a test, before publishing)
   * await firstValueFrom(ch.state$.pipe(filter((s) => s === 'joined')));
   */
  readonly state$: Observable<ChannelState>;
  readonly #host: ChannelHost;
  readonly #encode: (data: JsonValue, id?: number) => string;

  /** @internal The multiplexer's way in. */
  static [CREATE_CHANNEL]<In, Out>(id: string, host: ChannelHost): Channel<In, Out> {
    return new Channel<In, Out>(id, host);
  }

  /** Use `conn.channel(id)`. */
  private constructor(
    /** The channel id. */
    readonly id: string,
    host: ChannelHost,
  ) {
    super((subscriber) =>
      host.stream$.subscribe({
        // JSON values here, bytes on binary$: one check per message, no operator layer.
        next: (value) => {
          if (!(value instanceof Uint8Array)) subscriber.next(value as In);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
    this.binary$ = new Observable<Uint8Array>((subscriber) =>
      host.stream$.subscribe({
        next: (value) => {
          if (value instanceof Uint8Array) subscriber.next(value);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
    this.#host = host;
    this.#encode = messageEncoder(id);
    this.gaps$ = host.gaps$.pipe(filter((gap) => gap.channel === id));
    this.errors$ = host.errors$;
    this.state$ = host.state$;
  }

  /**
   * Sends a JSON value on the channel. Goes out at once when the connection is
   * open (coalesced with other frames of the same turn), otherwise waits in
   * the offline buffer and is flushed in order on reconnect.
   * With `{ ack: true }` it returns an Observable that emits once the server
   * has acknowledged the message (after its handler ran) and errors with
   * `RemoteError` if the server refused it.
   * Throws `ProtocolError` for a value JSON cannot carry, `BufferFullError`
   * when the buffer is full under the `'error'` policy, and
   * `ConnectionClosedError` after `conn.close()`.
   *
   * @example
   * await lastValueFrom(conn.channel('score').send({ goal: 1 }, { ack: true }));
   */
  send(data: JsonSafe<Out>): void;
  send(data: JsonSafe<Out>, options: SendOptions): Observable<Ack>;
  send(data: JsonSafe<Out>, options?: SendOptions): void | Observable<Ack> {
    if (options?.ack !== true) {
      const wire = this.#encode(data as JsonValue); // checked again at run time by the encoder
      this.#host.send({ wire, bytes: wire.length });
      return;
    }
    const id = this.#host.nextId();
    const wire = this.#encode(data as JsonValue, id);
    return this.#host.sendWithAck({ wire, bytes: wire.length }, id, options.timeout);
  }

  /**
   * Sends raw bytes as one binary frame (3 + channel-id bytes of header, no
   * base64). Buffered and acknowledged like {@link send}.
   */
  sendBinary(data: ArrayBuffer | ArrayBufferView): void;
  sendBinary(data: ArrayBuffer | ArrayBufferView, options: SendOptions): Observable<Ack>;
  sendBinary(data: ArrayBuffer | ArrayBufferView, options?: SendOptions): void | Observable<Ack> {
    if (options?.ack !== true) {
      const wire = encodeBinary({ type: 'message', channel: this.id, data: toBytes(data) });
      this.#host.send({ wire, bytes: wire.byteLength });
      return;
    }
    const id = this.#host.nextId();
    const wire = encodeBinary({ type: 'message', channel: this.id, data: toBytes(data), id });
    return this.#host.sendWithAck({ wire, bytes: wire.byteLength }, id, options.timeout);
  }

  /**
   * Sends a request to the channel's server handler. The Observable emits the
   * response once and completes; it errors with `RequestTimeoutError` when no
   * response arrives in time, or `RemoteError` (the server's code) when the
   * handler fails. Unsubscribing before the response sends a cancel frame. A
   * request in flight during a reconnect is sent again on the new socket.
   *
   * `Res` is what the app expects the handler to answer (not checked at run
   * time); `Req`, the request's data, is checked like `send`'s.
   *
   * @example
   * interface Stats { avg: number }
   * const stats = await firstValueFrom(conn.channel('match').request<Stats>({ op: 'stats' }, { timeout: 5000 }));
   */
  request<Res = JsonValue, Req = JsonValue>(data: JsonSafe<Req>, options: RequestOptions = {}): Observable<Res> {
    return this.#host.request(data as JsonValue, options) as Observable<Res>;
  }
}
