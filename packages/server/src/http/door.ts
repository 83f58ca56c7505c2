/**
 * The door: the checks every request passes before it reaches the core, the
 * same for the WebSocket upgrade and the SSE / long-poll endpoints
 * (PROTOCOL.md 14.1):
 *
 * ```
 *  request ─▶ server running? (503) ─▶ Origin allowed? (403) ─▶ authenticate (401) ─▶ { principal }
 * ```
 */
import type { IncomingMessage } from 'node:http';
import type { Authenticate } from '../types.js';
import { ErrorCode } from '@rxmux/core/protocol';
import type { Refusal } from './errors.js';

/** The door's verdict: the request's principal, or why it is refused. */
export type Admission<P> = { readonly principal: P } | Refusal;

/** Who a request is: its principal, or a refusal. Built by {@link authenticated} or {@link anonymous}. */
export type Identify<P> = (request: IncomingMessage) => Promise<Admission<P>>;

/** The door of one server. */
export interface Door<P> {
  /** Runs the checks in order. Never rejects. */
  admit(request: IncomingMessage): Promise<Admission<P>>;
  /** Whether the request's Origin may connect (CORS preflights check only this). */
  originAllowed(request: IncomingMessage): boolean;
  /** Requests refused so far for their origin or credentials (`server.metrics().rejected`). */
  readonly rejected: number;
}

/** Every request is admitted, with the principal `null` (no `authenticate`). */
export const anonymous: Identify<null> = () => Promise.resolve({ principal: null });

/** The app's `authenticate`, made total: `null`, `undefined`, a throw or a rejection refuse with 401 (the error is reported). */
export function authenticated<P>(authenticate: Authenticate<P>, onError: (error: unknown) => void): Identify<P> {
  return async (request) => {
    try {
      const principal = await authenticate(request);
      if (principal !== null && principal !== undefined) return { principal };
    } catch (error) {
      onError(error);
    }
    return { status: 401, code: ErrorCode.Unauthorized, message: 'authentication failed' };
  };
}

/** Creates a door: `accepting` says whether the server still takes new clients. */
export function createDoor<P>(options: {
  readonly allowedOrigins: readonly string[] | undefined;
  readonly identify: Identify<P>;
  readonly accepting: () => boolean;
}): Door<P> {
  const { allowedOrigins, identify, accepting } = options;
  let rejected = 0;
  return {
    get rejected() {
      return rejected;
    },
    originAllowed: (request) => originAllowed(request, allowedOrigins),
    async admit(request) {
      if (!accepting()) return { status: 503, code: ErrorCode.ShuttingDown, message: 'server is shutting down' };
      if (!originAllowed(request, allowedOrigins)) {
        rejected++;
        return { status: 403, code: ErrorCode.Forbidden, message: 'origin not allowed' };
      }
      const admission = await identify(request);
      if ('status' in admission) rejected++;
      return admission;
    },
  };
}

/** Whether the request's Origin may connect. Requests without an Origin header (non-browser clients) pass. */
export function originAllowed(request: IncomingMessage, allowed: readonly string[] | undefined): boolean {
  const origin = request.headers.origin;
  return allowed === undefined || origin === undefined || allowed.includes(origin);
}

/** CORS headers for an allowed cross-origin SSE / poll request (credentials allowed: cookies may carry the token). */
export function corsHeaders(request: IncomingMessage): Record<string, string> {
  const origin = request.headers.origin;
  return origin === undefined ? {} : { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' };
}
