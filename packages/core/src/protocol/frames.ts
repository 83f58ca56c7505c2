/**
 * Frame types of the rxmux wire protocol, versions 1 and 2 (see PROTOCOL.md).
 *
 * On the wire a text frame is one JSON array, the *envelope*, whose first
 * element is the type number: `[0, "player-1", {"bpm": 72}]`. Several
 * envelopes may travel in one WebSocket message as a *batch*, an array of
 * envelopes: `[[0, "a", 1], [0, "b", 2]]`. Binary frames carry a compact
 * header followed by raw bytes (see `codec.ts`).
 */

/** The base protocol version: every peer speaks it (PROTOCOL.md 13). */
export const PROTOCOL_VERSION = 1;

/** The WebSocket subprotocol that negotiates the base version. */
export const SUBPROTOCOL = 'rxmux.v1';

/**
 * Version 2: version 1 plus chunked transfers (PROTOCOL.md 15): the
 * `transfer`, `chunk`, `credit` and `abort` frames and the transfer keys of
 * the limits objects. A peer that did not negotiate it never sees them.
 */
export const TRANSFER_VERSION = 2;

/** The WebSocket subprotocol that negotiates {@link TRANSFER_VERSION}. */
export const TRANSFER_SUBPROTOCOL = 'rxmux.v2';

/** The protocol version a selected subprotocol names (`undefined`: not rxmux). */
export function subprotocolVersion(subprotocol: string): 1 | 2 | undefined {
  return subprotocol === SUBPROTOCOL ? PROTOCOL_VERSION : subprotocol === TRANSFER_SUBPROTOCOL ? TRANSFER_VERSION : undefined;
}

/** Any value JSON can carry. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * `T` when JSON can carry it as it is, interfaces included (which
 * `JsonValue`, an index-signature type, refuses); a property or element JSON
 * cannot carry (a function, a `Date`, `undefined` in an array, bytes) becomes
 * `never`, so the compiler points at it. Object properties may be `undefined`
 * (JSON leaves them out). The encoder checks the value at run time as well.
 *
 * @example
 * interface Beat { bpm: number; zone?: 'green' | 'red' }
 * const ok: JsonSafe<Beat> = { bpm: 72 };
 */
export type JsonSafe<T> = T extends string | number | boolean | null
  ? T
  : T extends undefined | symbol | bigint | ((...args: never[]) => unknown) | Uint8Array | ArrayBufferLike | Date | ReadonlyMap<unknown, unknown> | ReadonlySet<unknown>
    ? never
    : T extends readonly (infer E)[]
      ? readonly JsonSafe<E>[]
      : T extends object
        ? { readonly [K in keyof T]: JsonSafe<Exclude<T[K], undefined>> | (undefined extends T[K] ? undefined : never) }
        : never;

/** What a channel message carries: a JSON value (text frame) or raw bytes (binary frame). */
export type Payload = JsonValue | Uint8Array;

/** Type numbers as they appear first in every envelope (and in the binary header). */
export const FrameType = {
  message: 0,
  publication: 1,
  hello: 2,
  welcome: 3,
  subscribe: 4,
  unsubscribe: 5,
  subscribed: 6,
  unsubscribed: 7,
  error: 8,
  ack: 9,
  request: 10,
  response: 11,
  'request-error': 12,
  cancel: 13,
  ping: 14,
  pong: 15,
  gap: 16,
  receipt: 17,
  refresh: 18,
  refreshed: 19,
  transfer: 20,
  chunk: 21,
  credit: 22,
  abort: 23,
} as const;

/** The name of a frame type, e.g. `'message'`. */
export type FrameTypeName = keyof typeof FrameType;

/**
 * What a peer accepts, announced so the other side never writes more: the
 * client's in `hello`, the server's in `welcome`. The transfer keys
 * (PROTOCOL.md 15.1) come all four together, and only on a socket that
 * negotiated {@link TRANSFER_VERSION}.
 */
