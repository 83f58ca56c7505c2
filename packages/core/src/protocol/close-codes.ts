/**
 * WebSocket close codes used by rxmux (RFC 6455 section 7.4 plus the 4000-4999
 * private range), and the client's policy for each.
 *
 * | code | name              | sent by | client policy |
 * | ---- | ----------------- | ------- | ------------- |
 * | 1000 | Normal            | either  | reconnect if the server sent it while channels are active; never after `conn.close()` |
 * | 1001 | GoingAway         | server  | reconnect (server shutting down, try another node) |
 * | 1002 | ProtocolError     | either  | fatal: status `failed` |
 * | 1003 | UnsupportedData   | either  | fatal |
 * | 1006 | Abnormal          | (local) | reconnect |
 * | 1007 | InvalidPayload    | server  | fatal |
 * | 1008 | PolicyViolation   | server  | reconnect with backoff (rate limit, slow consumer) |
 * | 1009 | MessageTooBig     | server  | reconnect with backoff |
 * | 1010 | (extension missing) | client | fatal |
 * | 1011 | InternalError     | server  | reconnect |
 * | 1012 | ServiceRestart    | server  | reconnect |
 * | 1013 | TryAgainLater     | server  | reconnect |
 * | 4000 | HeartbeatTimeout  | client  | reconnect (client closed a silent link) |
 * | 4400 | BadRequest        | server  | fatal |
 * | 4401 | Unauthorized      | server  | fatal |
 * | 4403 | Forbidden         | server  | fatal |
 * | 4406 | UnsupportedProtocol | either | fatal (no common protocol version) |
 */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  HeartbeatTimeout: 4000,
  BadRequest: 4400,
  Unauthorized: 4401,
  Forbidden: 4403,
  UnsupportedProtocol: 4406,
} as const;

/** One of the {@link CloseCode} values. */
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

const FATAL: ReadonlySet<number> = new Set([
  CloseCode.ProtocolError,
  CloseCode.UnsupportedData,
  CloseCode.InvalidPayload,
  1010, // mandatory extension missing
  CloseCode.BadRequest,
  CloseCode.Unauthorized,
  CloseCode.Forbidden,
  CloseCode.UnsupportedProtocol,
]);

/**
 * Whether the client should reconnect after the socket closed with `code`.
 * Fatal codes mean retrying cannot help (the peer rejects the protocol or the
 * credentials); everything else is retried with backoff.
 */
export function isRetryableClose(code: number): boolean {
  return !FATAL.has(code);
}
