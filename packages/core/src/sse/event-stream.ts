import {
  asyncScheduler,
  BehaviorSubject,
  debounceTime,
  defer,
  distinctUntilChanged,
  EMPTY,
  finalize,
  from,
  ignoreElements,
  map,
  Observable,
  of,
  repeat,
  retry,
  share,
  Subject,
  switchMap,
  tap,
  throwError,
  timer,
  type SchedulerLike,
  type Subscriber,
} from 'rxjs';
import { ErrorCode, RxmuxError } from '../protocol/errors.js';
import type { Payload } from '../protocol/frames.js';
import { parsePollAnswer, parseStreamEvent, streamUrl, type ResetReason, type SseEventName, type StreamItem } from '../protocol/sse.js';
import { utf8Length } from '../protocol/utf8.js';
import { linger } from '../operators/linger.js';

/** The part of `MessageEvent` the stream reads. */
interface SseMessage {
  readonly data: string;
  readonly lastEventId: string;
}

/** The part of the `EventSource` interface rxmux uses (browser global, the `eventsource` npm package, a fake). */
export interface EventSourceLike {
  readonly readyState: number;
  addEventListener(type: string, listener: (event: SseMessage & { readonly code?: number }) => void): void;
  close(): void;
}

/** An `EventSource` constructor. */
export type EventSourceConstructor = new (url: string, init?: { withCredentials?: boolean }) => EventSourceLike;

/** The part of `fetch` the long-poll fallback uses. */
export type FetchLike = (
  url: string,
  init: { signal: AbortSignal; credentials?: 'include' | 'same-origin'; headers?: Record<string, string> },
) => Promise<{ readonly ok: boolean; readonly status: number; json(): Promise<unknown> }>;

/** Options of {@link createEventStream}. */
export interface EventStreamOptions {
  /** EventSource implementation. Default `globalThis.EventSource`; when absent, long-poll is used. */
  readonly EventSource?: EventSourceConstructor;
  /** fetch implementation for long-poll. Default `globalThis.fetch`. */
  readonly fetch?: FetchLike;
  /** Use long-poll even where EventSource exists. Default false. */
  readonly forceLongPoll?: boolean;
  /** Send cookies cross-origin (EventSource `withCredentials`, fetch `credentials: 'include'`). Default false. */
  readonly withCredentials?: boolean;
  /** Scheduler for the debounce and retry timers (inject a `TestScheduler` in tests). */
  readonly scheduler?: SchedulerLike;
  /** Milliseconds the channel set must be stable before the stream reopens. Default 20. */
  readonly debounce?: number;
  /** First retry delay after the stream fails, in ms; doubles up to `maxRetryDelay`. Default 1000. */
  readonly retryDelay?: number;
  /** Upper bound of the retry delay, in ms. Default 30 000. */
  readonly maxRetryDelay?: number;
  /** How long a channel stays in the stream after its last subscriber left, in ms (as `channel()` lingers). Default 0. */
  readonly linger?: number;
  /**
   * Told what the stream does, as it happens: how the connection's debug tap
   * sees it. Called synchronously; must not throw (what it throws is ignored).
   * @internal
   */
  readonly observer?: EventStreamObserver;
  /**
   * Obtains a single-use ticket for each stream and first poll (`?ticket=`):
   * how a stream authenticates when cookies cannot (the connection asks its
   * WebSocket for one when it has a `token`). A poll answer carries the next.
   * @internal
   */
  readonly ticket?: () => Promise<string>;
}

/**
 * Where the stream stands: `'connecting'` (an EventSource or the first poll
 * of a channel set is on its way, or the EventSource reconnects by itself),
 * `'open'` (the server's `ready`, or a poll answered), `'retrying'` (it
 * failed; `retryIn` ms until the next try), `'closed'` (no channel needs it),
 * `'failed'` (refused for good: `code`).
 * @internal
 */
export type EventStreamState = 'connecting' | 'open' | 'retrying' | 'closed' | 'failed';

/** What {@link EventStreamOptions.observer} is told. @internal */
export interface EventStreamObserver {
  /**
   * Every event received (its name, its parsed JSON, the UTF-8 size of its
   * data, and the cursor after it), before it is routed.
   */
  event(transport: 'sse' | 'poll', name: SseEventName, payload: unknown, bytes: number, cursor: string): void;
  /**
   * A channel entered the stream (`'join'`, its first subscriber), was
   * confirmed by the server (`'joined'`: named by a `ready`, or answered by
   * a poll), or left (`'leave'`, after its linger).
   */
  channel(transport: 'sse' | 'poll', channel: string, action: 'join' | 'joined' | 'leave', subscribers: number): void;
  /** The stream's state changed (see {@link EventStreamState}). */
  state(transport: 'sse' | 'poll', state: EventStreamState, detail: { readonly channels: number; readonly retryIn?: number; readonly code?: string }): void;
}