export interface PeerLimits {
  /** Largest WebSocket message accepted, in bytes. */
  readonly maxFrameBytes: number;
  /** Most envelopes accepted in one batch. */
  readonly maxBatch: number;
  /** Largest piece of a transfer accepted; a payload above it travels in chunks (v2). */
  readonly chunkBytes?: number;
  /** Bytes of transfer data the other side may have sent and not yet seen credited (v2). */
  readonly window?: number;
  /** Largest message accepted once its chunks are put together, in bytes (v2). */
  readonly maxMessageBytes?: number;
  /** Most channels with an unfinished transfer towards this peer at once (v2). */
  readonly maxTransfers?: number;
}

/** The transfer keys of a limits object (PROTOCOL.md 15.1), all present. */
export type TransferLimits = Required<Pick<PeerLimits, 'chunkBytes' | 'window' | 'maxMessageBytes' | 'maxTransfers'>>;

/**
 * The server's limits as announced in `welcome`: what it decodes, and the
 * token bucket it charges every envelope against (`rate` per second, `burst`
 * at most). A client that paces its writes to this bucket is never refused.
 */
export interface ServerLimits extends PeerLimits {
  /** Envelopes per second, sustained. */
  readonly rate: number;
  /** Envelopes in one burst (the bucket's size). */
  readonly burst: number;
}

/**
 * The least every server accepts, whatever its configuration (PROTOCOL.md
 * 6.1, 14.3): so much a client may write before the `welcome` told it the
 * server's own limits. The message that carries the `hello` (the hello
 * batch: the hello and the first `subscribe` frames) holds at most
 * `maxBatch` envelopes in at most `maxFrameBytes` UTF-8 bytes; it is the
 * first message of the socket, charged to a full token bucket of at least
 * `burst` tokens. A server refuses a configuration below these.
 */
export const MIN_SERVER_LIMITS: Readonly<Pick<ServerLimits, 'maxFrameBytes' | 'maxBatch' | 'burst'>> = Object.freeze({
  maxFrameBytes: 8192,
  maxBatch: 32,
  burst: 32,
});

// client -> server
/** Opens the session. First frame the client sends on every socket. */
export interface HelloFrame {
  readonly type: 'hello';
  /** Protocol version the client speaks. */
  readonly version: number;
  /** Session id from a previous welcome, to resume it (delivery guarantees build on this). */
  readonly session?: string;
  /** Resume token from a previous welcome. */
  readonly resumeToken?: string;
  /** What the client accepts: the server splits its batches to fit and never sends a larger frame. */
  readonly limits?: PeerLimits;
  /**
   * The client's credential (a bearer token), for the server's
   * `authenticate`. It travels inside the socket, never in the URL (URLs end
   * up in logs).
   */
  readonly token?: string;
}

// server -> client
/** Accepts the session. The connection is `open` once this arrives. */
export interface WelcomeFrame {
  readonly type: 'welcome';
  readonly version: number;
  /** Session id assigned (or resumed) by the server. */
  readonly session: string;
  /** Server heartbeat interval in milliseconds (0: the server sends no pings). */
  readonly heartbeat: number;
  /** Opaque token the client presents to resume this session. */
  readonly resumeToken?: string;
  /** Whether the server resumed the session named in hello. */
  readonly resumed?: boolean;
  /**
   * How many `message` envelopes of this session the server has taken so far
   * (0 for a new session): a resuming client re-sends the ones after it.
   */
  readonly received?: number;
  /** What the server accepts and the rate it allows. */
  readonly limits?: ServerLimits;
  /**
   * Milliseconds until the credentials expire (absent: they do not): the
   * client sends a `refresh` with a new token before, or the server closes
   * the socket with 4401 then.
   */
  readonly expiresIn?: number;
}

// client -> server
/** Joins a channel. Resume fields are reserved for the delivery extension. */
export interface SubscribeFrame {
  readonly type: 'subscribe';
  readonly channel: string;
  /** Last sequence number the client has seen on this channel (resume). */
  readonly since?: number;
  /** History epoch the `since` belongs to (resume). */
  readonly epoch?: string;
}

// client -> server
/** Leaves a channel. */
export interface UnsubscribeFrame {
  readonly type: 'unsubscribe';
  readonly channel: string;
}

// server -> client
/** Confirms a subscribe. */
export interface SubscribedFrame {
  readonly type: 'subscribed';
  readonly channel: string;
  /** History epoch of the channel (delivery extension). */
  readonly epoch?: string;
  /** Sequence number of the newest message in the channel (delivery extension). */
  readonly seq?: number;
}

