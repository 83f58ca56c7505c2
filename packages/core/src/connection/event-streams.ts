import { filter, map, takeUntil, type Observable } from 'rxjs';
import type { GapNotice } from '../channel/positions.js';
import { StreamTap } from '../debug/stream-tap.js';
import type { Tap } from '../debug/tap.js';
import { createEventStream, type EventStream, type EventStreamOptions } from '../sse/index.js';

/** What the event streams take from their connection. @internal */
export interface EventStreamsHost {
  /** The connection's URL: the stream endpoints are `{url}/sse` and `{url}/poll`. */
  readonly url: string;
  readonly options: EventStreamOptions;
  /** Asks the server for a single-use ticket (when the connection has a token); undefined: cookies only. */
  readonly ticket: (() => Promise<string>) | undefined;
  /** The connection's debug tap, told the stream's events, channels and states. */
  readonly tap: Tap | undefined;
  /** Emits when the connection closes for good: every stream ends. */
  readonly closing$: Observable<void>;
}

/**
 * A connection's `events()` channels: its one event stream (an EventSource,
 * or a long-poll loop), created on first use, its tap wiring, its tickets,
 * and the binary / JSON split per channel.
 * @internal
 */
export class EventStreams {
  #stream: EventStream | undefined;

  constructor(private readonly host: EventStreamsHost) {}

  /** Channel `id`'s JSON publications, or its binary ones with `binary`. */
  events<T>(id: string, binary: boolean): Observable<T | Uint8Array> {
    return this.#open()
      .events<T | Uint8Array>(id)
      .pipe(
        filter((value) => value instanceof Uint8Array === binary),
        takeUntil(this.host.closing$),
      );
  }

  /** Gap notices: what the server could not replay after the stream reconnected. */
  get gaps$(): Observable<GapNotice> {
    return this.#open().resets$.pipe(
      map((reset): GapNotice => ({ channel: reset.channel, reason: reset.reason, since: undefined, seq: reset.seq, epoch: reset.epoch })),
      takeUntil(this.host.closing$),
    );
  }

  #open(): EventStream {
    if (this.#stream !== undefined) return this.#stream;
    const { ticket } = this.host;
    const tap = this.host.tap === undefined ? undefined : new StreamTap(this.host.tap);
    this.#stream = createEventStream(this.host.url, {
      ...this.host.options,
      // With a token, the streams authenticate with single-use tickets the WebSocket asks for (no token in a URL).
      ...(ticket === undefined ? {} : { ticket }),
      ...(tap === undefined
        ? {}
        : {
            observer: {
              event: (transport, event, payload, bytes, cursor) => tap.event(transport, event, payload, bytes, cursor),
              channel: (transport, channel, action, subscribers) => tap.channel(transport, channel, action, subscribers),
              state: (transport, state, detail) => tap.state(transport, state, detail),
            },
          }),
    });
    return this.#stream;
  }
}