/** Defaults of {@link EventStreamOptions} (frozen). @internal */
export const DEFAULT_EVENT_STREAM = Object.freeze({ debounce: 20, retryDelay: 1000, maxRetryDelay: 30_000 });

/** The server could not replay everything a channel missed: values between were lost. @internal */
export interface StreamReset {
  readonly channel: string;
  /** The stream continues after this seq. */
  readonly seq: number;
  /** `'history'` (the server's history no longer reaches back) or `'epoch'` (it was reset, e.g. a restart). */
  readonly reason: ResetReason;
  /** The channel's history epoch now, when the server sent it. */
  readonly epoch: string | undefined;
}

/** Many channels over one EventSource (or one long-poll loop). @internal */
export interface EventStream {
  /** `'sse'` or `'poll'`: what this stream rides. */
  readonly transport: 'sse' | 'poll';
  /**
   * A hot, ref-counted observable of one channel's publications. JSON data is
   * emitted as is, binary as `Uint8Array`. Errors (once) with an `RxmuxError`
   * when the server refuses the channel (`RXMUX_ERR_FORBIDDEN`, ...).
   */
  events<T = Payload>(channel: string): Observable<T>;
  /** Gap notices: emitted when the server's history could not cover a reconnect. */
  readonly resets$: Observable<StreamReset>;
}

const CLOSED = 2;

/** HTTP statuses that retrying cannot fix. */
const FATAL_STATUS: ReadonlySet<number> = new Set([400, 401, 403, 404]);

/**
 * Creates an event stream against an rxmux server. Nothing connects until a
 * channel is subscribed; the last unsubscribe closes the EventSource.
 *
 * @param baseUrl the rxmux endpoint, e.g. `https://example.com/rt` (a `ws(s)://` URL works too)
 * @example
 * const stream = createEventStream('https://example.com/rt');
 * stream.events<Score>('match-score').subscribe((s) => render(s));
 * @internal
 */
