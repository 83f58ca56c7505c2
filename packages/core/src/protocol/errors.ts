/**
 * Stable error codes shared by the codec, the client and the server.
 *
 * Codes never change meaning once published; match on `error.code`, never on
 * the message text.
 */
export const ErrorCode = {
  /** A frame is larger than the configured maximum (`maxFrameBytes`), or a message larger than `maxMessageBytes` (chunked transfers, v2). */
  FrameTooBig: 'RXMUX_ERR_FRAME_TOO_BIG',
  /** A text frame is not valid JSON. */
  MalformedJson: 'RXMUX_ERR_MALFORMED_JSON',
  /** A text frame nests arrays and objects deeper than `MAX_DEPTH` (64): refused before it is parsed. */
  TooDeep: 'RXMUX_ERR_TOO_DEEP',
  /** A text frame parsed, but is not an envelope (an array with a numeric type first). */
  NotAnEnvelope: 'RXMUX_ERR_NOT_AN_ENVELOPE',
  /** An envelope carries a type number this protocol version does not define. */
  UnknownType: 'RXMUX_ERR_UNKNOWN_TYPE',
  /** An envelope field has the wrong type, range or arity. */
  InvalidField: 'RXMUX_ERR_INVALID_FIELD',
  /** A batch holds more envelopes than `maxBatch`. */
  BatchTooLarge: 'RXMUX_ERR_BATCH_TOO_LARGE',
  /** A binary frame's header is truncated or inconsistent. */
  InvalidBinaryHeader: 'RXMUX_ERR_INVALID_BINARY_HEADER',
  /** A channel id is empty, too long, or not a string. */
  InvalidChannel: 'RXMUX_ERR_INVALID_CHANNEL',
  /** A frame may not be sent (or received) in the current state, e.g. before hello. */
  UnexpectedFrame: 'RXMUX_ERR_UNEXPECTED_FRAME',
  /** No common protocol version: the socket opened without a subprotocol the client offered (`rxmux.v2`, `rxmux.v1`). */
  UnsupportedProtocol: 'RXMUX_ERR_UNSUPPORTED_PROTOCOL',
  /** The server refused a subscribe or a publish on a channel. */
  Forbidden: 'RXMUX_ERR_FORBIDDEN',
  /** The server has no handler for the channel. */
  NoHandler: 'RXMUX_ERR_NO_HANDLER',
  /** Too many channels on one connection (`maxChannelsPerConnection`), or on the server (`maxChannels`). */
  TooManyChannels: 'RXMUX_ERR_TOO_MANY_CHANNELS',
  /** The connection sends faster than the server's rate limit (or its address failed to authenticate too often). */
  RateLimited: 'RXMUX_ERR_RATE_LIMITED',
  /** The client's address or principal holds as many connections, SSE streams or long-polls as the server allows. */
  TooManyConnections: 'RXMUX_ERR_TOO_MANY_CONNECTIONS',
  /** The client's address or principal has as many requests running as the server allows. */
  TooManyRequests: 'RXMUX_ERR_TOO_MANY_REQUESTS',
  /** The offline buffer is full and the overflow policy is `'error'`. */
  BufferFull: 'RXMUX_ERR_BUFFER_FULL',
  /** A buffered message was discarded (overflow with `'drop-oldest'`, or the connection ended). */
  MessageDropped: 'RXMUX_ERR_MESSAGE_DROPPED',
  /** Reconnecting gave up: the attempt limit was reached or the close code is fatal. */
  ReconnectFailed: 'RXMUX_ERR_RECONNECT_FAILED',
  /** The socket closed or errored; carries the close code and reason. */
  ConnectionLost: 'RXMUX_ERR_CONNECTION_LOST',
  /** No frame arrived within the heartbeat timeout: the link is presumed dead. */
  HeartbeatTimeout: 'RXMUX_ERR_HEARTBEAT_TIMEOUT',
  /** The connection was closed by the application (`conn.close()`). */
  ConnectionClosed: 'RXMUX_ERR_CONNECTION_CLOSED',
  /** A request got no response in time. */
  RequestTimeout: 'RXMUX_ERR_REQUEST_TIMEOUT',
  /** An acknowledged send got no ack within its `timeout`; it is no longer re-sent. */
  AckTimeout: 'RXMUX_ERR_ACK_TIMEOUT',
  /** The remote handler failed (request-error or error frame without a narrower code). */
  Remote: 'RXMUX_ERR_REMOTE',
  /** An argument given to the API is invalid (thrown synchronously). */
  InvalidArgument: 'RXMUX_ERR_INVALID_ARGUMENT',
  /** HTTP 401: `authenticate` returned no principal (or threw). */
  Unauthorized: 'RXMUX_ERR_UNAUTHORIZED',
  /** HTTP 404: no rxmux endpoint at this path (a server that owns its HTTP server). */
  NotFound: 'RXMUX_ERR_NOT_FOUND',
  /** HTTP 405: the SSE and long-poll endpoints answer GET (and OPTIONS) only. */
  MethodNotAllowed: 'RXMUX_ERR_METHOD_NOT_ALLOWED',
  /** HTTP 503: the server is shutting down (`close()` was called). */
  ShuttingDown: 'RXMUX_ERR_SHUTTING_DOWN',
  /** The server's engine (e.g. Redis) is unreachable: a publish failed and nothing was delivered; the server and its connections stay up. */
  EngineUnavailable: 'RXMUX_ERR_ENGINE_UNAVAILABLE',
  /**
   * A chunked transfer's pieces do not add up (v2): a chunk with no transfer
   * on its channel, at the wrong offset or past the announced size, a second
   * transfer on a channel before the first ended, a transfer of the wrong
   * kind, or a text payload that is not one envelope of its kind and channel.
   */
  InvalidTransfer: 'RXMUX_ERR_INVALID_TRANSFER',
  /** A transfer was started while the peer's `maxTransfers` channels already had one unfinished (v2). */
  TooManyTransfers: 'RXMUX_ERR_TOO_MANY_TRANSFERS',
  /** An unfinished transfer got no piece for the receiver's transfer timeout: it was refused (v2). */
  TransferTimeout: 'RXMUX_ERR_TRANSFER_TIMEOUT',
  /** The peer sent more transfer data than the window it was granted (v2). */
  FlowControl: 'RXMUX_ERR_FLOW_CONTROL',
} as const;

/** One of the {@link ErrorCode} values. Servers may send codes of their own too. */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Base class of every error rxmux creates. `code` is stable (see {@link ErrorCode});
 * `message` is for humans.
 */
export class RxmuxError extends Error {
  /** Stable machine-readable code, e.g. `RXMUX_ERR_FRAME_TOO_BIG`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RxmuxError';
    this.code = code;
  }
}

/**
 * A frame failed to decode or validate. The codec returns these as values;
 * it never throws them at the caller.
 */
export class ProtocolError extends RxmuxError {
  /** Index of the offending envelope inside a batch, when the frame was a batch. */
  readonly index: number | undefined;
  /** The channel the bad envelope concerned, when it could be read. */
  readonly channel: string | undefined;

  constructor(code: string, message: string, details: { index?: number; channel?: string } = {}) {
    super(code, message);
    this.name = 'ProtocolError';
    this.index = details.index;
    this.channel = details.channel;
  }
}
