/**
 * Chrome DevTools Protocol `Network` events → {@link DebugEvent}s: the
 * capture of a page that has no debug tap (built without the hook), through
 * `chrome.debugger`. Pure: the background feeds it `(method, params)` pairs
 * as `chrome.debugger.onEvent` delivers them.
 *
 * ```
 *  webSocketCreated ─────────────▶ (remembered)
 *  webSocketHandshakeResponse ───▶ connection + connecting   (only if the server chose rxmux.v1 or rxmux.v2)
 *  webSocketFrameSent/Received ──▶ frame events (codec), welcome → open, gap, error
 *  webSocketClosed ──────────────▶ closed
 *  requestWillBeSent(EventSource)▶ (remembered)
 *  eventSourceMessageReceived ───▶ SSE events: ready → connection + open, publication, reset, channel-error
 * ```
 * Sockets of other protocols (a dev server's HMR socket, say) never show.
 * @packageDocumentation
 */
import { stripQuery, type DebugEvent } from '@rxmux/core/debug';
import { subprotocolVersion } from '@rxmux/core/protocol';
import { isFiniteNumber, isRecord, isShortString } from '../messaging/guards.js';
import { SseConnection } from './sse.js';
import { base64ToBytes, WireConnection } from './wire.js';

/** The `Network` events the decoder reads, and frame navigations (what the background must forward). */
export const CDP_METHODS: readonly string[] = [
  'Page.frameNavigated',
  'Network.requestWillBeSent',
  'Network.webSocketCreated',
  'Network.webSocketWillSendHandshakeRequest',
  'Network.webSocketHandshakeResponseReceived',
  'Network.webSocketFrameSent',
  'Network.webSocketFrameReceived',
  'Network.webSocketFrameError',
  'Network.webSocketClosed',
  'Network.eventSourceMessageReceived',
  'Network.loadingFinished',
  'Network.loadingFailed',
];

/** Most frames whose document request is remembered (a page with more iframes starts over). */
const MAX_FRAMES = 256;

/** Options of a {@link CdpDecoder}. */
export interface CdpDecoderOptions {
  /** Prefix of the debug ids it makes (default `'cdp'`). */
  readonly prefix?: string;
  /** The wall clock, for events before any CDP event told the offset of its monotonic clock. */
  readonly now?: () => number;
}

interface PendingSocket {
  readonly url: string;
  createdAt: number;
  socket?: WireConnection;
  ignored: boolean;
}

function headerValue(headers: unknown, name: string): string | undefined {
  if (!isRecord(headers)) return undefined;
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name && typeof value === 'string') return value;
  return undefined;
}

/** Decodes one tab's `Network` events; keep one per debugger session. */
export class CdpDecoder {
  readonly #prefix: string;
  readonly #now: () => number;
  /** Wall-clock ms minus CDP monotonic ms, learned from events that carry both. */
  #offset: number | undefined;
  readonly #sockets = new Map<string, PendingSocket>();
  /** EventSource request id → its stream, which is keyed by URL so a reopened stream stays one connection. */
  readonly #streamRequests = new Map<string, SseConnection>();
  readonly #streams = new Map<string, SseConnection>();
  /** Frame id → when its latest document request left (a navigation's start), for the sockets it ends. */
  readonly #documents = new Map<string, number>();

  constructor(options: CdpDecoderOptions = {}) {
    this.#prefix = options.prefix ?? 'cdp';
    this.#now = options.now ?? Date.now;
  }

