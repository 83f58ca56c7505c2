/**
 * The door: the checks every request passes before it reaches the core, the
 * same for the WebSocket upgrade and the SSE / long-poll endpoints
 * (PROTOCOL.md 14.1):
 *
 * ```
 *  SSE / poll request ─▶ server running? (503) ─▶ Origin allowed? (403) ─▶ address throttled? (429) ─▶ ticket or authenticate(request) (401) ─▶ { principal, address }
 *  WebSocket upgrade  ─▶ server running? (503) ─▶ Origin allowed? (close 4403) ─▶ address throttled? (close 1013) ─▶ { auth }: authenticate(request, hello.token) at the hello
 * ```
 *
 * Origin: with `allowedOrigins` unset only same-origin requests pass (the
 * Origin names the Host the request was sent to); requests without an
 * Origin (not a browser) always pass. CORS headers are written only for an
 * origin the app listed, never reflected from the request. Every failed
 * authentication takes a token of its address's bucket ({@link AuthThrottle}).
 */
import type { IncomingMessage } from 'node:http';
import { ErrorCode } from '@rxmux/core/protocol';
import type { SocketAuth } from '../core/transport.js';
import { verifier, type Authenticate, type Verified, type Verify } from '../credentials.js';
import type { Awaitable } from '../engines/engine.js';
import type { ClientAddress } from './address.js';
import type { Refusal } from './errors.js';
import type { AuthThrottle } from './throttle.js';

/**
 * The door's verdict for an HTTP request (SSE, poll): the request's principal
 * (and whether a single-use ticket brought it) and address, or why it is refused.
 * @internal
 */
export type Admission<P> = { readonly principal: P; readonly byTicket: boolean; readonly address: string | undefined } | Refusal;

/** The door's verdict for a WebSocket upgrade: who the socket will be (checked at its hello), or why it is refused. @internal */
export type UpgradeAdmission<P> = { readonly auth: SocketAuth<P> } | Refusal;

/** How the door tells who a request is: no credentials at all, or the app's `authenticate`. @internal */
export interface Credentials<P> {
  /** An HTTP request (SSE, poll): cookies, headers. Resolves `undefined` when refused (401). */
  request(request: IncomingMessage): Promise<Verified<P> | undefined>;
  /** A WebSocket: checked when its first frame, `hello`, brings the token (and on every `refresh`). */
  socket(request: IncomingMessage): SocketAuth<P>;
}

/** Every request is admitted, with the principal `null` (no `authenticate`). @internal */
export const anonymous: Credentials<null> = {
  request: () => Promise.resolve({ principal: null }),
  socket: () => ({ principal: null }),
};

/** The app's `authenticate`, made total: `null`, `undefined`, a throw or a rejection refuse (the error is reported). @internal */
export function authenticated<P>(authenticate: Authenticate<P>, onError: (error: unknown) => void): Credentials<P> {
  return {
    request: (request) => verifier(authenticate, request, onError)(undefined),
    socket: (request) => ({ verify: verifier(authenticate, request, onError) }),
  };
}

/** The door of one server. @internal */
export interface Door<P> {
  /** An SSE or long-poll request: running? Origin? throttled? a `?ticket=` or the request's own credentials? Never rejects. */
  admit(request: IncomingMessage): Promise<Admission<P>>;
  /** A WebSocket upgrade: running? Origin? throttled? (its credentials come with its hello). */
  upgrade(request: IncomingMessage): UpgradeAdmission<P>;
  /** Whether the request's Origin may connect (CORS preflights check only this). */
  originAllowed(request: IncomingMessage): boolean;
  /** The CORS headers of an allowed cross-origin request: only for an origin in `allowedOrigins`. */
  cors(request: IncomingMessage): Record<string, string>;
  /** Requests refused so far for their origin or credentials (`server.metrics().rejected`). */
  readonly rejected: number;
}

