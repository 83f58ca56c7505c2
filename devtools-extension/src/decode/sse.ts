/**
 * Turns the events of an rxmux SSE stream (PROTOCOL.md section 14.6) into
 * {@link DebugEvent}s: `ready`, `publication` (JSON `data` or base64
 * `bytes`), `reset` and `channel-error`. No extension API here.
 * @packageDocumentation
 */
import { binarySummary, stripQuery, type DebugEvent } from '@rxmux/core/debug';
import type { JsonValue } from '@rxmux/core/protocol';
import { isRecord, isShortString, isUint } from '../messaging/guards.js';
import { base64ToBytes, utf8Length } from './wire.js';

/** Event names an rxmux SSE stream sends. */
export const SSE_EVENTS: readonly string[] = ['ready', 'publication', 'reset', 'channel-error'];

/**
 * Reads the epoch of `channel` from an SSE cursor
 * (`encodeURIComponent(channel)=seq.epoch` joined by `,`). Malformed parts are skipped.
 */
export function cursorEpoch(cursor: string | undefined, channel: string): string | undefined {
  if (cursor === undefined) return undefined;
  for (const part of cursor.split(',')) {
    const eq = part.lastIndexOf('=');
    if (eq <= 0) continue;
    let name: string;
    try {
      name = decodeURIComponent(part.slice(0, eq));
    } catch {
      continue;
    }
    if (name !== channel) continue;
    const dot = part.indexOf('.', eq);
    return dot === -1 ? undefined : part.slice(dot + 1);
  }
  return undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** One EventSource stream of one page (a reopened stream to the same URL keeps the same debug id). */
export class SseConnection {
  #open = false;
  #announced = false;

  constructor(
    readonly conn: string,
    readonly url: string,
  ) {}

  /** The connection event and its status again (see `WireConnection.announce`); nothing before its first `ready`. */
  announce(at: number): DebugEvent[] {
    if (!this.#announced) return [];
    const connection: DebugEvent = { type: 'connection', conn: this.conn, at, url: stripQuery(this.url), actions: false };
    return this.#open ? [connection, { type: 'status', conn: this.conn, at, from: 'closed', to: 'open' }] : [connection];
  }

  /** The stream ended (the browser will reopen it by itself, or the app moved to another channel set). */
  ended(at: number, reason?: string): DebugEvent[] {
    if (!this.#open) return [];
    this.#open = false;
    return [{ type: 'status', conn: this.conn, at, from: 'open', to: 'reconnecting', ...(reason === undefined ? {} : { reason }) }];
  }

  /** One SSE event. Events of other kinds of streams are ignored (`[]`). */
  event(name: string, data: string, id: string | undefined, at: number): DebugEvent[] {
    if (!SSE_EVENTS.includes(name)) return [];
    const body = parseJson(data);
    if (!isRecord(body)) return [];
    const bytes = utf8Length(data);
    const base = { type: 'frame', conn: this.conn, at, dir: 'in', transport: 'sse', bytes } as const;
    const out: DebugEvent[] = [];
    if (name === 'ready') {
      if (!this.#announced) out.push({ type: 'connection', conn: this.conn, at, url: stripQuery(this.url), actions: false });
      if (!this.#open) out.push({ type: 'status', conn: this.conn, at, from: this.#announced ? 'reconnecting' : 'connecting', to: 'open' });
      this.#announced = true;
      this.#open = true;
      out.push({ ...base, frame: 'ready' });
      return out;
    }
    if (!this.#open) return [];
    if (!isShortString(body.channel, 1024)) return [];
    const channel = body.channel;
    if (name === 'publication') {
      const seq = isUint(body.seq) ? { seq: body.seq } : {};
      const epoch = cursorEpoch(id, channel);
      const bin = typeof body.bytes === 'string' ? base64ToBytes(body.bytes) : undefined;
      const payload = bin === undefined ? { data: (body.data ?? null) as JsonValue } : { binary: binarySummary(bin) };
      out.push({ ...base, frame: 'publication', channel, ...seq, ...(epoch === undefined ? {} : { epoch }), ...payload });
    } else if (name === 'reset') {
      const seq = isUint(body.seq) ? body.seq : 0;
      const reason = isShortString(body.reason, 1024) ? body.reason : 'unknown';
      const epoch = isShortString(body.epoch, 1024) ? { epoch: body.epoch } : {};
      out.push({ ...base, frame: 'reset', channel, seq, code: reason, ...epoch });
      out.push({ type: 'gap', conn: this.conn, at, channel, transport: 'sse', reason, seq, ...epoch });
    } else {
      const code = isShortString(body.code, 1024) ? body.code : 'RXMUX_ERR_REMOTE';
      const message = isShortString(body.message) ? body.message : '';
      out.push({ ...base, frame: 'channel-error', channel, code });
      out.push({ type: 'error', conn: this.conn, at, code, message, channel });
    }
    return out;
  }
}
