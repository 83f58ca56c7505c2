import { decode, encode } from '../protocol/codec.js';
import type { Frame } from '../protocol/frames.js';
import type { ConnectionStatus, StatusTransition } from '../connection/status.js';
import type { DebugEvent, DebugTransport } from './events.js';
import { utf8Length } from '../protocol/utf8.js';
import { frameEvent } from './frames.js';

/**
 * What a late debugger must learn of the connection's event stream (kept by
 * `StreamTap`, with `events()`): its state event, and its channels as
 * `[channel, transport, subscribers, confirmed]`. @internal
 */
export interface StreamSnapshot {
  readonly state: DebugEvent | undefined;
  readonly channels: Iterable<readonly [channel: string, transport: DebugTransport, subscribers: number, confirmed: boolean]>;
}

/** Where a connection stood when a debugger started listening: what {@link TapRecorder.greet} reports first. @internal */
export interface TapSnapshot {
  readonly url: string;
  readonly actions: boolean;
  readonly status: ConnectionStatus;
  /** Joined channels: `[channel, local subscribers, confirmed by the server]`. */
  readonly channels: readonly (readonly [channel: string, subscribers: number, confirmed: boolean])[];
  /** Channels whose delivery a debugger paused. */
  readonly paused: readonly string[];
  readonly streams: StreamSnapshot | undefined;
}

/** What a channel did, as the tap reports it. @internal */
export type ChannelAction = 'join' | 'joined' | 'leave' | 'paused' | 'resumed';

/** A gap as the tap is told of it. @internal */
export interface GapReport {
  readonly channel: string;
  readonly reason: string;
  readonly since: number | undefined;
  readonly seq: number;
  readonly epoch: string | undefined;
}

/** A dropped message as the tap is told of it. @internal */
export interface DropReport {
  readonly channel: string;
  readonly reason: string;
  readonly wire: string | Uint8Array;
  readonly id?: number;
}

/** An error as the tap is told of it. @internal */
export interface ErrorReport {
  readonly code: string;
  readonly message: string;
  readonly channel?: string | undefined;
}

/** Most ids remembered for naming the channel of a reply and timing it. */
const MAX_IDS = 4096;

/**
 * The debug tap's code: turns what the connection's {@link Tap} is told
 * (frames written and received, status, channels, timeouts, gaps, drops,
 * errors) into {@link DebugEvent}s, decoding what was written, naming the
 * channel of each reply and timing it. Loaded on demand (a dynamic import)
 * when a debugger first listens, so a page nobody debugs never downloads it.
 * Every method takes the time its event happened: events that waited for
 * this code to load keep theirs.
 * @internal
 */
export class TapRecorder {
  /** Recent request and acked-message ids: their channel and when they left. */
  readonly #ids = new Map<number, { readonly channel: string; readonly at: number; readonly kind: 'request' | 'message' }>();

  constructor(
    private readonly conn: string,
    private readonly emit: (event: DebugEvent) => void,
  ) {}

  /** What a new listener hears first: the connection, its status, its channels (joined, confirmed, paused), the event stream's state. */
  greet(send: (event: DebugEvent) => void, snapshot: TapSnapshot, at: number): void {
    const conn = this.conn;
    send({ type: 'connection', conn, at, url: snapshot.url, actions: snapshot.actions });
    if (snapshot.status !== 'closed') send({ type: 'status', conn, at, from: 'closed', to: snapshot.status });
    const joined: { channel: string; transport: DebugTransport; subscribers: number }[] = [];
    for (const [channel, subscribers, confirmed] of snapshot.channels) {
      send({ type: 'channel', conn, at, channel, transport: 'ws', action: 'join', subscribers });
      if (confirmed) joined.push({ channel, transport: 'ws', subscribers });
    }
    const streams = snapshot.streams;
    if (streams?.state !== undefined) send({ ...streams.state, conn, at });
    for (const [channel, transport, subscribers, confirmed] of streams?.channels ?? []) {
      send({ type: 'channel', conn, at, channel, transport, action: 'join', subscribers });
      if (confirmed) joined.push({ channel, transport, subscribers });
    }
    for (const { channel, transport, subscribers } of joined) send({ type: 'channel', conn, at, channel, transport, action: 'joined', subscribers });
    const counts = new Map<string, number>();
    for (const [channel, subscribers] of snapshot.channels) counts.set(channel, subscribers);
    for (const channel of snapshot.paused) send({ type: 'channel', conn, at, channel, transport: 'ws', action: 'paused', subscribers: counts.get(channel) ?? 0 });
  }

