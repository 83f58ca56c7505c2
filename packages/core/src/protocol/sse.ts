/**
 * The SSE and long-poll wire format (PROTOCOL.md 14.6, 14.7), written once
 * for the client (`events()`, `@rxmux/core/events`), the server's endpoints and the DevTools
 * panel: event names and payloads, the per-stream cursor with epochs, the
 * endpoint URLs and their query parameters.
 *
 * ```
 * GET {path}/sse?channel=a&channel=b          Last-Event-ID: a=5.E1,b=7.E2
 *
 * id: a=6.E1,b=7.E2                           ← the cursor, after this event
 * event: publication                          ← an SseEventName
 * data: {"channel":"a","seq":6,"data":…}      ← its JSON payload
 *
 * GET {path}/poll?channel=a&cursor=a%3D5.E1
 * {"cursor":"a=6.E1","events":[{"type":"publication","channel":"a","seq":6,"data":…}]}
 * ```
 *
 * No rxjs, no Node or DOM dependency beyond `URL`, `btoa` and `atob`.
 */
import type { Payload } from './frames.js';

/** The events a stream carries. */
export type SseEventName = 'ready' | 'publication' | 'reset' | 'channel-error';

/** Why a channel's stream was reset: the history no longer reaches back (`'history'`), or another history (`'epoch'`). */
export type ResetReason = 'history' | 'epoch';

/** The first event of every SSE stream. */
export interface ReadyEvent {
  /** The stream's id (also its presence member id). */
  readonly stream: string;
  readonly channels: readonly string[];
}

/** A publication as SSE and long-poll carry it: bytes travel base64-encoded in `bytes`. */
export type StreamPublication =
  | { readonly channel: string; readonly seq: number; readonly data: Exclude<Payload, Uint8Array> }
  | { readonly channel: string; readonly seq: number; readonly bytes: string };

/** Values between the cursor and `seq` are lost; the stream goes on after `seq` in `epoch`. */
export interface ResetEvent {
  readonly channel: string;
  readonly seq: number;
  readonly epoch: string;
  readonly reason: ResetReason;
}

/** A channel of the request was refused; the others carry on. */
export interface ChannelErrorEvent {
  readonly channel: string;
  readonly code: string;
  readonly message: string;
}

/** One event of a long-poll answer. */
export type PollEvent =
  | ({ readonly type: 'publication' } & StreamPublication)
  | ({ readonly type: 'reset' } & ResetEvent)
  | ({ readonly type: 'channel-error' } & ChannelErrorEvent);

/** A long-poll answer: the events after the request's cursor, and the cursor to poll with next. */
export interface PollAnswer {
  readonly cursor: string;
  readonly events: readonly PollEvent[];
  /** When the poll was admitted by a ticket: the single-use ticket for the next poll. */
  readonly ticket?: string;
}

/** Channel ids starting with this are the protocol's own: an app can neither subscribe to nor send on them. */
export const RESERVED_CHANNEL_PREFIX = '$rxmux.';

/**
 * A `request` on this channel (data `null`) answers `{ ticket, expiresIn }`:
 * a short-lived, single-use credential for the SSE and long-poll endpoints
 * (`?ticket=`), which cannot carry the WebSocket's token in a header. It is
 * bound to the socket's principal.
 */
export const TICKET_CHANNEL = '$rxmux.ticket';

/** What a ticket request answers. */
export interface TicketAnswer {
  readonly ticket: string;
  /** Milliseconds the ticket stays redeemable. */
  readonly expiresIn: number;
}

/** A stream event decoded by the client: a publication's data is back to JSON or bytes. */
export type StreamItem =
  | { readonly kind: 'publication'; readonly channel: string; readonly seq: number; readonly data: Payload }
  | ({ readonly kind: 'reset' } & ResetEvent)
  | ({ readonly kind: 'channel-error' } & ChannelErrorEvent);

// ---- cursor -----------------------------------------------------------------

