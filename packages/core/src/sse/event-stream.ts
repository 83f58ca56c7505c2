import {
  BehaviorSubject,
  debounceTime,
  defer,
  distinctUntilChanged,
  EMPTY,
  filter,
  finalize,
  from,
  map,
  mergeMap,
  Observable,
  repeat,
  retry,
  share,
  Subject,
  switchMap,
  throwError,
  timer,
  asyncScheduler,
  type SchedulerLike,
} from 'rxjs';
import { ErrorCode, RxmuxError } from '../protocol/errors.js';
import type { JsonValue, Payload } from '../protocol/frames.js';

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
}

/** Defaults of {@link EventStreamOptions} (frozen). */
export const DEFAULT_EVENT_STREAM = Object.freeze({ debounce: 20, retryDelay: 1000, maxRetryDelay: 30_000 });

/** The server could not replay everything a channel missed: values between were lost. */
export interface StreamReset {
  readonly channel: string;
  /** The stream continues after this seq. */
  readonly seq: number;
  /** `'history'` (the server's history no longer reaches back) or `'epoch'` (it was reset, e.g. a restart). */
  readonly reason: string;
  /** The channel's history epoch now, when the server sent it. */
  readonly epoch: string | undefined;
}

/** Many channels over one EventSource (or one long-poll loop). */
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

type StreamItem =
  | { readonly kind: 'publication'; readonly channel: string; readonly data: Payload }
  | { readonly kind: 'reset'; readonly channel: string; readonly seq: number; readonly reason: string; readonly epoch: string | undefined }
  | { readonly kind: 'channel-error'; readonly channel: string; readonly code: string; readonly message: string };

interface WireEvent {
  readonly type?: string;
  readonly channel?: unknown;
  readonly seq?: unknown;
  readonly data?: JsonValue;
  readonly bytes?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
  readonly reason?: unknown;
  readonly epoch?: unknown;
}

const CLOSED = 2;

/** HTTP statuses that retrying cannot fix. */
const FATAL_STATUS: ReadonlySet<number> = new Set([400, 401, 403, 404]);

function base64Bytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Parses one SSE / poll event; malformed ones yield `undefined` and are skipped. */
function toItem(type: string, raw: WireEvent): StreamItem | undefined {
  if (typeof raw !== 'object' || raw === null || typeof raw.channel !== 'string') return undefined;
  const channel = raw.channel;
  if (type === 'publication') {
    if (typeof raw.bytes === 'string') return { kind: 'publication', channel, data: base64Bytes(raw.bytes) };
    return raw.data === undefined ? undefined : { kind: 'publication', channel, data: raw.data };
  }
  if (type === 'reset') {
    if (typeof raw.seq !== 'number') return undefined;
    const reason = typeof raw.reason === 'string' ? raw.reason : 'history';
    return { kind: 'reset', channel, seq: raw.seq, reason, epoch: typeof raw.epoch === 'string' ? raw.epoch : undefined };
  }
  if (type === 'channel-error') {
    return { kind: 'channel-error', channel, code: String(raw.code ?? ErrorCode.Remote), message: String(raw.message ?? 'refused') };
  }
  return undefined;
}

