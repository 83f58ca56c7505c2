/**
 * Reading a credential from a request, for `authenticate`: never from the URL.
 */
import type { IncomingMessage } from 'node:http';

/** Where {@link extractToken} looks, and under which names. */
export interface TokenSources {
  /**
   * Cookie name holding the token; no cookie is read unless it is named
   * (opt-in: a cookie travels with requests another site makes, so only
   * read one with the Origin check on and `SameSite` cookies).
   */
  readonly cookie?: string;
  /** Prefix of an extra WebSocket subprotocol carrying the token (`rxmux.token.<token>`). Default `rxmux.token.`. */
  readonly subprotocolPrefix?: string;
}

/**
 * Reads a credential from a request without ever requiring it in the URL:
 * `Authorization: Bearer <token>`, then a subprotocol `rxmux.token.<token>`
 * offered next to `rxmux.v2` / `rxmux.v1` (browsers cannot set headers on a WebSocket),
 * then, only when `sources.cookie` names one, a cookie. Returns `undefined`
 * when none is present.
 *
 * @example
 * createServer({ authenticate: (req) => verify(extractToken(req)) });
 * // browser: new WebSocket(url, ['rxmux.v1', `rxmux.token.${token}`])
 * createServer({ authenticate: (req) => verify(extractToken(req, { cookie: 'session' })) });   // cookie auth: opt-in
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
  const cookieName = sources.cookie;
  if (cookieName === undefined) return undefined;
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