/**
 * A per-stream cursor: where the stream stands in each channel's history, the
 * last seq seen and the history epoch it belongs to, e.g.
 * `a=5.Xk3p9qL2mN0r,player%2F1=7.Q8vT1bYz5cWe`. It travels as the SSE event
 * `id:` (so `Last-Event-ID` resumes) and as the long-poll `cursor` parameter.
 * Channel names are URI-encoded, so `,` and `=` never appear inside one;
 * epochs are base64url (no `.`); CR, LF and NUL never appear at all. A seq
 * without an epoch (an older cursor) never resumes silently: it gets a reset.
 * Clients treat it as opaque.
 */
export type Cursor = Map<string, CursorEntry>;

/** One channel's place in a {@link Cursor}. */
export interface CursorEntry {
  readonly seq: number;
  /** The history epoch `seq` belongs to; undefined when the cursor did not say. */
  readonly epoch: string | undefined;
}

const EPOCH = /^[A-Za-z0-9_-]{1,64}$/;

/** Longest cursor text decoded; anything longer is ignored whole (a hostile header). */
export const MAX_CURSOR_CHARS = 256 * 1024;

/** Encodes a cursor for the wire. */
export function encodeCursor(cursor: Cursor): string {
  const parts: string[] = [];
  for (const [channel, { seq, epoch }] of cursor) parts.push(`${encodeURIComponent(channel)}=${seq}${epoch === undefined ? '' : `.${epoch}`}`);
  return parts.join(',');
}

/** Decodes a cursor, ignoring malformed parts and keeping at most `max` entries. Never throws. */
export function decodeCursor(text: string | undefined, max: number): Cursor {
  const cursor: Cursor = new Map();
  if (text === undefined || text.length === 0 || text.length > MAX_CURSOR_CHARS) return cursor;
  for (const part of text.split(',')) {
    if (cursor.size >= max) break;
    const entry = decodeCursorPart(part);
    if (entry !== undefined) cursor.set(entry[0], entry[1]);
  }
  return cursor;
}

/**
 * One channel's entry of a cursor, found without decoding the others when
 * it is written as {@link encodeCursor} writes it (the debug tap names each
 * SSE publication's epoch so). Never throws.
 */
export function cursorEntry(text: string, channel: string): CursorEntry | undefined {
  if (text.length > MAX_CURSOR_CHARS) return undefined;
  const key = `${encodeURIComponent(channel)}=`;
  for (let at = text.indexOf(key); at !== -1; at = text.indexOf(key, at + 1)) {
    if (at !== 0 && text[at - 1] !== ',') continue;
    const end = text.indexOf(',', at);
    const entry = decodeCursorPart(end === -1 ? text.slice(at) : text.slice(at, end));
    if (entry?.[0] === channel) return entry[1];
  }
  // Written by another encoder (escapes where encodeURIComponent has none): decode every part.
  return decodeCursor(text, Number.POSITIVE_INFINITY).get(channel);
}

/** One `channel=seq.epoch` part, or undefined when malformed. */
function decodeCursorPart(part: string): readonly [string, CursorEntry] | undefined {
  const eq = part.lastIndexOf('=');
  const value = part.slice(eq + 1);
  const dot = value.indexOf('.');
  const seq = Number(dot === -1 ? value : value.slice(0, dot));
  const epoch = dot === -1 ? undefined : value.slice(dot + 1);
  if (eq <= 0 || !Number.isSafeInteger(seq) || seq < 0 || (epoch !== undefined && !EPOCH.test(epoch))) return undefined;
  try {
    return [decodeURIComponent(part.slice(0, eq)), { seq, epoch }];
  } catch {
    return undefined; // malformed escape
  }
}

// ---- events ------------------------------------------------------------------

/** Base64 of bytes, without Node's Buffer (browsers, workers, the panel). */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  const CHUNK = 0x8000; // String.fromCharCode's argument count stays bounded
  for (let i = 0; i < bytes.length; i += CHUNK) binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(binary);
}

