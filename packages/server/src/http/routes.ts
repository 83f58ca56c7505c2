/**
 * The HTTP side of a server: the SSE and long-poll routes next to the
 * WebSocket path, and attaching to an `http.Server` the app already has.
 *
 * ```
 *  GET     {path}/sse | {path}/poll ─▶ door ─▶ channels? (400) ─▶ under the caps per address / principal? (429) ─▶ serveSse | servePoll
 *  OPTIONS {path}/sse | {path}/poll ─▶ CORS preflight (403 for a foreign Origin)
 *  other methods ─▶ 405
 *  upgrade {path} ─▶ the WebSocket adapter; other paths: 404 on our own server, the app's otherwise
 * ```
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { channelsOf, ErrorCode } from '@rxmux/core/protocol';
import type { StreamHost } from '../core/server-core.js';
import type { Door } from './door.js';
import { refuseRequest, refuseUpgrade } from './errors.js';
import { servePoll } from './poll.js';
import { serveSse } from './sse.js';

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * A request listener for `{path}/sse` and `{path}/poll`; it returns false for
 * any other request (the app's handler gets it).
 */
export function streamRoutes<P>(path: string, door: Door<P>, host: StreamHost<P>, onError: (error: unknown) => void): (req: IncomingMessage, res: ServerResponse) => boolean {
  const serve = async (kind: 'sse' | 'poll', req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const admission = await door.admit(req);
    if ('status' in admission) {
      refuseRequest(res, admission.status, admission.code, admission.message);
      return;
    }
    const names = channelsOf(url);
    if (names.length === 0) {
      refuseRequest(res, 400, ErrorCode.InvalidChannel, 'name at least one channel: ?channel=a&channel=b or ?channels=a,b');
      return;
    }
    const held = host.hold(kind === 'sse' ? 'streams' : 'polls', admission.address, admission.principal);
    if (held === undefined) {
      refuseRequest(res, 429, ErrorCode.TooManyConnections, `too many ${kind === 'sse' ? 'event streams' : 'long-polls'} for this client`);
      return;
    }
    res.once('close', held); // the stream (or poll) holds its place while its response is open
    const client = { principal: admission.principal, address: admission.address, headers: door.cors(req) };
    if (kind === 'sse') await serveSse(host, req, res, url, names, client);
    else await servePoll(host, res, url, names, client, admission.byTicket);
  };
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const kind = url.pathname === `${path}/sse` ? 'sse' : url.pathname === `${path}/poll` ? 'poll' : undefined;
    if (kind === undefined) return false;
    if (req.method === 'OPTIONS') {
      if (!door.originAllowed(req)) refuseRequest(res, 403, ErrorCode.Forbidden, 'origin not allowed');
      else {
        res.writeHead(204, { ...door.cors(req), 'access-control-allow-methods': 'GET', 'access-control-allow-headers': 'authorization, last-event-id', 'access-control-max-age': '600' });
        res.end();
      }
      return true;
    }
    if (req.method !== 'GET') {
      refuseRequest(res, 405, ErrorCode.MethodNotAllowed, 'use GET');
      return true;
    }
    serve(kind, req, res, url).catch((error: unknown) => {
      onError(error);
      refuseRequest(res, 500, ErrorCode.Remote, 'internal error');
    });
    return true;
  };
}

/** What {@link attach} installs on an HTTP server. */
export interface Attachment {
  /** The WebSocket path (`/rt`): upgrades to it go to `upgrade`. */
  readonly path: string;
  /** Whether the server is ours: then unknown paths get 404; attached to the app's, they are left to it. */
  readonly owned: boolean;
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Serves a request, or returns false to leave it to the app. */
  request(req: IncomingMessage, res: ServerResponse): boolean;
}

/**
 * Installs the upgrade and request listeners on `http`; returns a function
 * that removes them again (and gives the app its request listeners back).
 */
export function attach(http: HttpServer, attachment: Attachment): () => void {
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (pathOf(req) === attachment.path) return attachment.upgrade(req, socket, head);
    if (attachment.owned) refuseUpgrade(socket, 404, 'not found'); // attached: another upgrade listener of the app may want it
  };
  // Requests for our endpoints must not reach the app's own handler (Express would answer 404),
  // so the existing request listeners are wrapped, as engine.io does.
  const original = http.listeners('request') as RequestListener[];
  http.removeAllListeners('request');
  const onRequest: RequestListener = (req, res) => {
    if (attachment.request(req, res)) return;
    if (original.length === 0) refuseRequest(res, 404, ErrorCode.NotFound, 'not found');
    for (const listener of original) listener.call(http, req, res);
  };
  http.on('request', onRequest);
  http.on('upgrade', onUpgrade);
  return () => {
    http.off('upgrade', onUpgrade);
    http.off('request', onRequest);
    for (const listener of original) http.on('request', listener);
  };
}

/** The path of a request URL, without query and trailing slashes. */
export function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return normalizePath(q === -1 ? url : url.slice(0, q));
}

/** A path without trailing slashes (`/` stays). */
export function normalizePath(path: string): string {
  return path.replace(/\/+$/, '') || '/';
}
