/**
 * Turns what a WebSocket carried (a text or binary message, as the browser's
 * network stack recorded it) into the tap's {@link DebugEvent}s, with the
 * shared codec. This is how a page without the hook is still shown per
 * channel: from `chrome.debugger` (see `cdp.ts`) or a HAR file (`har.ts`).
 * No extension API here.
 * @packageDocumentation
 */
import type { DebugBinary, DebugEvent, DebugFrameEvent, DebugTransport } from '@rxmux/core';
import type { ConnectionStatus } from '@rxmux/core';
import { decode, type Frame } from '@rxmux/core/protocol';

/** Hex of the first bytes a debug event keeps of a binary payload. */
export const BINARY_HEAD_BYTES = 64;

const utf8 = new TextEncoder();

/** Lowercase hex of the first `max` bytes. */
export function hexHead(bytes: Uint8Array, max = BINARY_HEAD_BYTES): string {
  let out = '';
  const end = Math.min(bytes.length, max);
  for (let i = 0; i < end; i++) out += (bytes[i] as number).toString(16).padStart(2, '0');
  return out;
}

/** Summarizes bytes as the tap does. */
export function binarySummary(bytes: Uint8Array): DebugBinary {
  return { length: bytes.length, head: hexHead(bytes) };
}

/** Decodes standard base64 (as CDP and HAR carry binary frames). Returns `undefined` when it is not base64. */
export function base64ToBytes(base64: string): Uint8Array | undefined {
  try {
    const raw = atob(base64);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  } catch {
    return undefined;
  }
}

/** The URL without query string or fragment: those may carry tokens, and the tap drops them too. */
export function stripQuery(url: string): string {
  const cut = url.search(/[?#]/);
  return cut === -1 ? url : url.slice(0, cut);
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
 * One recorded rxmux socket: feeds its messages through the codec and keeps
 * the little state needed to derive status changes (a `welcome` means open).
 */
export class WireConnection {
  #status: ConnectionStatus = 'closed';

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
    result.frames.forEach((frame, i) => {
      // Each envelope's share of its batch: what the tap reports too.
      const bytes = Math.floor(total / count) + (i === 0 ? total % count : 0);
      out.push(frameEvent(this.conn, dir, at, frame, bytes, this.transport));
      if (frame.type === 'welcome' && dir === 'in') out.push(...this.status('open', at));
      if (frame.type === 'gap') {
        out.push({ type: 'gap', conn: this.conn, at, channel: frame.channel, transport: this.transport, reason: frame.reason, seq: frame.seq, epoch: frame.epoch, ...(frame.since === undefined ? {} : { since: frame.since }) });
      }
      if (frame.type === 'error') {
        out.push({ type: 'error', conn: this.conn, at, code: frame.code, message: frame.message, ...(frame.channel === undefined ? {} : { channel: frame.channel }) });
      }
    });
    for (const error of result.errors) {
      out.push({ type: 'error', conn: this.conn, at, code: error.code, message: `${dir === 'in' ? 'received' : 'sent'}: ${error.message}`, ...(error.channel === undefined ? {} : { channel: error.channel }) });
    }
    return out;
  }
}

/** The frame event of one decoded frame. Credentials (`hello.resumeToken`, `welcome.session`) are left out on purpose. */
export function frameEvent(conn: string, dir: 'in' | 'out', at: number, frame: Frame, bytes: number, transport: DebugTransport): DebugFrameEvent {
  const base = { type: 'frame', conn, at, dir, transport, frame: frame.type, bytes } as const;
  switch (frame.type) {
    case 'message':
    case 'publication': {
      const num = frame.type === 'message' ? (frame.id === undefined ? {} : { id: frame.id }) : frame.seq === undefined ? {} : { seq: frame.seq };
      return frame.data instanceof Uint8Array
        ? { ...base, channel: frame.channel, binary: binarySummary(frame.data), ...num }
        : { ...base, channel: frame.channel, data: frame.data, ...num };
    }
    case 'subscribe':
      return { ...base, channel: frame.channel, ...(frame.since === undefined ? {} : { seq: frame.since }), ...(frame.epoch === undefined ? {} : { epoch: frame.epoch }) };
    case 'subscribed':
      return { ...base, channel: frame.channel, ...(frame.seq === undefined ? {} : { seq: frame.seq }), ...(frame.epoch === undefined ? {} : { epoch: frame.epoch }) };
    case 'unsubscribe':
      return { ...base, channel: frame.channel };
    case 'unsubscribed':
      return { ...base, channel: frame.channel, ...(frame.code === undefined ? {} : { code: frame.code }) };
    case 'error':
      return { ...base, code: frame.code, ...(frame.channel === undefined ? {} : { channel: frame.channel }), ...(frame.id === undefined ? {} : { id: frame.id }) };
    case 'ack':
    case 'cancel':
      return { ...base, id: frame.id };
    case 'request':
      return { ...base, channel: frame.channel, id: frame.id, data: frame.data };
    case 'response':
      return { ...base, id: frame.id, data: frame.data };
    case 'request-error':
      return { ...base, id: frame.id, code: frame.code };
    case 'gap':
      return { ...base, channel: frame.channel, seq: frame.seq, epoch: frame.epoch, code: frame.reason };
    case 'receipt':
      return { ...base, data: { received: frame.received } };
    case 'refreshed':
    case 'refresh':
    case 'hello':
    case 'welcome':
    case 'ping':
    case 'pong':
      return base;
  }
}
