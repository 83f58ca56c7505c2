import type { SseEventName } from '../protocol/sse.js';
import { base64ToBytes, cursorEntry } from '../protocol/sse.js';
import type { DebugStreamEvent } from './events.js';
import { BINARY_HEAD_BYTES, hexHead } from './frames.js';
import type { Tap } from './tap.js';

/**
 * The debug tap's part for the event stream (`events()`, `@rxmux/core/events`):
 * its events, channels and state, told to the connection's {@link Tap}. Made
 * by the event-stream wiring, so a page without `events()` bundles none of
 * it. Channels and state are kept whether or not anybody listens (they change
 * rarely), so a debugger that attaches late starts from where the stream
 * stands (the tap asks {@link StreamTap.snapshot}).
 * @internal
 */
export class StreamTap {
  readonly #channels = new Map<string, { subscribers: number; confirmed: boolean; transport: 'sse' | 'poll' }>();
  #state: Omit<DebugStreamEvent, 'conn' | 'at'> | undefined;

  constructor(private readonly tap: Tap) {
    tap.streams = () => ({
      state: this.#state === undefined || this.#state.state === 'closed' ? undefined : { ...this.#state, conn: tap.id, at: Date.now() },
      channels: [...this.#channels].map(([channel, { transport, subscribers, confirmed }]) => [channel, transport, subscribers, confirmed] as const),
    });
  }

  /**
   * An SSE or long-poll event (`payload` is its parsed JSON, `cursor` the
   * stream's cursor after it: where a publication's epoch comes from).
   */
  event(transport: 'sse' | 'poll', name: SseEventName, payload: unknown, bytes: number, cursor: string): void {
    if (!this.tap.active) return;
    const record = typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {};
    const channel = typeof record.channel === 'string' ? record.channel : undefined;
    const seq = typeof record.seq === 'number' ? record.seq : undefined;
    const epoch = typeof record.epoch === 'string' ? record.epoch : channel === undefined ? undefined : cursorEntry(cursor, channel)?.epoch;
    const code = typeof record.code === 'string' ? record.code : typeof record.reason === 'string' ? record.reason : undefined;
    const bytesField = typeof record.bytes === 'string' ? { binary: base64Summary(record.bytes) } : {};
    this.tap.emit({
      type: 'frame',
      conn: this.tap.id,
      at: Date.now(),
      dir: 'in',
      transport,
      frame: name,
      bytes,
      ...(channel === undefined ? {} : { channel }),
      ...(seq === undefined ? {} : { seq }),
      ...(epoch === undefined ? {} : { epoch }),
      ...(code === undefined ? {} : { code }),
      ...(name === 'publication' && 'data' in record ? { data: record.data as never } : bytesField),
    });
  }

  /** A channel of the event stream joined, was confirmed or left: kept always, reported while a debugger listens. */
  channel(transport: 'sse' | 'poll', channel: string, action: 'join' | 'joined' | 'leave', subscribers: number): void {
    if (action === 'leave') this.#channels.delete(channel);
    else {
      const known = this.#channels.get(channel);
      if (known === undefined) this.#channels.set(channel, { subscribers, confirmed: action === 'joined', transport });
      else Object.assign(known, { subscribers, ...(action === 'joined' ? { confirmed: true } : {}) });
    }
    if (this.tap.active) this.tap.channel(channel, action, subscribers, transport);
  }

  /** The event stream changed state: kept always, reported while a debugger listens. */
  state(transport: 'sse' | 'poll', state: DebugStreamEvent['state'], detail: { readonly channels: number; readonly retryIn?: number; readonly code?: string }): void {
    this.#state = {
      type: 'stream',
      transport,
      state,
      channels: detail.channels,
      ...(detail.retryIn === undefined ? {} : { retryIn: detail.retryIn }),
      ...(detail.code === undefined ? {} : { code: detail.code }),
    };
    if (state !== 'open') for (const known of this.#channels.values()) known.confirmed = false;
    if (this.tap.active) this.tap.emit({ ...this.#state, conn: this.tap.id, at: Date.now() });
  }
}

/** The length and first bytes of base64 data (SSE and long-poll carry binary publications so). */
function base64Summary(text: string): { readonly length: number; readonly head: string } {
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  let head = '';
  try {
    head = hexHead(base64ToBytes(text.slice(0, 4 * Math.ceil(BINARY_HEAD_BYTES / 3))));
  } catch {
    // not base64: the length is all we can tell
  }
  return { length: Math.floor((text.length * 3) / 4) - padding, head };
}