export function createEventStream(baseUrl: string, options: EventStreamOptions = {}): EventStream {
  const scheduler = options.scheduler ?? asyncScheduler;
  const EventSourceCtor = options.EventSource ?? (globalThis as { EventSource?: EventSourceConstructor }).EventSource;
  const fetchImpl = options.fetch ?? (globalThis as { fetch?: FetchLike }).fetch;
  const transport: 'sse' | 'poll' = options.forceLongPoll === true || EventSourceCtor === undefined ? 'poll' : 'sse';
  if (transport === 'poll' && fetchImpl === undefined) {
    throw new RxmuxError(ErrorCode.InvalidArgument, 'createEventStream: neither EventSource nor fetch is available');
  }
  const debounce = options.debounce ?? DEFAULT_EVENT_STREAM.debounce;
  const retryDelay = options.retryDelay ?? DEFAULT_EVENT_STREAM.retryDelay;
  const maxRetryDelay = options.maxRetryDelay ?? DEFAULT_EVENT_STREAM.maxRetryDelay;
  const withCredentials = options.withCredentials === true;
  const lingerMs = options.linger ?? 0;
  const observer = options.observer;
  /** Tells the observer, which must never break the stream. */
  const tell = (report: (o: EventStreamObserver) => void): void => {
    if (observer === undefined) return;
    try {
      report(observer);
    } catch {
      // a debugger's failure is its own
    }
  };
  const ticketOf = options.ticket;
  /** The ticket a poll answer carried, for the next poll (single use). */
  let nextTicket: string | undefined;
  /** Whether an HTTP status ends the stream for good: with tickets a 401 only means this one was spent (a retry takes a fresh one). */
  const fatal = (status: number | undefined): boolean => status !== undefined && FATAL_STATUS.has(status) && !(status === 401 && ticketOf !== undefined);
  /** A ticket for the next request: the one a poll answer carried, or a fresh one (none without a provider). */
  const ticket = (): Observable<Record<string, string>> => {
    if (ticketOf === undefined) return of({});
    const carried = nextTicket;
    nextTicket = undefined;
    return carried !== undefined ? of({ ticket: carried }) : defer(() => from(ticketOf())).pipe(map((fresh) => ({ ticket: fresh })));
  };

  /** Subscriber counts per channel; its key list is the stream's channel set. */
  const counts$ = new BehaviorSubject<ReadonlyMap<string, number>>(new Map());
  const resets$ = new Subject<StreamReset>();
  /** The last cursor the server gave us: carried across reopen so a channel-set change loses nothing. */
  let cursor = '';

  /** The channels the server confirmed in this stream, told once each. */
  const confirmed = new Set<string>();
  const adjust = (channel: string, delta: number): void => {
    const next = new Map(counts$.value);
    const count = (next.get(channel) ?? 0) + delta;
    if (count > 0) next.set(channel, count);
    else next.delete(channel);
    counts$.next(next);
    if (delta > 0 && count === 1) tell((o) => o.channel(transport, channel, 'join', count));
    else if (count <= 0) {
      confirmed.delete(channel);
      tell((o) => o.channel(transport, channel, 'leave', 0));
    }
  };
  /** Tells a new state; every state but `'open'` means the channels wait for the server again. */
  const enter = (state: EventStreamState, detail: { readonly channels: number; readonly retryIn?: number; readonly code?: string }): void => {
    if (state !== 'open') confirmed.clear();
    tell((o) => o.state(transport, state, detail));
  };
  const confirm = (channels: readonly string[]): void => {
    for (const channel of channels) {
      const count = counts$.value.get(channel);
      if (count === undefined || confirmed.has(channel)) continue;
      confirmed.add(channel);
      tell((o) => o.channel(transport, channel, 'joined', count));
    }
  };

  const openSse = (channels: readonly string[], auth: Record<string, string>): Observable<StreamItem> =>
    new Observable<StreamItem>((subscriber) => {
      const Ctor = EventSourceCtor as EventSourceConstructor;
      enter('connecting', { channels: channels.length });
      const es = new Ctor(streamUrl(baseUrl, 'sse', channels, { lastEventId: cursor, ...auth }), { withCredentials });
      const remember = (event: SseMessage): void => {
        if (event.lastEventId !== '') cursor = event.lastEventId;
      };
      for (const type of ['ready', 'publication', 'reset', 'channel-error'] as const) {
        es.addEventListener(type, (event) => {
          let payload: unknown;
          try {
            payload = JSON.parse(event.data);
          } catch {
            payload = undefined; // a garbled event costs itself only
          }
          remember(event);
          if (observer !== undefined) {
            tell((o) => o.event('sse', type, payload, utf8Length(event.data), cursor));
            if (type === 'ready') {
              enter('open', { channels: channels.length });
              confirm(readyChannels(payload, channels));
            }
          }
          const item = type === 'ready' ? undefined : parseStreamEvent(type, payload);
          if (item !== undefined) subscriber.next(item);
        });
      }
      es.addEventListener('error', (event) => {
        // While CONNECTING the EventSource retries by itself (with Last-Event-ID); CLOSED means it gave up.
        if (es.readyState !== CLOSED) {
          enter('connecting', { channels: channels.length });
          return;
        }
        const status = event.code;
        subscriber.error(
          new RxmuxError(fatal(status) ? ErrorCode.Forbidden : ErrorCode.ConnectionLost, `event stream closed${status === undefined ? '' : ` (HTTP ${status})`}`),
        );
      });
      return () => es.close();
    });

  /** One poll; `loop.answered` is false until a poll of this loop (since its last failure) was answered. */
  const pollOnce = (channels: readonly string[], auth: Record<string, string>, loop: { answered: boolean }): Observable<StreamItem> =>
    new Observable<StreamItem>((subscriber) => {
      const abort = new AbortController();
      const first = !loop.answered;
      if (first) enter('connecting', { channels: channels.length });
      const url = streamUrl(baseUrl, 'poll', channels, { cursor, ...auth });
      (fetchImpl as FetchLike)(url, { signal: abort.signal, credentials: withCredentials ? 'include' : 'same-origin' })
        .then(async (res) => {
          if (!res.ok) {
            throw new RxmuxError(fatal(res.status) ? ErrorCode.Forbidden : ErrorCode.ConnectionLost, `long-poll failed (HTTP ${res.status})`);
          }
          const body: unknown = await res.json();
          const answer = parsePollAnswer(body);
          if (answer.cursor !== undefined) cursor = answer.cursor;
          loop.answered = true;
          if (observer !== undefined) {
            if (first) enter('open', { channels: channels.length });
            confirm(channels);
            if (typeof body === 'object' && body !== null && Array.isArray((body as { events?: unknown }).events)) {
              for (const raw of (body as { events: unknown[] }).events) {
                const type = typeof raw === 'object' && raw !== null ? (raw as { type?: unknown }).type : undefined;
                if (type === 'publication' || type === 'reset' || type === 'channel-error') tell((o) => o.event('poll', type, raw, utf8Length(JSON.stringify(raw)), cursor));
              }
            }
          }
          nextTicket = answer.ticket;
          for (const item of answer.items) subscriber.next(item);
          subscriber.complete();
        })
        .catch((error: unknown) => {
          if (!abort.signal.aborted) subscriber.error(error);
        });
      return () => abort.abort();
    });

  const open = (channels: readonly string[]): Observable<StreamItem> => {
    const loop = { answered: false };
    return (
      transport === 'sse'
        ? ticket().pipe(switchMap((auth) => openSse(channels, auth)))
        : defer(() => ticket().pipe(switchMap((auth) => pollOnce(channels, auth, loop)))).pipe(repeat())
    ).pipe(
      retry({
        resetOnSuccess: true,
        delay: (error: unknown, attempt) => {
          loop.answered = false;
          if (error instanceof RxmuxError && error.code === ErrorCode.Forbidden) {
            enter('failed', { channels: channels.length, code: error.code });
            return throwError(() => error);
          }
          const retryIn = Math.min(maxRetryDelay, retryDelay * 2 ** (attempt - 1));
          const code = error instanceof RxmuxError ? error.code : undefined;
          enter('retrying', { channels: channels.length, retryIn, ...(code === undefined ? {} : { code }) });
          return timer(retryIn, scheduler);
        },
      }),
      finalize(() => {
        // A new channel set reopens at once: only a stream nobody needs any more is closed.
        if (counts$.value.size === 0) enter('closed', { channels: 0 });
      }),
    );
  };

  const items$ = counts$.pipe(
    map((counts) => [...counts.keys()].sort()),
    distinctUntilChanged((a, b) => a.length === b.length && a.every((c, i) => c === b[i])),
    debounceTime(debounce, scheduler),
    switchMap((channels) => (channels.length === 0 ? EMPTY : open(channels))),
  );

  /** The one inbound subscriber of each channel: an item is routed by a Map lookup, not filtered by every channel. */
  const routes = new Map<string, Subscriber<Payload>>();
  const route = (item: StreamItem): void => {
    const target = routes.get(item.channel);
    if (target === undefined) return; // left already: an event in flight
    if (item.kind === 'publication') target.next(item.data);
    else if (item.kind === 'reset') resets$.next({ channel: item.channel, seq: item.seq, reason: item.reason, epoch: item.epoch });
    else target.error(new RxmuxError(item.code, item.message));
  };
  /** Keeps the stream open while any channel is subscribed, routing as it goes; a stream failure fails every channel. */
  const pump$ = items$.pipe(tap(route), ignoreElements(), share());

  /** Each channel's shared stream, forgotten once its source ended (after the linger). */
  const streams = new Map<string, Observable<Payload>>();
  const source = (channel: string): Observable<Payload> =>
    new Observable<Payload>((subscriber) => {
      routes.set(channel, subscriber);
      adjust(channel, 1);
      const running = pump$.subscribe({ error: (error: unknown) => subscriber.error(error) });
      return () => {
        if (routes.get(channel) === subscriber) routes.delete(channel);
        adjust(channel, -1);
        running.unsubscribe();
      };
    });

  return {
    transport,
    resets$: resets$.asObservable(),
    events<T = Payload>(channel: string): Observable<T> {
      if (typeof channel !== 'string' || channel.length === 0) {
        throw new RxmuxError(ErrorCode.InvalidArgument, 'events(): channel must be a non-empty string');
      }
      return defer(() => {
        let stream = streams.get(channel);
        if (stream === undefined) {
          const created: Observable<Payload> = source(channel).pipe(
            finalize(() => {
              if (streams.get(channel) === created) streams.delete(channel);
            }),
            linger(lingerMs, scheduler),
          );
          streams.set(channel, (stream = created));
        }
        return stream as Observable<T>;
      });
    },
  };
}

/** The channels a `ready` event names (the server's own list), or those the stream asked for when it names none. */
function readyChannels(payload: unknown, asked: readonly string[]): readonly string[] {
  const named = typeof payload === 'object' && payload !== null ? (payload as { channels?: unknown }).channels : undefined;
  return Array.isArray(named) ? named.filter((c): c is string => typeof c === 'string') : asked;
}
