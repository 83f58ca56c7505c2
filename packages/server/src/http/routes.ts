/**
 * The HTTP side of a server: the SSE and long-poll routes next to the
 * WebSocket path, and attaching to an `http.Server` the app already has.
 *
 * ```
 *  GET     {path}/sse | {path}/poll ─▶ door ─▶ channels? (400) ─▶ under the caps per address / principal? (429) ─▶ serveSse | servePoll
 *  OPTIONS {path}/sse | {path}/poll ─▶ CORS preflight (403 for a foreign Origin)
 *  other methods ─▶ 405
 *  upgrade {path} ─▶ the WebSocket adapter
 *  anything else  ─▶ the app's listeners (404 when there are none)
 * ```
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { channelsOf, ErrorCode } from '@rxmux/core/protocol';
import type { StreamHost } from '../core/stream-host.js';
import type { Door } from './door.js';
import { refuseRequest, refuseUpgrade } from './errors.js';
import { servePoll } from './poll.js';
import { serveSse } from './sse.js';
import type { ReplayBudget } from './throttle.js';

/**
 * A request listener for `{path}/sse` and `{path}/poll`; it returns false for
 * any other request (the app's handler gets it).
 * @internal
 */
export function streamRoutes<P>(path: string, door: Door<P>, host: StreamHost<P>, replay: ReplayBudget, onError: (error: unknown) => void): (req: IncomingMessage, res: ServerResponse) => boolean {
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
    res.once('close', () => held.release()); // the stream (or poll) holds its place while its response is open
    const { address } = admission;
    const client = { principal: admission.principal, address, headers: door.cors(req), replay: (bytes: number) => replay.take(address, bytes) };
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

/** One rxmux server's share of an HTTP server: its WebSocket path and its endpoints. @internal */
export interface Attachment {
  /** The WebSocket path (`/rt`): upgrades to it go to `upgrade`. */
  readonly path: string;
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Serves a request for one of its endpoints, or returns false: the request is someone else's. */
  request(req: IncomingMessage, res: ServerResponse): boolean;
}

type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
type Emit = (this: HttpServer, event: string | symbol, ...args: unknown[]) => boolean;

/** The rxmux servers attached to one HTTP server, and how to undo the routing. */
interface Routing {
  readonly attachments: Set<Attachment>;
  /** Removes the routing: the server's listeners and `emit` as they were. */
  readonly detach: () => void;
}

const routings = new WeakMap<HttpServer, Routing>();

/**
 * Routes what belongs to `attachment` on `http` to it, and nothing else;
 * returns a function that takes it away again.
 *
 * ```
 *  request / upgrade ─▶ for an attached rxmux path? ──yes──▶ that rxmux server only
 *                                 │ no
 *                                 ▼
 *                      the app's listeners, untouched ──none at that moment──▶ rxmux answers 404
 * ```
 *
 * An app's own `request` and `upgrade` listeners may be installed before or
 * after `createServer({ server })`: rxmux sees each event first (it routes
 * the server's `emit`), so its paths never reach the app (Express would
 * answer them 404 while rxmux serves them) and the app's paths never get
 * rxmux's 404. Whether anyone else listens is asked at the time of each
 * request, not when attaching: a request or upgrade nobody else takes gets a
 * 404 instead of hanging. Several rxmux servers may share one HTTP server
 * (on different paths).
 * @internal
 */
export function attach(http: HttpServer, attachment: Attachment): () => void {
  let routing = routings.get(http);
  if (routing === undefined) {
    routing = route(http);
    routings.set(http, routing);
  }
  const { attachments, detach } = routing;
  attachments.add(attachment);
  return () => {
    if (!attachments.delete(attachment) || attachments.size > 0) return;
    routings.delete(http);
    detach();
  };
}

function route(http: HttpServer): Routing {
  const attachments = new Set<Attachment>();
  // The server's own emit (the prototype's, or one another library installed): everything not ours goes through it.
  const hadOwnEmit = Object.hasOwn(http, 'emit');
  const emit = Reflect.get(http, 'emit') as Emit;
  const routed: Emit = function (event, ...args) {
    if (event === 'request') {
      const [req, res] = args as [IncomingMessage, ServerResponse];
      for (const attachment of attachments) if (attachment.request(req, res)) return true;
    } else if (event === 'upgrade') {
      const [req, socket, head] = args as [IncomingMessage, Duplex, Buffer];
      const path = pathOf(req);
      for (const attachment of attachments) {
        if (attachment.path === path) {
          attachment.upgrade(req, socket, head);
          return true;
        }
      }
    }
    return emit.call(this, event, ...args);
  };
  // Our own listeners see only what is not ours; they answer it when nobody else listens (at that moment). The
  // upgrade listener also makes Node hand upgrades over at all (without one it serves them as plain requests).
  const onRequest = (_req: IncomingMessage, res: ServerResponse): void => {
    if (http.listenerCount('request') === 1) refuseRequest(res, 404, ErrorCode.NotFound, 'not found');
  };
  const onUpgrade: UpgradeListener = (_req, socket) => {
    if (http.listenerCount('upgrade') === 1) refuseUpgrade(socket, 404, 'not found');
  };
  http.on('request', onRequest);
  http.on('upgrade', onUpgrade);
  Reflect.set(http, 'emit', routed);
  return {
    attachments,
    detach: () => {
      http.off('request', onRequest);
      http.off('upgrade', onUpgrade);
      // Wrapped again since by someone else: ours stays in their chain, passing everything through (no attachments left).
      if (Reflect.get(http, 'emit') !== routed) return;
      if (hadOwnEmit) Reflect.set(http, 'emit', emit);
      else Reflect.deleteProperty(http, 'emit');
    },
  };
}

/** The path of a request URL, without query and trailing slashes. @internal */
export function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return normalizePath(q === -1 ? url : url.slice(0, q));
}

/** A path without trailing slashes (`/` stays). @internal */
export function normalizePath(path: string): string {
  return path.replace(/\/+$/, '') || '/';
}
