/**
 * The contract between the server core and a transport adapter (the `ws`
 * adapter, or any other WebSocket server): the adapter gives the core an
 * open socket as a {@link Transport}, and feeds the {@link SocketHandle} the
 * core returns from `opened()`.
 *
 * ```
 *  adapter                                   core
 *  ws open, rxmux.v1/v2 ── opened(transport, auth) ────▶ SocketHandle
 *  ws 'message' ─────── handle.message(data) ──────────▶ frames, in order
 *  ws 'pong' ────────── handle.pong() ─────────────────▶ alive
 *  ws 'close' ───────── handle.closed(code, reason) ───▶ channels left, session detached
 *               ◀────── transport.send / close / terminate / ping
 * ```
 */
import type { Verify } from '../credentials.js';

/**
 * An open WebSocket as the server core needs it. The `ws` adapter implements
 * it; any other WebSocket server can too.
 */
export interface Transport {
  /** Sends a text (`binary` false) or binary message. */
  send(data: string | Uint8Array, binary: boolean): void;
  /**
   * Sends a message that many sockets send unchanged (a publication to every
   * recipient). An adapter may encode its wire form once, in
   * {@link SharedMessage.wire}, and write the same bytes to each socket; one
   * that does not implement this gets `send(message.data, message.binary)`.
   */
  sendShared?(message: SharedMessage): void;
  /** Bytes queued but not yet written to the network. */
  readonly bufferedAmount: number;
  /** Starts the close handshake. */
  close(code: number, reason: string): void;
  /** Destroys the socket at once. */
  terminate(): void;
  /** Sends a transport-level ping (a WebSocket ping frame). */
  ping(): void;
  /**
   * Stops reading from the network (TCP backpressure) while the core's
   * inbox for this socket holds frames it has not handled yet: after an
   * asynchronous step, or past its share of frames per turn. Optional: a
   * transport without it is bounded by the inbox caps alone.
   */
  pause?(): void;
  /** Reads from the network again once the inbox is empty. */
  resume?(): void;
  /**
   * The subprotocol the handshake selected: `rxmux.v2` (chunked transfers)
   * or `rxmux.v1`. The hello must name its version. Absent: `rxmux.v1`.
   */
  readonly protocol?: string;
}

/**
 * One message written unchanged to many sockets: its bytes are encoded once
 * for all of them, and a transport adapter may keep its own wire form beside
 * them (the `ws` adapter: the whole WebSocket frame, header and payload), built
 * by the first socket that writes it and reused by every other one.
 */
export class SharedMessage {
  /** The adapter's wire form of the message, built on first write. */
  wire: Uint8Array | undefined = undefined;

  constructor(
    /** The payload (UTF-8 text, or bytes). */
    readonly data: Uint8Array,
    readonly binary: boolean,
  ) {}
}

/**
 * Who is on a socket the adapter hands over: a principal it already knows
 * (its own authentication, or none), or a `verify` the core calls with the
 * token of the first frame (`hello`) and of every `refresh`; and the client
 * address it comes from, for the caps per address.
 */
export type SocketAuth<P> = ({ readonly principal: P; readonly verify?: undefined } | { readonly verify: Verify<P>; readonly principal?: undefined }) & {
  /** The client address the socket is counted under (`limits.maxConnectionsPerAddress`, …); absent: not counted. */
  readonly address?: string | undefined;
};

/**
 * What a transport adapter calls on the socket the core opened. None of them
 * throws: a failure of ours is reported and costs this socket (close 1011).
 */
export interface SocketHandle {
  /** A WebSocket message arrived: text (already UTF-8 validated) as a string, binary as bytes. */
  message(data: string | Uint8Array, now?: number): void;
  /** The peer answered a transport ping. */
  pong(now?: number): void;
  /** The socket closed (the code and reason it saw). */
  closed(code: number, reason: string): void;
  /** The transport reported an error: it goes to `hooks.onError` with this socket's info. */
  error(error: unknown): void;
}
