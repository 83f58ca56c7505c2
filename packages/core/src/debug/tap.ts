import { decode, encode } from '../protocol/codec.js';
import type { Frame } from '../protocol/frames.js';
import type { ConnectionStatus, StatusTransition } from '../connection/status.js';
import {
  DEBUG_PROTOCOL_VERSION,
  DEVTOOLS_HOOK_KEY,
  type DebugAction,
  type DebugEvent,
  type DebugTap,
  type DebugTransport,
  type DevtoolsHook,
} from './events.js';
import { utf8Length } from '../protocol/utf8.js';
import { frameEvent, stripQuery } from './frames.js';

/** What the tap reads from its connection when a debugger starts listening, and what runs its actions. @internal */
export interface TapHost {
  status(): ConnectionStatus;
  /** Joined channels: their local subscriber counts, and whether the server confirmed them. */
  channels(): Iterable<readonly [channel: string, subscribers: number, confirmed: boolean]>;
  /** Channels whose delivery a debugger paused. */
  paused(): Iterable<string>;
  /** Runs a debugger action (only called when actions are allowed). */
  act(action: DebugAction): void;
}

/**
 * What a late debugger must learn of the connection's event stream (kept by
 * `StreamTap`, with `events()`): its state event, and its channels as
 * `[channel, transport, subscribers, confirmed]`. @internal
 */
export interface StreamSnapshot {
  readonly state: DebugEvent | undefined;
  readonly channels: Iterable<readonly [channel: string, transport: DebugTransport, subscribers: number, confirmed: boolean]>;
}

/** Most ids remembered for naming the channel of a reply and timing it. */
const MAX_IDS = 4096;

let taps = 0;

/**
 * A connection's debug tap. Every hook point in the connection reads
 * {@link Tap.active} first, so a tap nobody listens to costs one property
 * read per frame; everything else (decoding what was written, naming
 * channels, timing replies) happens only while a debugger listens.
 *
 * ```
 *  Link.write ─▶ out() ─┐
 *  socket msg ─▶ in() ──┼─▶ DebugEvent ─▶ listeners (the page hook, an app's logger)
 *  status, channels, requests, acks, gaps, drops, errors, SSE ─┘
 * ```
 * @internal
 */
export class Tap implements DebugTap {
  readonly version = DEBUG_PROTOCOL_VERSION;
  readonly id: string;
  readonly url: string;
  /** True while somebody listens. */
  active = false;
  readonly #listeners = new Set<(event: DebugEvent) => void>();
  /** Recent request and acked-message ids: their channel and when they left. */
  readonly #ids = new Map<number, { readonly channel: string; readonly at: number; readonly kind: 'request' | 'message' }>();
  /** Where the event stream stands, when `events()` made one (its `StreamTap` tells). */
  streams: (() => StreamSnapshot) | undefined;
  #unregister: (() => void) | undefined;

  constructor(
    url: string,
    readonly actions: boolean,
    private readonly host: TapHost,
  ) {
    this.id = `rxmux-${++taps}`;
    this.url = stripQuery(url);
  }

  /** Registers with the page's DevTools hook, when one is installed. */
  register(): void {
    const hook = (globalThis as { [DEVTOOLS_HOOK_KEY]?: DevtoolsHook })[DEVTOOLS_HOOK_KEY];
    if (typeof hook?.register !== 'function') return;
    try {
      const unregister = hook.register(this);
      if (typeof unregister === 'function') this.#unregister = unregister;
    } catch {
      // A broken debugger must not break the app.
    }
  }

  listen(listener: (event: DebugEvent) => void): () => void {
    const now = Date.now();
    const conn = this.id;
    const send = (event: DebugEvent): void => {
      try {
        listener(event);
      } catch {
        // a listener's failure is its own
      }
    };
    send({ type: 'connection', conn, at: now, url: this.url, actions: this.actions });
    const status = this.host.status();
    if (status !== 'closed') send({ type: 'status', conn, at: now, from: 'closed', to: status });
    const joined: { channel: string; transport: DebugTransport; subscribers: number }[] = [];
    for (const [channel, subscribers, confirmed] of this.host.channels()) {
      send({ type: 'channel', conn, at: now, channel, transport: 'ws', action: 'join', subscribers });
      if (confirmed) joined.push({ channel, transport: 'ws', subscribers });
    }
    const streams = this.streams?.();
    if (streams?.state !== undefined) send({ ...streams.state, conn, at: now });
    for (const [channel, transport, subscribers, confirmed] of streams?.channels ?? []) {
      send({ type: 'channel', conn, at: now, channel, transport, action: 'join', subscribers });
      if (confirmed) joined.push({ channel, transport, subscribers });
    }
    for (const { channel, transport, subscribers } of joined) send({ type: 'channel', conn, at: now, channel, transport, action: 'joined', subscribers });
    const counts = new Map<string, number>();
    for (const [channel, subscribers] of this.host.channels()) counts.set(channel, subscribers);
    for (const channel of this.host.paused()) send({ type: 'channel', conn, at: now, channel, transport: 'ws', action: 'paused', subscribers: counts.get(channel) ?? 0 });
    this.#listeners.add(send);
    this.active = true;
    return () => {
      this.#listeners.delete(send);
      this.active = this.#listeners.size > 0;
    };
  }

