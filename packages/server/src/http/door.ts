/**
 * The door: the checks every request passes before it reaches the core, the
 * same for the WebSocket upgrade and the SSE / long-poll endpoints
 * (PROTOCOL.md 14.1):
 *
 * ```
 *  SSE / poll request ─▶ server running? (503) ─▶ Origin allowed? (403) ─▶ authenticate(request) (401) ─▶ { principal }
 *  WebSocket upgrade  ─▶ server running? (503) ─▶ Origin allowed? (close 4403) ─▶ { auth }: authenticate(request, hello.token) at the hello
 * ```
 */
import type { IncomingMessage } from 'node:http';
import { ErrorCode } from '@rxmux/core/protocol';
import type { SocketAuth } from '../core/transport.js';
import { verifier, type Authenticate, type Verified } from '../credentials.js';
import type { Awaitable } from '../engines/engine.js';
import type { Refusal } from './errors.js';

/**
 * The door's verdict for an HTTP request (SSE, poll): the request's principal
 * (and whether a single-use ticket brought it), or why it is refused.
 * @internal
 */
export type Admission<P> = { readonly principal: P; readonly byTicket: boolean } | Refusal;

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
  /** An SSE or long-poll request: running? Origin? a `?ticket=` or the request's own credentials? Never rejects. */
  admit(request: IncomingMessage): Promise<Admission<P>>;
  /** A WebSocket upgrade: running? Origin? (its credentials come with its hello). */
  upgrade(request: IncomingMessage): UpgradeAdmission<P>;
  /** Whether the request's Origin may connect (CORS preflights check only this). */
  originAllowed(request: IncomingMessage): boolean;
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
}): Door<P> {
  const { allowedOrigins, credentials, accepting, redeem } = options;
  let rejected = 0;
  const check = (request: IncomingMessage): Refusal | undefined => {
    if (!accepting()) return { status: 503, code: ErrorCode.ShuttingDown, message: 'server is shutting down' };
    if (!originAllowed(request, allowedOrigins)) {
      rejected++;
      return { status: 403, code: ErrorCode.Forbidden, message: 'origin not allowed' };
    }
    return undefined;
  };
  return {
    get rejected() {
      return rejected;
    },
    originAllowed: (request) => originAllowed(request, allowedOrigins),
    async admit(request) {
      const refused = check(request);
      if (refused !== undefined) return refused;
      const ticket = new URL(request.url ?? '/', 'http://localhost').searchParams.get('ticket');
      if (ticket !== null) {
        const principal = await redeem(ticket);
        if (principal !== undefined) return { principal, byTicket: true };
      } else {
        const verified = await credentials.request(request);
        if (verified !== undefined) return { principal: verified.principal, byTicket: false };
      }
      rejected++;
      return { status: 401, code: ErrorCode.Unauthorized, message: ticket === null ? 'authentication failed' : 'unknown, used or expired ticket' };
    },
    upgrade(request) {
      return check(request) ?? { auth: credentials.socket(request) };
    },
  };
}

/** Whether the request's Origin may connect. Requests without an Origin header (non-browser clients) pass. @internal */
export function originAllowed(request: IncomingMessage, allowed: readonly string[] | undefined): boolean {
  const origin = request.headers.origin;
  return allowed === undefined || origin === undefined || allowed.includes(origin);
}

/** CORS headers for an allowed cross-origin SSE / poll request (credentials allowed: cookies may carry the token). @internal */
export function corsHeaders(request: IncomingMessage): Record<string, string> {
  const origin = request.headers.origin;
  return origin === undefined ? {} : { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' };
}
