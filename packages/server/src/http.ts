/**
 * HTTP-level helpers shared by the WebSocket upgrade and the SSE / long-poll
 * endpoints: origin checks, token extraction, writing a refusal.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/** Whether the request's Origin may connect. Requests without an Origin header (non-browser clients) pass. */
export function originAllowed(request: IncomingMessage, allowed: readonly string[] | undefined): boolean {
  const origin = request.headers.origin;
  return allowed === undefined || origin === undefined || allowed.includes(origin);
}

/** Where {@link extractToken} looks, and under which names. */
export interface TokenSources {
  /** Cookie name holding the token. Default `rxmux_token`. */
  readonly cookie?: string;
  /** Prefix of an extra WebSocket subprotocol carrying the token (`rxmux.token.<token>`). Default `rxmux.token.`. */
  readonly subprotocolPrefix?: string;
}

/**
 * Reads a credential from a request without ever requiring it in the URL:
 * `Authorization: Bearer <token>`, then a subprotocol `rxmux.token.<token>`
 * offered next to `rxmux.v1` (browsers cannot set headers on a WebSocket),
 * then a cookie. Returns `undefined` when none is present.
 *
 * @example
 * createServer({ authenticate: (req) => verify(extractToken(req)) });
 * // browser: new WebSocket(url, ['rxmux.v1', `rxmux.token.${token}`])
 */
export function extractToken(request: IncomingMessage, sources: TokenSources = {}): string | undefined {
  const auth = request.headers.authorization;
  if (auth !== undefined && /^Bearer /i.test(auth)) return auth.slice(7).trim();
  const prefix = sources.subprotocolPrefix ?? 'rxmux.token.';
  const protocols = request.headers['sec-websocket-protocol'];
  if (protocols !== undefined) {
    for (const p of protocols.split(',')) {
      const name = p.trim();
      if (name.startsWith(prefix) && name.length > prefix.length) return name.slice(prefix.length);
    }
  }
  const cookieName = sources.cookie ?? 'rxmux_token';
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === cookieName) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Refuses an upgrade with a plain HTTP response, before any WebSocket exists. */
export function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
        `Content-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`,
    );
  }
  socket.destroy();
}

/** Ends an HTTP request with a JSON error body. */
export function refuseRequest(res: ServerResponse, status: number, code: string, message: string): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify({ code, message });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

/** CORS headers for an allowed cross-origin SSE / poll request (credentials allowed: cookies may carry the token). */
export function corsHeaders(request: IncomingMessage): Record<string, string> {
  const origin = request.headers.origin;
  return origin === undefined
    ? {}
    : { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' };
}

/**
 * A per-stream cursor: where the stream stands in each channel's history, the
 * last seq seen and the history epoch it belongs to, e.g.
 * `a=5.Xk3p9qL2mN0r,player%2D1=7.Q8vT1bYz5cWe`. It travels as the SSE event
 * `id:` (so `Last-Event-ID` resumes) and as the long-poll `cursor` parameter.
 * Channel names are URI-encoded, so `,` and `=` never appear inside one;
 * epochs are base64url (no `.`); CR, LF and NUL never appear at all. A seq
 * without an epoch (an older cursor) never resumes silently: it gets a reset.
 */
export type Cursor = Map<string, CursorEntry>;

/** One channel's place in a {@link Cursor}. */
export interface CursorEntry {
  readonly seq: number;
  /** The history epoch `seq` belongs to; undefined when the cursor did not say. */
  readonly epoch: string | undefined;
}

const EPOCH = /^[A-Za-z0-9_-]{1,64}$/;

/** Encodes a cursor for the wire. */
export function encodeCursor(cursor: Cursor): string {
  const parts: string[] = [];
  for (const [channel, { seq, epoch }] of cursor) parts.push(`${encodeURIComponent(channel)}=${seq}${epoch === undefined ? '' : `.${epoch}`}`);
  return parts.join(',');
}

/** Decodes a cursor, ignoring malformed parts and keeping at most `max` entries. Never throws. */
export function decodeCursor(text: string | undefined, max: number): Cursor {
  const cursor: Cursor = new Map();
  if (text === undefined || text.length === 0 || text.length > 256 * 1024) return cursor;
  for (const part of text.split(',')) {
    if (cursor.size >= max) break;
    const eq = part.lastIndexOf('=');
    const value = part.slice(eq + 1);
    const dot = value.indexOf('.');
    const seq = Number(dot === -1 ? value : value.slice(0, dot));
    const epoch = dot === -1 ? undefined : value.slice(dot + 1);
    if (eq <= 0 || !Number.isSafeInteger(seq) || seq < 0 || (epoch !== undefined && !EPOCH.test(epoch))) continue;
    try {
      cursor.set(decodeURIComponent(part.slice(0, eq)), { seq, epoch });
    } catch {
      // malformed escape: skip the part
    }
  }
  return cursor;
}

/**
 * Channel names of an SSE / poll URL: repeated `channel=` parameters (any
 * name) and a comma-separated `channels=` list (names without commas), in
 * order, without duplicates.
 */
export function channelsOf(url: URL): string[] {
  const names = [...url.searchParams.getAll('channel')];
  for (const list of url.searchParams.getAll('channels')) names.push(...list.split(',').filter((c) => c.length > 0));
  return [...new Set(names)];
}