  act(action: DebugAction): void {
    if (!this.actions) {
      this.emit({ type: 'error', conn: this.id, at: Date.now(), code: 'RXMUX_ERR_INVALID_ARGUMENT', message: `DevTools action ${action.type} refused: the connection was created without devtools: { actions: true }` });
      return;
    }
    this.host.act(action);
  }

  // ---- hook points: callers check `active` first ------------------------------------

  /** A frame written on the socket (text envelope or batch, or binary). */
  out(wire: string | Uint8Array): void {
    const at = Date.now();
    const { frames } = decode(wire, { maxFrameBytes: Number.POSITIVE_INFINITY, maxBatch: Number.POSITIVE_INFINITY });
    const sizes = frameSizes(frames, wire);
    for (const [i, frame] of frames.entries()) {
      if (frame.type === 'request') this.#remember(frame.id, frame.channel, at, 'request');
      else if (frame.type === 'message' && frame.id !== undefined) this.#remember(frame.id, frame.channel, at, 'message');
      this.emit(frameEvent(this.id, 'out', at, frame, sizes[i] ?? 0, 'ws', (id) => this.#ids.get(id)?.channel));
      if (frame.type === 'cancel') this.#settle(frame.id, 'request', 'cancelled');
    }
  }

  /** A socket message and the frames it decoded to. */
  in(raw: unknown, frames: readonly Frame[]): void {
    const at = Date.now();
    const sizes = frameSizes(frames, raw);
    for (const [i, frame] of frames.entries()) {
      this.emit(frameEvent(this.id, 'in', at, frame, sizes[i] ?? 0, 'ws', (id) => this.#ids.get(id)?.channel));
      if (frame.type === 'response') this.#settle(frame.id, 'request', 'response');
      else if (frame.type === 'request-error') this.#settle(frame.id, 'request', 'error', frame.code);
      else if (frame.type === 'ack') this.#settle(frame.id, 'message', 'acked');
      else if (frame.type === 'error' && frame.id !== undefined) this.#settle(frame.id, 'message', 'refused', frame.code);
    }
  }

  /** A status transition (and, on `'open'`, whether the session was resumed). */
  transition(t: StatusTransition, resumed: boolean | undefined): void {
    this.emit({
      type: 'status',
      conn: this.id,
      at: Date.now(),
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
  channel(channel: string, action: 'join' | 'joined' | 'leave' | 'paused' | 'resumed', subscribers: number, transport: DebugTransport = 'ws'): void {
    this.emit({ type: 'channel', conn: this.id, at: Date.now(), channel, transport, action, subscribers });
  }

  /** A request timed out locally (its cancel follows). */
  timedOut(id: number): void {
    this.#settle(id, 'request', 'timeout');
  }

  /** An acknowledged send gave up waiting. */
  ackTimedOut(id: number): void {
    this.#settle(id, 'message', 'timeout');
  }

  gap(notice: { readonly channel: string; readonly reason: string; readonly since: number | undefined; readonly seq: number; readonly epoch: string | undefined }, transport: DebugTransport): void {
    this.emit({
      type: 'gap',
      conn: this.id,
      at: Date.now(),
      channel: notice.channel,
      transport,
      reason: notice.reason,
      seq: notice.seq,
      ...(notice.since === undefined ? {} : { since: notice.since }),
      ...(notice.epoch === undefined ? {} : { epoch: notice.epoch }),
    });
  }

  drop(dropped: { readonly channel: string; readonly reason: string; readonly wire: string | Uint8Array; readonly id?: number }): void {
    this.emit({ type: 'drop', conn: this.id, at: Date.now(), channel: dropped.channel, reason: dropped.reason, bytes: byteLength(dropped.wire), ...(dropped.id === undefined ? {} : { id: dropped.id }) });
  }

  error(error: { readonly code: string; readonly message: string; readonly channel?: string | undefined }): void {
    this.emit({ type: 'error', conn: this.id, at: Date.now(), code: error.code, message: error.message, ...(error.channel === undefined ? {} : { channel: error.channel }) });
  }

  /** The connection closed for good: the last event, then the hook forgets the tap. */
  dispose(): void {
    this.emit({ type: 'disposed', conn: this.id, at: Date.now() });
    this.#listeners.clear();
    this.active = false;
    try {
      this.#unregister?.();
    } catch {
      // as in register()
    }
  }

  /** Tells every listener (callers check `active` first, or know the event is rare). */
  emit(event: DebugEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  #remember(id: number, channel: string, at: number, kind: 'request' | 'message'): void {
    if (this.#ids.size >= MAX_IDS) this.#ids.delete(this.#ids.keys().next().value as number);
    this.#ids.set(id, { channel, at, kind });
  }

  #settle(id: number, kind: 'request', outcome: 'response' | 'error' | 'timeout' | 'cancelled', code?: string): void;
  #settle(id: number, kind: 'message', outcome: 'acked' | 'refused' | 'timeout', code?: string): void;
  #settle(id: number, kind: 'request' | 'message', outcome: string, code?: string): void {
    const sent = this.#ids.get(id);
    if (sent?.kind !== kind) return;
    this.#ids.delete(id);
    const base = { conn: this.id, at: Date.now(), channel: sent.channel, id, latency: Date.now() - sent.at, ...(code === undefined ? {} : { code }) };
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