/** Creates a door: `accepting` says whether the server still takes new clients. @internal */
export function createDoor<P>(options: {
  readonly allowedOrigins: readonly string[] | undefined;
  readonly credentials: Credentials<P>;
  readonly accepting: () => boolean;
  /** The principal of a single-use ticket (issued over an authenticated WebSocket). */
  readonly redeem: (ticket: string) => Awaitable<P | undefined>;
  /** Who a request comes from (caps and throttle per address). */
  readonly clientAddress: ClientAddress;
  readonly throttle: AuthThrottle;
}): Door<P> {
  const { allowedOrigins, credentials, accepting, redeem, clientAddress, throttle } = options;
  let rejected = 0;
  const check = (request: IncomingMessage, address: string | undefined): Refusal | undefined => {
    if (!accepting()) return { status: 503, code: ErrorCode.ShuttingDown, message: 'server is shutting down' };
    if (!originAllowed(request, allowedOrigins)) {
      rejected++;
      return { status: 403, code: ErrorCode.Forbidden, message: 'origin not allowed' };
    }
    if (!throttle.allows(address)) return { status: 429, code: ErrorCode.RateLimited, message: 'too many failed authentications' };
    return undefined;
  };
  /** A refusal of the credentials: counted, and charged to the address. */
  const refused = (address: string | undefined): void => {
    rejected++;
    throttle.failed(address);
  };
  return {
    get rejected() {
      return rejected;
    },
    originAllowed: (request) => originAllowed(request, allowedOrigins),
    cors: (request) => corsHeaders(request, allowedOrigins),
    async admit(request) {
      const address = clientAddress(request);
      const refusal = check(request, address);
      if (refusal !== undefined) return refusal;
      const ticket = new URL(request.url ?? '/', 'http://localhost').searchParams.get('ticket');
      if (ticket !== null) {
        const principal = await redeem(ticket);
        if (principal !== undefined) return { principal, byTicket: true, address };
      } else {
        const verified = await credentials.request(request);
        if (verified !== undefined) return { principal: verified.principal, byTicket: false, address };
      }
      refused(address);
      return { status: 401, code: ErrorCode.Unauthorized, message: ticket === null ? 'authentication failed' : 'unknown, used or expired ticket' };
    },
    upgrade(request) {
      const address = clientAddress(request);
      const refusal = check(request, address);
      if (refusal !== undefined) return refusal;
      const auth = credentials.socket(request);
      if (auth.verify === undefined) return { auth: { principal: auth.principal, address } };
      const verify: Verify<P> = auth.verify;
      // A hello or refresh whose credentials are refused is charged to the address.
      const charged: Verify<P> = async (token) => {
        const verified = await verify(token);
        if (verified === undefined) throttle.failed(address);
        return verified;
      };
      return { auth: { verify: charged, address } };
    },
  };
}

/**
 * Whether the request's Origin may connect: one of `allowed`, or with
 * `allowed` unset the request's own origin (its `Origin` names the `Host`
 * it was sent to). Requests without an Origin header (non-browser clients)
 * pass; `Origin: null` (a sandboxed or file page) is foreign.
 * @internal
 */
export function originAllowed(request: IncomingMessage, allowed: readonly string[] | undefined): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (allowed !== undefined) return allowed.includes(origin);
  return sameOrigin(origin, request.headers.host);
}

/** Whether `origin` (`scheme://host[:port]`) names `host` (the Host header), default ports aside. */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    const from = new URL(origin);
    return from.host === new URL(`${from.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

/**
 * CORS headers for an SSE / poll request from an origin the app listed in
 * `allowedOrigins` (credentials allowed: cookies may carry the token). A
 * same-origin request needs none; any other origin gets none.
 * @internal
 */
export function corsHeaders(request: IncomingMessage, allowed: readonly string[] | undefined): Record<string, string> {
  const origin = request.headers.origin;
  if (origin === undefined || allowed?.includes(origin) !== true) return {};
  return { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' };
}