/** `ws(s)://host/rt` or `http(s)://host/rt` → `http(s)://host/rt/{endpoint}?channel=…&extra`. */
function endpointUrl(base: string, endpoint: 'sse' | 'poll', channels: readonly string[], extra: Record<string, string>): string {
  const url = new URL(base.replace(/^ws(s?):/i, 'http$1:'));
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${endpoint}`;
  url.search = '';
  for (const channel of channels) url.searchParams.append('channel', channel);
  for (const [key, value] of Object.entries(extra)) if (value !== '') url.searchParams.set(key, value);
  return url.toString();
}

/**
 * Creates an event stream against an rxmux server. Nothing connects until a
 * channel is subscribed; the last unsubscribe closes the EventSource.
 *
 * @param baseUrl the rxmux endpoint, e.g. `https://example.com/rt` (a `ws(s)://` URL works too)
 * @example
 * const stream = createEventStream('https://example.com/rt');
 * stream.events<Score>('match-score').subscribe((s) => render(s));
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

  /** Subscriber counts per channel; its key list is the stream's channel set. */
  const counts$ = new BehaviorSubject<ReadonlyMap<string, number>>(new Map());
  const resets$ = new Subject<StreamReset>();
  /** The last cursor the server gave us: carried across reopen so a channel-set change loses nothing. */
  let cursor = '';

  const adjust = (channel: string, delta: number): void => {
    const next = new Map(counts$.value);
    const count = (next.get(channel) ?? 0) + delta;
    if (count > 0) next.set(channel, count);
    else next.delete(channel);
    counts$.next(next);
  };

  const openSse = (channels: readonly string[]): Observable<StreamItem> =>
    new Observable<StreamItem>((subscriber) => {
      const Ctor = EventSourceCtor as EventSourceConstructor;
      const es = new Ctor(endpointUrl(baseUrl, 'sse', channels, { lastEventId: cursor }), { withCredentials });
      const remember = (event: SseMessage): void => {
        if (event.lastEventId !== '') cursor = event.lastEventId;
      };
      es.addEventListener('ready', remember);
      for (const type of ['publication', 'reset', 'channel-error']) {
        es.addEventListener(type, (event) => {
          let item: StreamItem | undefined;
          try {
            item = toItem(type, JSON.parse(event.data) as WireEvent);
          } catch {
            item = undefined; // a garbled event costs itself only
          }
          remember(event);
          if (item !== undefined) subscriber.next(item);
        });
      }
      es.addEventListener('error', (event) => {
        // While CONNECTING the EventSource retries by itself (with Last-Event-ID); CLOSED means it gave up.
        if (es.readyState !== CLOSED) return;
        const status = event.code;
        subscriber.error(
          new RxmuxError(status !== undefined && FATAL_STATUS.has(status) ? ErrorCode.Forbidden : ErrorCode.ConnectionLost, `event stream closed${status === undefined ? '' : ` (HTTP ${status})`}`),
        );
      });
      return () => es.close();
    });

  const pollOnce = (channels: readonly string[]): Observable<StreamItem> =>
    new Observable<StreamItem>((subscriber) => {
      const abort = new AbortController();
      const url = endpointUrl(baseUrl, 'poll', channels, { cursor });
      (fetchImpl as FetchLike)(url, { signal: abort.signal, credentials: withCredentials ? 'include' : 'same-origin' })
        .then(async (res) => {
          if (!res.ok) {
            throw new RxmuxError(FATAL_STATUS.has(res.status) ? ErrorCode.Forbidden : ErrorCode.ConnectionLost, `long-poll failed (HTTP ${res.status})`);
          }
          const answer = (await res.json()) as { cursor?: unknown; events?: unknown };
          if (typeof answer.cursor === 'string') cursor = answer.cursor;
          for (const raw of Array.isArray(answer.events) ? (answer.events as WireEvent[]) : []) {
            const item = toItem(String(raw?.type), raw);
            if (item !== undefined) subscriber.next(item);
          }
          subscriber.complete();
        })
        .catch((error: unknown) => {
          if (!abort.signal.aborted) subscriber.error(error);
        });
      return () => abort.abort();
    });

  const open = (channels: readonly string[]): Observable<StreamItem> =>
    (transport === 'sse' ? openSse(channels) : pollOnce(channels).pipe(repeat())).pipe(
      retry({
        resetOnSuccess: true,
        delay: (error: unknown, attempt) =>
          error instanceof RxmuxError && error.code === ErrorCode.Forbidden
            ? throwError(() => error)
            : timer(Math.min(maxRetryDelay, retryDelay * 2 ** (attempt - 1)), scheduler),
      }),
    );

  const items$ = counts$.pipe(
    map((counts) => [...counts.keys()].sort()),
    distinctUntilChanged((a, b) => a.length === b.length && a.every((c, i) => c === b[i])),
    debounceTime(debounce, scheduler),
    switchMap((channels) => (channels.length === 0 ? EMPTY : open(channels))),
    share(),
  );

  const perChannel = new Map<string, Observable<unknown>>();

  return {
    transport,
    resets$: resets$.asObservable(),
    events<T = Payload>(channel: string): Observable<T> {
      if (typeof channel !== 'string' || channel.length === 0) {
        throw new RxmuxError(ErrorCode.InvalidArgument, 'events(): channel must be a non-empty string');
      }
      let shared = perChannel.get(channel);
      if (shared === undefined) {
        shared = defer(() => {
          adjust(channel, +1);
          return items$.pipe(
            filter((item) => item.channel === channel),
            mergeMap((item) => {
              if (item.kind === 'publication') return from([item.data]);
              if (item.kind === 'reset') {
                resets$.next({ channel, seq: item.seq, reason: item.reason, epoch: item.epoch });
                return EMPTY;
              }
              return throwError(() => new RxmuxError(item.code, item.message));
            }),
            finalize(() => adjust(channel, -1)),
          );
        }).pipe(share());
        perChannel.set(channel, shared);
      }
      return shared as Observable<T>;
    },
  };
}