  /** Decodes one CDP event. Unknown methods and malformed params yield `[]`. */
  push(method: string, params: unknown): DebugEvent[] {
    if (!isRecord(params)) return [];
    if (method === 'Page.frameNavigated') return this.#navigated(params.frame);
    if (isFiniteNumber(params.wallTime) && isFiniteNumber(params.timestamp)) this.#offset = params.wallTime * 1000 - params.timestamp * 1000;
    const at = this.#time(params.timestamp);
    const requestId = isShortString(params.requestId, 256) ? params.requestId : undefined;
    if (requestId === undefined) return [];
    switch (method) {
      case 'Network.webSocketCreated':
        if (isShortString(params.url, 8192)) this.#sockets.set(requestId, { url: params.url, createdAt: at, ignored: false });
        return [];
      case 'Network.webSocketWillSendHandshakeRequest': {
        // webSocketCreated carries no timestamp; the handshake request does (and the wall clock).
        const pending = this.#sockets.get(requestId);
        if (pending !== undefined) pending.createdAt = at;
        return [];
      }
      case 'Network.webSocketHandshakeResponseReceived': {
        const pending = this.#sockets.get(requestId);
        if (pending === undefined || pending.socket !== undefined) return [];
        const response = isRecord(params.response) ? params.response : {};
        const protocol = headerValue(response.headers, 'sec-websocket-protocol');
        if (protocol === undefined || subprotocolVersion(protocol.trim()) === undefined) {
          pending.ignored = true;
          return [];
        }
        pending.socket = new WireConnection(`${this.#prefix}-ws-${requestId}`, pending.url);
        return pending.socket.opened(pending.createdAt);
      }
      case 'Network.webSocketFrameSent':
      case 'Network.webSocketFrameReceived': {
        const socket = this.#sockets.get(requestId)?.socket;
        const response = isRecord(params.response) ? params.response : undefined;
        if (socket === undefined || response === undefined || typeof response.payloadData !== 'string') return [];
        const dir = method === 'Network.webSocketFrameSent' ? 'out' : 'in';
        if (response.opcode === 1) return socket.message({ dir, at, payload: response.payloadData });
        if (response.opcode === 2) {
          const bytes = base64ToBytes(response.payloadData);
          return bytes === undefined ? [] : socket.message({ dir, at, payload: bytes });
        }
        return []; // control frames (close, ping, pong of the WebSocket layer itself)
      }
      case 'Network.webSocketFrameError': {
        const socket = this.#sockets.get(requestId)?.socket;
        if (socket === undefined) return [];
        const message = isShortString(params.errorMessage) ? params.errorMessage : 'WebSocket frame error';
        return [{ type: 'error', conn: socket.conn, at, code: 'RXMUX_ERR_CONNECTION_LOST', message }];
      }
      case 'Network.webSocketClosed': {
        const socket = this.#sockets.get(requestId)?.socket;
        this.#sockets.delete(requestId);
        // CDP does not report the close code; the next socket to the same URL is the reconnect.
        return socket === undefined ? [] : socket.status('closed', at);
      }
      case 'Network.requestWillBeSent': {
        if (params.type === 'Document' && isShortString(params.frameId, 256)) {
          if (this.#documents.size >= MAX_FRAMES && !this.#documents.has(params.frameId)) this.#documents.clear();
          this.#documents.set(params.frameId, at);
          return [];
        }
        const request = isRecord(params.request) ? params.request : undefined;
        if (params.type !== 'EventSource' || request === undefined || !isShortString(request.url, 8192)) return [];
        const key = stripQuery(request.url);
        let stream = this.#streams.get(key);
        if (stream === undefined) {
          stream = new SseConnection(`${this.#prefix}-sse-${this.#streams.size + 1}`, request.url);
          this.#streams.set(key, stream);
        }
        this.#streamRequests.set(requestId, stream);
        return [];
      }
      case 'Network.eventSourceMessageReceived': {
        const stream = this.#streamRequests.get(requestId);
        if (stream === undefined || !isShortString(params.eventName, 256) || typeof params.data !== 'string') return [];
        const id = isShortString(params.eventId, 65_536) ? params.eventId : undefined;
        return stream.event(params.eventName, params.data, id, at);
      }
      case 'Network.loadingFinished':
      case 'Network.loadingFailed': {
        const stream = this.#streamRequests.get(requestId);
        if (stream === undefined) return [];
        this.#streamRequests.delete(requestId);
        return stream.ended(at, isShortString(params.errorText) ? params.errorText : undefined);
      }
      default:
        return [];
    }
  }

  /**
   * The connection and status events of every socket and stream it knows,
   * at `at`: what a buffer that started over (the tab loaded a new document
   * while the capture ran) needs so the connections it decodes next have
   * their names and state, whichever came first, the page load or their frames.
   */
  replay(at: number): DebugEvent[] {
    const out: DebugEvent[] = [];
    for (const pending of this.#sockets.values()) if (pending.socket !== undefined) out.push(...pending.socket.announce(at));
    for (const stream of this.#streams.values()) out.push(...stream.announce(at));
    return out;
  }

  /**
   * A frame committed a new document. When it is the tab's main frame, the
   * sockets the old page opened went with it, and Chromium reports no
   * `webSocketClosed` for a socket a navigation tore down: each socket
   * created before the navigation's document request left is closed here.
   * The new page's sockets come after that request, even when this event
   * reaches us after them. Without a document request (`about:blank`, a
   * navigation the capture did not see start) nothing is closed; an
   * iframe's navigation changes nothing (a socket's frame is not told).
   */
  #navigated(frame: unknown): DebugEvent[] {
    if (!isRecord(frame) || frame.parentId !== undefined || !isShortString(frame.id, 256)) return [];
    const started = this.#documents.get(frame.id);
    this.#documents.clear();
    if (started === undefined) return [];
    const at = this.#now();
    const out: DebugEvent[] = [];
    for (const [requestId, pending] of this.#sockets) {
      if (pending.createdAt >= started) continue;
      if (pending.socket !== undefined) out.push(...pending.socket.status('closed', at, { reason: 'the page navigated' }));
      this.#sockets.delete(requestId);
    }
    return out;
  }

  #time(timestamp: unknown): number {
    if (isFiniteNumber(timestamp) && this.#offset !== undefined) return Math.round(timestamp * 1000 + this.#offset);
    return this.#now();
  }
}