/** Bytes of base64 text. Throws on text that is not base64. */
export function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** A sequenced publication in its SSE / long-poll shape. `base64` lets a server use a faster encoder (Node's Buffer). */
export function streamPublication(
  channel: string,
  seq: number,
  data: Payload,
  base64: (bytes: Uint8Array) => string = bytesToBase64,
): StreamPublication {
  return data instanceof Uint8Array ? { channel, seq, bytes: base64(data) } : { channel, seq, data };
}

/**
 * Formats one SSE event: `id:` (the cursor after it, when given), `event:`,
 * and one `data:` line (JSON never contains a raw newline).
 */
export function formatSseEvent(event: SseEventName, data: string, id?: string): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Decodes one SSE event (its name and parsed `data:` JSON) or long-poll event
 * (`type` inside) for a client. Malformed events yield `undefined`: a
 * garbled event costs itself only.
 */
export function parseStreamEvent(event: string, payload: unknown): StreamItem | undefined {
  if (!isRecord(payload) || typeof payload.channel !== 'string') return undefined;
  const channel = payload.channel;
  switch (event) {
    case 'publication': {
      if (typeof payload.seq !== 'number') return undefined;
      if (typeof payload.bytes === 'string') {
        try {
          return { kind: 'publication', channel, seq: payload.seq, data: base64ToBytes(payload.bytes) };
        } catch {
          return undefined;
        }
      }
      return payload.data === undefined ? undefined : { kind: 'publication', channel, seq: payload.seq, data: payload.data as Payload };
    }
    case 'reset': {
      if (typeof payload.seq !== 'number' || typeof payload.epoch !== 'string') return undefined;
      const reason: ResetReason = payload.reason === 'epoch' ? 'epoch' : 'history';
      return { kind: 'reset', channel, seq: payload.seq, epoch: payload.epoch, reason };
    }
    case 'channel-error':
      return {
        kind: 'channel-error',
        channel,
        code: typeof payload.code === 'string' ? payload.code : 'RXMUX_ERR_REMOTE',
        message: typeof payload.message === 'string' ? payload.message : 'refused',
      };
    default:
      return undefined;
  }
}

/** Decodes a long-poll answer body: the next cursor, the next ticket, and the events (malformed ones dropped). */
export function parsePollAnswer(body: unknown): { readonly cursor: string | undefined; readonly ticket: string | undefined; readonly items: StreamItem[] } {
  if (!isRecord(body)) return { cursor: undefined, ticket: undefined, items: [] };
  const items: StreamItem[] = [];
  for (const raw of Array.isArray(body.events) ? (body.events as unknown[]) : []) {
    const item = isRecord(raw) && typeof raw.type === 'string' ? parseStreamEvent(raw.type, raw) : undefined;
    if (item !== undefined) items.push(item);
  }
  return {
    cursor: typeof body.cursor === 'string' ? body.cursor : undefined,
    ticket: typeof body.ticket === 'string' ? body.ticket : undefined,
    items,
  };
}

// ---- endpoints ---------------------------------------------------------------

/** The two endpoints next to the WebSocket path. */
export type StreamEndpoint = 'sse' | 'poll';

/**
 * The URL of an endpoint for `channels`: `ws(s)://host/rt` or `http(s)://host/rt`
 * → `http(s)://host/rt/{endpoint}?channel=a&channel=b&{extra}` (empty extras left out).
 */
export function streamUrl(base: string, endpoint: StreamEndpoint, channels: readonly string[], extra: Readonly<Record<string, string>> = {}): string {
  const url = new URL(base.replace(/^ws(s?):/i, 'http$1:'));
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${endpoint}`;
  url.search = '';
  for (const channel of channels) url.searchParams.append('channel', channel);
  for (const [key, value] of Object.entries(extra)) if (value !== '') url.searchParams.set(key, value);
  return url.toString();
}

/**
 * Channel names of an SSE / poll URL: repeated `channel=` parameters (any
 * name) and a comma-separated `channels=` list (names without commas), in
 * order, without duplicates.
 */
export function channelsOf(url: URL): string[] {
  const names = [...url.searchParams.getAll('channel')];
  for (const list of url.searchParams.getAll('channels')) names.push(...list.split(',').filter((c) => c.length > 0));
  return [...new Set(names)];
}
