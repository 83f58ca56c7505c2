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
