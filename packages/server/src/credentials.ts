/**
 * Credentials: what `authenticate` receives and returns, and how an expiry
 * travels with a principal.
 *
 * ```
 *  WebSocket:   upgrade (Origin) ─▶ first frame hello{token} ─▶ authenticate(request, token) ─▶ welcome{expiresIn}
 *                                                                  │ null: error UNAUTHORIZED, close 4401
 *               refresh{token} ─▶ authenticate(request, token) ─▶ refreshed{expiresIn}   (channels authorized again)
 *               expiry passes without a refresh ─▶ close 4401
 *  SSE / poll:  cookie, header, or ?ticket= (single use, obtained over the WebSocket) ─▶ authenticate(request, undefined)
 * ```
 */
import type { IncomingMessage } from 'node:http';
import type { Awaitable } from './engines/engine.js';

const EXPIRING: unique symbol = Symbol('rxmux.expiring');

/** A principal with the time its credentials expire; made with {@link withExpiry}. */
export interface Expiring<P> {
  readonly [EXPIRING]: true;
  readonly principal: P;
  /** When the credentials expire, `Date.now()` ms. */
  readonly expiresAt: number;
}

/**
 * What `authenticate` returns for credentials that expire: the client is told
 * when (`welcome.expiresIn`), sends new credentials on the live connection
 * before, and is closed with 4401 if it does not.
 *
 * @example
 * createServer({
 *   authenticate: async (req, token) => {
 *     const claims = await verifyJwt(token);            // your JWT library
 *     return claims === null ? null : withExpiry({ id: claims.sub }, claims.exp * 1000);
 *   },
 * });
 */
export function withExpiry<P>(principal: P, expiresAt: number | Date): Expiring<P> {
  const at = expiresAt instanceof Date ? expiresAt.getTime() : expiresAt;
  return { [EXPIRING]: true, principal, expiresAt: at };
}

/**
 * Authenticates a connection: a WebSocket once its first frame (`hello`)
 * arrived, with the token it carries (`undefined` when it had none: cookie
 * authentication reads the upgrade `request`), again on every `refresh`; an
 * SSE or long-poll request with `token` undefined (cookies, headers).
 * Returns the principal (optionally {@link withExpiry}), or `null` /
 * `undefined` to refuse (close 4401; HTTP 401 for SSE and polls). A throw or
 * a rejection refuses too, and is reported to `hooks.onError`.
 */
export type Authenticate<P> = (request: IncomingMessage, token: string | undefined) => Awaitable<P | Expiring<P> | null | undefined>;

/** Credentials that passed: the principal, and when they expire (if they do). */
export interface Verified<P> {
  readonly principal: P;
  readonly expiresAt?: number;
}

/** Checks a token for one connection; resolves `undefined` when refused. Never rejects. */
export type Verify<P> = (token: string | undefined) => Promise<Verified<P> | undefined>;

/** `authenticate` made total for one request: a throw, a rejection or `null` is a refusal (the error reported). @internal */
export function verifier<P>(authenticate: Authenticate<P>, request: IncomingMessage, onError: (error: unknown) => void): Verify<P> {
  return async (token) => {
    try {
      const result = await authenticate(request, token);
      if (result === null || result === undefined) return undefined;
      return isExpiring(result) ? { principal: result.principal, expiresAt: result.expiresAt } : { principal: result };
    } catch (error) {
      onError(error);
      return undefined;
    }
  };
}

function isExpiring<P>(value: P | Expiring<P>): value is Expiring<P> {
  return typeof value === 'object' && value !== null && (value as Partial<Expiring<P>>)[EXPIRING] === true;
}
