import { ErrorCode, RxmuxError } from './protocol/errors.js';

/** The socket closed or failed. Retried with backoff unless the close code is fatal. */
export class ConnectionLostError extends RxmuxError {
  /** WebSocket close code (1006 when the socket failed without a close frame). */
  readonly closeCode: number;
  /** Close reason sent by the peer, if any. */
  readonly reason: string;

  constructor(closeCode: number, reason: string) {
    super(ErrorCode.ConnectionLost, `connection lost (close ${closeCode}${reason ? `: ${reason}` : ''})`);
    this.name = 'ConnectionLostError';
    this.closeCode = closeCode;
    this.reason = reason;
  }
}

/** No frame arrived within the heartbeat window (or the connect timeout): the link is presumed dead. */
export class HeartbeatTimeoutError extends RxmuxError {
  constructor(message: string) {
    super(ErrorCode.HeartbeatTimeout, message);
    this.name = 'HeartbeatTimeoutError';
  }
}

/**
 * Reconnecting gave up. Every active channel errors with this once, and
 * `status$` reads `failed`. `cause` holds the last underlying error.
 */
export class ReconnectFailedError extends RxmuxError {
  /** How many reconnect attempts were made. */
  readonly attempts: number;

  constructor(attempts: number, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(ErrorCode.ReconnectFailed, `gave up reconnecting after ${attempts} attempt(s): ${why}`, { cause });
    this.name = 'ReconnectFailedError';
    this.attempts = attempts;
  }
}

/** The offline buffer is full and the overflow policy is `'error'`: this message was not queued. */
export class BufferFullError extends RxmuxError {
  constructor(limit: string) {
    super(ErrorCode.BufferFull, `offline buffer full (${limit}); message not queued`);
    this.name = 'BufferFullError';
  }
}

/** The application closed the connection (`conn.close()`), or used it after closing it. */
export class ConnectionClosedError extends RxmuxError {
  constructor(message = 'connection closed by the application') {
    super(ErrorCode.ConnectionClosed, message);
    this.name = 'ConnectionClosedError';
  }
}

/** A request got no response within its timeout. A cancel frame was sent to the server. */
export class RequestTimeoutError extends RxmuxError {
  /** The timeout that elapsed, in milliseconds. */
  readonly timeout: number;

  constructor(channel: string, timeout: number) {
    super(ErrorCode.RequestTimeout, `request on channel "${channel}" got no response within ${timeout} ms`);
    this.name = 'RequestTimeoutError';
    this.timeout = timeout;
  }
}

/**
 * An acknowledged send got no ack within its `timeout`. The message is
 * withdrawn: no longer buffered, no longer re-sent (the server may still have
 * handled it; an ack arriving later is ignored).
 */
export class AckTimeoutError extends RxmuxError {
  /** The timeout that elapsed, in milliseconds. */
  readonly timeout: number;

  constructor(channel: string, id: number, timeout: number) {
    super(ErrorCode.AckTimeout, `message ${id} on channel "${channel}" was not acknowledged within ${timeout} ms`);
    this.name = 'AckTimeoutError';
    this.timeout = timeout;
  }
}

/**
 * The server reported a failure: a request-error, or an error frame about a
 * channel (e.g. `RXMUX_ERR_FORBIDDEN`). `code` is the server's code.
 */
export class RemoteError extends RxmuxError {
  /** The channel concerned, when the failure is about one. */
  readonly channel: string | undefined;

  constructor(code: string, message: string, channel?: string) {
    super(code, message);
    this.name = 'RemoteError';
    this.channel = channel;
  }
}

/** Thrown synchronously when the API is misused (bad channel id, bad option). */
export class InvalidArgumentError extends RxmuxError {
  constructor(message: string) {
    super(ErrorCode.InvalidArgument, message);
    this.name = 'InvalidArgumentError';
  }
}