// server -> client
/** The server ended a subscription on its own (channel closed, kicked, rights revoked). */
export interface UnsubscribedFrame {
  readonly type: 'unsubscribed';
  readonly channel: string;
  readonly code?: string;
  readonly reason?: string;
}

// server -> client
/** A failure, connection-wide or concerning one channel. */
export interface ErrorFrame {
  readonly type: 'error';
  /** Stable code, e.g. `RXMUX_ERR_FORBIDDEN`. */
  readonly code: string;
  readonly message: string;
  /** The channel concerned; absent for connection-wide errors. */
  readonly channel?: string;
  /** The id of the client message this error answers (a message sent with an id was refused or its handler failed). */
  readonly id?: number;
}

// client -> server
/** A message from the client on a channel. With an `id` the server acks it. */
export interface MessageFrame {
  readonly type: 'message';
  readonly channel: string;
  readonly data: Payload;
  /** Client-assigned id; present when the client wants an ack. */
  readonly id?: number;
}

// server -> client
/** A message from the server on a channel. */
export interface PublicationFrame {
  readonly type: 'publication';
  readonly channel: string;
  readonly data: Payload;
  /** Sequence number within the channel's history epoch (delivery extension). */
  readonly seq?: number;
}

// server -> client
/** Acknowledges the client message with this id. */
export interface AckFrame {
  readonly type: 'ack';
  readonly id: number;
}

// client -> server
/** A request to the channel's handler; answered by a response or request-error with the same id. */
export interface RequestFrame {
  readonly type: 'request';
  readonly channel: string;
  readonly id: number;
  readonly data: JsonValue;
}

// server -> client
/** The reply to a request. */
export interface ResponseFrame {
  readonly type: 'response';
  readonly id: number;
  readonly data: JsonValue;
}

// server -> client
/** A request failed on the server. */
export interface RequestErrorFrame {
  readonly type: 'request-error';
  readonly id: number;
  readonly code: string;
  readonly message: string;
}

// client -> server
/** The client is no longer interested in the reply to request `id`. */
export interface CancelFrame {
  readonly type: 'cancel';
  readonly id: number;
}

// either direction
/** Liveness probe; the peer answers with a pong carrying the same `t`. */
export interface PingFrame {
  readonly type: 'ping';
  readonly t?: number;
}

// either direction
/** Answer to a ping. */
export interface PongFrame {
  readonly type: 'pong';
  readonly t?: number;
}

// server -> client
/**
 * The server cannot replay what the client missed on a channel: its history
 * no longer covers `since` (`reason: 'history'`), or the channel's history
 * epoch changed, e.g. the server restarted (`reason: 'epoch'`). Live
 * publications continue after `seq`; the app decides whether to refetch.
 */
export interface GapFrame {
  readonly type: 'gap';
  readonly channel: string;
  /** The channel's current history epoch. */
  readonly epoch: string;
  /** Newest sequence number in the channel now: live publications continue after it. */
  readonly seq: number;
  /**
   * Why: `'history'` (not replayable any more), `'epoch'` (another history),
   * or `'too-big'` (one publication larger than the client's `maxFrameBytes`,
   * skipped for this client: `seq` is that publication's).
   */
  readonly reason: string;
  /** The last sequence number the client had seen (from its subscribe). */
  readonly since?: number;
}

// server -> client
/**
 * A cumulative receipt: the server has taken `received` `message` envelopes
 * of this session (every one in order, acked or not). The client forgets the
 * plain sends it covers; the ones after it are re-sent on a resume.
 */
export interface ReceiptFrame {
  readonly type: 'receipt';
  readonly received: number;
}

// client -> server
/** New credentials on a live connection: the server authenticates them again, nothing is dropped. */
export interface RefreshFrame {
  readonly type: 'refresh';
  readonly token: string;
}

// server -> client
/** The refreshed credentials were accepted; `expiresIn` as in `welcome`. */
export interface RefreshedFrame {
  readonly type: 'refreshed';
  readonly expiresIn?: number;
}