  /** A frame written on the socket (text envelope or batch, or binary). */
  out(wire: string | Uint8Array, at: number): void {
    const { frames } = decode(wire, { maxFrameBytes: Number.POSITIVE_INFINITY, maxBatch: Number.POSITIVE_INFINITY });
    const sizes = frameSizes(frames, wire);
    for (const [i, frame] of frames.entries()) {
      if (frame.type === 'request') this.#remember(frame.id, frame.channel, at, 'request');
      else if (frame.type === 'message' && frame.id !== undefined) this.#remember(frame.id, frame.channel, at, 'message');
      this.emit(frameEvent(this.conn, 'out', at, frame, sizes[i] ?? 0, 'ws', (id) => this.#ids.get(id)?.channel));
      if (frame.type === 'cancel') this.#settle(frame.id, 'request', 'cancelled', at);
    }
  }

  /** A socket message and the frames it decoded to. */
  in(raw: unknown, frames: readonly Frame[], at: number): void {
    const sizes = frameSizes(frames, raw);
    for (const [i, frame] of frames.entries()) {
      this.emit(frameEvent(this.conn, 'in', at, frame, sizes[i] ?? 0, 'ws', (id) => this.#ids.get(id)?.channel));
      if (frame.type === 'response') this.#settle(frame.id, 'request', 'response', at);
      else if (frame.type === 'request-error') this.#settle(frame.id, 'request', 'error', at, frame.code);
      else if (frame.type === 'ack') this.#settle(frame.id, 'message', 'acked', at);
      else if (frame.type === 'error' && frame.id !== undefined) this.#settle(frame.id, 'message', 'refused', at, frame.code);
    }
  }

  /** A status transition (and, on `'open'`, whether the session was resumed). */
  transition(t: StatusTransition, resumed: boolean | undefined, at: number): void {
    this.emit({
      type: 'status',
      conn: this.conn,
      at,
      from: t.from,
      to: t.to,
      ...(t.attempt === undefined ? {} : { attempt: t.attempt }),
      ...(t.retryIn === undefined ? {} : { retryIn: t.retryIn }),
      ...(t.code === undefined ? {} : { code: t.code }),
      ...(t.reason === undefined ? {} : { reason: t.reason }),
      ...(t.to === 'open' && resumed !== undefined ? { resumed } : {}),
    });
  }

  /** A channel joined, confirmed, left, paused or resumed. */
  channel(channel: string, action: ChannelAction, subscribers: number, transport: DebugTransport, at: number): void {
    this.emit({ type: 'channel', conn: this.conn, at, channel, transport, action, subscribers });
  }

  /** A DevTools action refused: the connection does not allow actions. */
  refused(action: string, at: number): void {
    this.emit({ type: 'error', conn: this.conn, at, code: 'RXMUX_ERR_INVALID_ARGUMENT', message: `DevTools action ${action} refused: the connection was created without devtools: { actions: true }` });
  }

  error(error: ErrorReport, at: number): void {
    this.emit({ type: 'error', conn: this.conn, at, code: error.code, message: error.message, ...(error.channel === undefined ? {} : { channel: error.channel }) });
  }

  /** A request timed out locally (its cancel follows). */
  timedOut(id: number, at: number): void {
    this.#settle(id, 'request', 'timeout', at);
  }

  /** An acknowledged send gave up waiting. */
  ackTimedOut(id: number, at: number): void {
    this.#settle(id, 'message', 'timeout', at);
  }

  gap(notice: GapReport, transport: DebugTransport, at: number): void {
    this.emit({
      type: 'gap',
      conn: this.conn,
      at,
      channel: notice.channel,
      transport,
      reason: notice.reason,
      seq: notice.seq,
      ...(notice.since === undefined ? {} : { since: notice.since }),
      ...(notice.epoch === undefined ? {} : { epoch: notice.epoch }),
    });
  }

  drop(dropped: DropReport, at: number): void {
    this.emit({ type: 'drop', conn: this.conn, at, channel: dropped.channel, reason: dropped.reason, bytes: byteLength(dropped.wire), ...(dropped.id === undefined ? {} : { id: dropped.id }) });
  }

  #remember(id: number, channel: string, at: number, kind: 'request' | 'message'): void {
    if (this.#ids.size >= MAX_IDS) this.#ids.delete(this.#ids.keys().next().value as number);
    this.#ids.set(id, { channel, at, kind });
  }

  #settle(id: number, kind: 'request', outcome: 'response' | 'error' | 'timeout' | 'cancelled', at: number, code?: string): void;
  #settle(id: number, kind: 'message', outcome: 'acked' | 'refused' | 'timeout', at: number, code?: string): void;
  #settle(id: number, kind: 'request' | 'message', outcome: string, at: number, code?: string): void {
    const sent = this.#ids.get(id);
    if (sent?.kind !== kind) return;
    this.#ids.delete(id);
    const base = { conn: this.conn, at, channel: sent.channel, id, latency: at - sent.at, ...(code === undefined ? {} : { code }) };
    if (kind === 'request') this.emit({ type: 'request', ...base, outcome: outcome as 'response' | 'error' | 'timeout' | 'cancelled' });
    else this.emit({ type: 'ack', ...base, outcome: outcome as 'acked' | 'refused' | 'timeout' });
  }
}

/**
 * Each frame's size on the wire: the whole message when it travelled alone;
 * when it shared a batch, its own envelope's bytes, read off the batch's text
 * in one pass (computed only while a debugger listens).
 */
function frameSizes(frames: readonly Frame[], message: unknown): number[] {
  if (frames.length === 1) return [byteLength(message)];
  const spans = typeof message === 'string' ? envelopeSizes(message) : undefined;
  if (spans?.length === frames.length) return spans;
  // An envelope that failed to decode is missing from `frames`: size each by encoding it.
  return frames.map((frame) => {
    try {
      return byteLength(encode(frame));
    } catch {
      return 0;
    }
  });
}

/** UTF-8 sizes of the top-level envelopes of a batch `[[…],[…]]`, or undefined when it is not one. @internal */
export function envelopeSizes(batch: string): number[] | undefined {
  if (batch.charCodeAt(0) !== 0x5b /* [ */) return undefined;
  const sizes: number[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 1; i < batch.length; i++) {
    const c = batch.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b /* { */) {
      if (depth === 0) start = i;
      depth++;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      if (depth === 0) return sizes; // the batch's own closing bracket
      depth--;
      if (depth === 0) sizes.push(utf8Length(batch, start, i + 1));
    }
  }
  return undefined;
}

/** Bytes on the wire. */
function byteLength(data: unknown): number {
  if (typeof data === 'string') return utf8Length(data);
  if (data instanceof Uint8Array || data instanceof ArrayBuffer) return data.byteLength;
  return 0;
}
