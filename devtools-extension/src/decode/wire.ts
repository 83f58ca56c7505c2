/**
 * Turns what a WebSocket carried (a text or binary message, as the browser's
 * network stack recorded it) into the tap's {@link DebugEvent}s, with the
 * shared codec and the core's own `frameEvent`, so a page without the tap
 * shows exactly what the tap would have reported. This is how a page without
 * the hook is still shown per channel: from `chrome.debugger` (see `cdp.ts`)
 * or a HAR file (`har.ts`). No extension API here.
 * @packageDocumentation
 */
import type { ConnectionStatus } from '@rxmux/core';
import { frameEvent, stripQuery, type DebugEvent, type DebugTransport } from '@rxmux/core/debug';
import { base64ToBytes as decodeBase64, decode, encode, type Frame } from '@rxmux/core/protocol';

const utf8 = new TextEncoder();

/** Most request and acked-message ids remembered to name the channel of their replies (the tap keeps as many). */
const MAX_IDS = 4096;

/** Decodes standard base64 (as CDP and HAR carry binary frames). Returns `undefined` when it is not base64. */
export function base64ToBytes(base64: string): Uint8Array | undefined {
  try {
    return decodeBase64(base64);
  } catch {
    return undefined;
  }
}

/** Byte length of a string in UTF-8. */
export function utf8Length(text: string): number {
  return utf8.encode(text).length;
}

/** One WebSocket message, as recorded. */
export interface WireMessage {
  readonly dir: 'in' | 'out';
  /** Wall-clock time, ms. */
  readonly at: number;
  /** A text message, or bytes for a binary one. */
  readonly payload: string | Uint8Array;
}

/**
 * A frame's size on the wire, as the tap counts it: the whole message when it
 * travelled alone, its own envelope when it shared a batch.
 */
function frameBytes(frame: Frame, total: number, count: number): number {
  if (count === 1) return total;
  try {
    const wire = encode(frame);
    return typeof wire === 'string' ? utf8Length(wire) : wire.length;
  } catch {
    return Math.floor(total / count);
  }
}

/**
 * One recorded rxmux socket: feeds its messages through the codec and keeps
 * the little state needed to derive what the tap would have said: status
 * changes (a `welcome` means open) and the channel of a reply (a `response`,
 * `request-error`, `ack` or `cancel` names only the id of what it answers).
 */
export class WireConnection {
  #status: ConnectionStatus = 'closed';
  /** Request and acked-message ids sent: their channel, when and as what (oldest first, bounded). */
  readonly #ids = new Map<number, { readonly channel: string; readonly at: number; readonly kind: 'request' | 'message' }>();

  /**
   * @param conn the debug id of the connection the events will name.
   * @param transport always `'ws'` for sockets; kept as a parameter so the event shape has one source.
   */
  constructor(
    readonly conn: string,
    readonly url: string,
    readonly transport: DebugTransport = 'ws',
  ) {}

  /** The connection event and the first status change, at `at`. */
  opened(at: number): DebugEvent[] {
    return [{ type: 'connection', conn: this.conn, at, url: stripQuery(this.url), actions: false }, ...this.status('connecting', at)];
  }

  /**
   * The connection event and its current status again, for a buffer that
   * started over while the socket lives on (a capture across a page load).
   */
  announce(at: number): DebugEvent[] {
    const connection: DebugEvent = { type: 'connection', conn: this.conn, at, url: stripQuery(this.url), actions: false };
    return this.#status === 'closed' ? [connection] : [connection, { type: 'status', conn: this.conn, at, from: 'closed', to: this.#status }];
  }

  /** A status change, if it is one. */
  status(to: ConnectionStatus, at: number, extra: { code?: number; reason?: string } = {}): DebugEvent[] {
    if (this.#status === to) return [];
    const from = this.#status;
    this.#status = to;
    return [{ type: 'status', conn: this.conn, at, from, to, ...extra }];
  }

  /** Decodes one message into frame events (plus gap, error and status events it implies). */
  message(message: WireMessage): DebugEvent[] {
    const { dir, at, payload } = message;
    const result = decode(payload);
    const total = typeof payload === 'string' ? utf8Length(payload) : payload.length;
    const count = result.frames.length;
    const out: DebugEvent[] = [];
    const channelOf = (id: number): string | undefined => this.#ids.get(id)?.channel;
    for (const frame of result.frames) {
      if (dir === 'out' && frame.type === 'request') this.#remember(frame.id, frame.channel, at, 'request');
      if (dir === 'out' && frame.type === 'message' && frame.id !== undefined) this.#remember(frame.id, frame.channel, at, 'message');
      out.push(frameEvent(this.conn, dir, at, frame, frameBytes(frame, total, count), this.transport, channelOf));
      // What the tap reports when an acknowledged send is answered (requests pair up in the panel from their frames).
      if (dir === 'in' && (frame.type === 'ack' || (frame.type === 'error' && frame.id !== undefined))) {
        const sent = this.#ids.get(frame.id as number);
        if (sent?.kind === 'message') {
          this.#ids.delete(frame.id as number);
          const refused = frame.type === 'error' ? { outcome: 'refused' as const, code: frame.code } : { outcome: 'acked' as const };
          out.push({ type: 'ack', conn: this.conn, at, channel: sent.channel, id: frame.id as number, latency: at - sent.at, ...refused });
        }
      }
      if (frame.type === 'welcome' && dir === 'in') out.push(...this.status('open', at));
      if (frame.type === 'gap') {
        out.push({ type: 'gap', conn: this.conn, at, channel: frame.channel, transport: this.transport, reason: frame.reason, seq: frame.seq, epoch: frame.epoch, ...(frame.since === undefined ? {} : { since: frame.since }) });
      }
      if (frame.type === 'error') {
        const channel = frame.channel ?? (frame.id === undefined ? undefined : channelOf(frame.id));
        out.push({ type: 'error', conn: this.conn, at, code: frame.code, message: frame.message, ...(channel === undefined ? {} : { channel }) });
      }
    }
    for (const error of result.errors) {
      out.push({ type: 'error', conn: this.conn, at, code: error.code, message: `${dir === 'in' ? 'received' : 'sent'}: ${error.message}`, ...(error.channel === undefined ? {} : { channel: error.channel }) });
    }
    return out;
  }

  #remember(id: number, channel: string, at: number, kind: 'request' | 'message'): void {
    if (this.#ids.has(id)) return; // a re-send after a reconnect: the wait counts from the first
    if (this.#ids.size >= MAX_IDS) this.#ids.delete(this.#ids.keys().next().value as number);
    this.#ids.set(id, { channel, at, kind });
  }
}