// either direction (v2)
/**
 * Starts a chunked transfer (PROTOCOL.md 15): one `message` (client to
 * server) or `publication` (server to client) whose payload is larger than
 * the receiver's `chunkBytes`, cut into pieces. This frame carries the first
 * piece; `chunk` frames on the same channel carry the rest, in order. At
 * most one transfer per channel and direction is unfinished at a time.
 * Binary only.
 */
export interface TransferFrame {
  readonly type: 'transfer';
  /** What the payload is once put together: the sender's `message`, or `publication`. */
  readonly kind: 'message' | 'publication';
  readonly channel: string;
  /** Bytes of the whole payload. */
  readonly size: number;
  /**
   * `true`: the payload is one text envelope (UTF-8) of `kind` on `channel`,
   * a JSON message or publication, decoded once it is whole; absent: raw
   * bytes, the data of a binary `message` / `publication`.
   */
  readonly text?: true;
  /** The message id, when the message asks for an ack (also inside a text payload, where it must match). */
  readonly id?: number;
  /** The publication seq, when it is sequenced (also inside a text payload, where it must match). */
  readonly seq?: number;
  /** The first piece of the payload. */
  readonly data: Uint8Array;
}

// either direction (v2)
/**
 * The next piece of the unfinished transfer on `channel`, at `offset`
 * (the bytes received so far). With `abandon` the sender gives the transfer
 * up instead (no data): it is no message. Binary only.
 */
export interface ChunkFrame {
  readonly type: 'chunk';
  readonly channel: string;
  readonly offset: number;
  /** The sender abandons the transfer (no data follows, the message does not count). */
  readonly abandon?: true;
  readonly data: Uint8Array;
}

// either direction (v2)
/** The receiver took `bytes` more bytes of transfer data off the socket: the sender may send as many more. */
export interface CreditFrame {
  readonly type: 'credit';
  readonly bytes: number;
}

// either direction (v2)
/**
 * Sent by the receiver of the transfer on `channel`: it is refused (too big,
 * too many, malformed, stalled); the sender stops and abandons it, unless it
 * had sent its last piece already (then it is a refused message).
 */
export interface AbortFrame {
  readonly type: 'abort';
  readonly channel: string;
  /** Stable code, e.g. `RXMUX_ERR_FRAME_TOO_BIG`. */
  readonly code: string;
  readonly message?: string;
}

/** Every frame of protocol v1 and v2. Discriminated by `type`. */
export type Frame =
  | HelloFrame
  | WelcomeFrame
  | SubscribeFrame
  | UnsubscribeFrame
  | SubscribedFrame
  | UnsubscribedFrame
  | ErrorFrame
  | MessageFrame
  | PublicationFrame
  | AckFrame
  | RequestFrame
  | ResponseFrame
  | RequestErrorFrame
  | CancelFrame
  | PingFrame
  | PongFrame
  | GapFrame
  | ReceiptFrame
  | RefreshFrame
  | RefreshedFrame
  | TransferFrame
  | ChunkFrame
  | CreditFrame
  | AbortFrame;

/** Frames a client sends. */
export type ClientFrame =
  | HelloFrame
  | SubscribeFrame
  | UnsubscribeFrame
  | MessageFrame
  | RequestFrame
  | CancelFrame
  | PingFrame
  | PongFrame
  | RefreshFrame
  | TransferFrame
  | ChunkFrame
  | CreditFrame
  | AbortFrame;

/** Frames a server sends. */
export type ServerFrame =
  | WelcomeFrame
  | SubscribedFrame
  | UnsubscribedFrame
  | ErrorFrame
  | PublicationFrame
  | AckFrame
  | ResponseFrame
  | RequestErrorFrame
  | PingFrame
  | PongFrame
  | GapFrame
  | ReceiptFrame
  | RefreshedFrame
  | TransferFrame
  | ChunkFrame
  | CreditFrame
  | AbortFrame;

/** The frames that may travel as binary (raw bytes after a compact header). */
export type BinaryCapableFrame = MessageFrame | PublicationFrame;

/** The frames that travel only as binary: the pieces of a chunked transfer (v2). */
export type TransferPieceFrame = TransferFrame | ChunkFrame;
