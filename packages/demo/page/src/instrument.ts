/**
 * Counts the page's real connections by wrapping the `WebSocket` and
 * `EventSource` constructors before anything uses them (import this module
 * first). It also decodes what travels over them to count messages per
 * channel, so the panel shows what the wire carries, whichever component
 * caused it. Nothing here changes behaviour: the wrappers only observe.
 */
import { decode } from '@rxmux/core/protocol';
import { BehaviorSubject, type Observable } from 'rxjs';

/** Messages of one channel seen on the wire. */
export interface ChannelTraffic {
  readonly in: number;
  readonly out: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly via: 'ws' | 'sse';
}

/** Live and total counts of one kind of connection. */
export interface ConnectionCount {
  readonly live: number;
  readonly created: number;
}

/** Everything the connection panel shows. */
export interface WireStats {
  readonly webSockets: ConnectionCount;
  readonly eventSources: ConnectionCount;
  readonly channels: ReadonlyMap<string, ChannelTraffic>;
}

const stats$ = new BehaviorSubject<WireStats>({
  webSockets: { live: 0, created: 0 },
  eventSources: { live: 0, created: 0 },
  channels: new Map(),
});

/** The page's connection counts and per-channel traffic (hot, replays the current value). */
export const wireStats$: Observable<WireStats> = stats$.asObservable();

const update = (change: (s: WireStats) => WireStats): void => stats$.next(change(stats$.value));
const bump = (count: ConnectionCount, live: number, created: number): ConnectionCount => ({ live: count.live + live, created: count.created + created });

function traffic(channel: string, via: 'ws' | 'sse', direction: 'in' | 'out', bytes: number): void {
  update((s) => {
    const channels = new Map(s.channels);
    const t = channels.get(channel) ?? { in: 0, out: 0, bytesIn: 0, bytesOut: 0, via };
    channels.set(
      channel,
      direction === 'in' ? { ...t, in: t.in + 1, bytesIn: t.bytesIn + bytes } : { ...t, out: t.out + 1, bytesOut: t.bytesOut + bytes },
    );
    return { ...s, channels };
  });
}

function sizeOf(data: unknown): number {
  if (typeof data === 'string') return data.length;
  if (data instanceof ArrayBuffer) return data.byteLength;
  if (ArrayBuffer.isView(data)) return data.byteLength;
  return 0;
}

/** Counts application messages (client `message`, server `publication`) by channel; control frames are not counted. */
function countFrames(data: unknown, direction: 'in' | 'out'): void {
  const { frames } = decode(data);
  const bytes = sizeOf(data) / Math.max(1, frames.length);
  for (const frame of frames) {
    if ((direction === 'in' && frame.type === 'publication') || (direction === 'out' && frame.type === 'message')) {
      traffic(frame.channel, 'ws', direction, bytes);
    }
  }
}

// The DOM types declare both globals; a page may still lack one (the library falls back to long-poll without EventSource).
const NativeWebSocket = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
if (NativeWebSocket !== undefined) {
  class CountingWebSocket extends NativeWebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      update((s) => ({ ...s, webSockets: bump(s.webSockets, 1, 1) }));
      this.addEventListener('close', () => update((s) => ({ ...s, webSockets: bump(s.webSockets, -1, 0) })), { once: true });
      this.addEventListener('message', (event: MessageEvent) => countFrames(event.data, 'in'));
    }

    override send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
      countFrames(data, 'out');
      super.send(data);
    }
  }
  globalThis.WebSocket = CountingWebSocket;
}

const NativeEventSource = (globalThis as { EventSource?: typeof EventSource }).EventSource;
if (NativeEventSource !== undefined) {
  class CountingEventSource extends NativeEventSource {
    #live = true;

    constructor(url: string | URL, init?: EventSourceInit) {
      super(url, init);
      update((s) => ({ ...s, eventSources: bump(s.eventSources, 1, 1) }));
      this.addEventListener('publication', (event: MessageEvent<string>) => {
        try {
          const { channel } = JSON.parse(event.data) as { channel?: unknown };
          if (typeof channel === 'string') traffic(channel, 'sse', 'in', event.data.length);
        } catch {
          // not ours to judge: the library reports malformed events
        }
      });
      // CLOSED after an error: the browser gave up and will not reconnect by itself.
      this.addEventListener('error', () => {
        if (this.readyState === this.CLOSED) this.#release();
      });
    }

    override close(): void {
      super.close();
      this.#release();
    }

    #release(): void {
      if (!this.#live) return;
      this.#live = false;
      update((s) => ({ ...s, eventSources: bump(s.eventSources, -1, 0) }));
    }
  }
  globalThis.EventSource = CountingEventSource;
}
