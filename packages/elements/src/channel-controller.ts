import type { Channel, ChannelState, Connection, GapNotice, JsonValue } from '@rxmux/core';
import { BehaviorSubject, catchError, combineLatest, distinctUntilChanged, map, merge, of, switchMap, type Observable, type Subscription } from 'rxjs';
import { connectionFor } from './connection-controller.js';
import type { ControllerHost, ReactiveController } from './controller.js';

/**
 * Options of {@link ChannelController}.
 *
 * @example
 * const options: ChannelControllerOptions<Beat> = {
 *   onValue: (beat) => sparkline.push(beat.bpm),
 *   onGap: (gap) => console.info(`missed beats up to ${gap.seq}`),
 * };
 */
export interface ChannelControllerOptions<T> {
  /** Use this connection instead of asking the nearest `<rxmux-connection>` (tests, elements outside a provider). */
  readonly connection?: Connection;
  /** Called with each message of the channel (after `value` is set). */
  readonly onValue?: (value: T) => void;
  /** Called when the join state changes (after `state` is set). */
  readonly onState?: (state: ChannelState) => void;
  /** Called with each gap notice: messages of the channel lost for good (after `lastGap` is set). */
  readonly onGap?: (gap: GapNotice) => void;
  /**
   * Called when the channel fails (after `error` is set): the server refused
   * it, reconnecting gave up, or the id is invalid. It is not joined again
   * until the id or the connection changes, or the host comes back.
   */
  readonly onError?: (error: unknown) => void;
}

type Update<T, Out> =
  | { readonly kind: 'channel'; readonly conn: Connection | undefined; readonly id: string; readonly channel: Channel<T, Out> | undefined }
  | { readonly kind: 'value'; readonly value: T }
  | { readonly kind: 'state'; readonly state: ChannelState }
  | { readonly kind: 'gap'; readonly gap: GapNotice }
  | { readonly kind: 'error'; readonly error: unknown };

/**
 * A reactive controller that keeps its host subscribed to one rxmux channel
 * while the host is in the document: it obtains the connection from the
 * nearest `<rxmux-connection>` (Context Protocol; or the `connection`
 * option), joins the channel in `hostConnected()` and leaves it in
 * `hostDisconnected()`. `value` (the latest message), `state` (the join
 * state) and `lastGap` change with the channel, each change asking the host
 * to update. `channel` is the {@link Channel} itself, for `send()` and
 * `request()`. `T` is what the channel's messages are, `Out` what this host
 * sends on it (the same unless said otherwise), as in `conn.channel<In, Out>()`.
 *
 * The id may be a function: it is read again before every host update
 * (Lit's `hostUpdate`), so `() => this.player` follows a property; a new id
 * leaves the old channel and joins the new one.
 *
 * Works in any host with `addController()` and `requestUpdate()`: a
 * `LitElement` as it is, or a {@link ControllerHostElement}.
 *
 * @example
 * class HeartRate extends LitElement {
 *   static properties = { player: {} };
 *   player = 'player-1';
 *   readonly beats = new ChannelController<{ bpm: number }>(this, () => this.player, { onGap: () => this.gaps++ });
 *   render() { return html`${this.beats.value?.bpm ?? '–'} bpm · ${this.beats.state}`; }
 * }
 */
export class ChannelController<T = JsonValue, Out = T> implements ReactiveController {
  readonly #host: ControllerHost;
  readonly #options: ChannelControllerOptions<T>;
  readonly #readId: () => string;
  readonly #id$: BehaviorSubject<string>;
  #subscription: Subscription | undefined;
  #connection: Connection | undefined;
  #channel: Channel<T, Out> | undefined;
  /** The channel `value` came from: kept while the host is away and comes back to the same one. */
  #source: { readonly conn: Connection; readonly id: string } | undefined;
  #value: T | undefined;
  #state: ChannelState = 'idle';
  #lastGap: GapNotice | undefined;
  #error: unknown;

  constructor(host: ControllerHost, id: string | (() => string), options: ChannelControllerOptions<T> = {}) {
    this.#host = host;
    this.#options = options;
    this.#readId = typeof id === 'function' ? id : () => id;
    this.#id$ = new BehaviorSubject(typeof id === 'function' ? '' : id);
    host.addController(this);
  }

  /** The channel id (as last read, when it is a function). */
  get id(): string {
    return this.#id$.value;
  }

  /** The host's connection: `undefined` while it is not in the document or no provider has one for it. */
  get connection(): Connection | undefined {
    return this.#connection;
  }

  /** The channel while the host is in the document with a connection: `send()`, `sendBinary()`, `request()`. */
  get channel(): Channel<T, Out> | undefined {
    return this.#channel;
  }

  /** The latest message (kept while the host is away; cleared when the channel or the connection changes). */
  get value(): T | undefined {
    return this.#value;
  }

  /** The join state on the server: `'idle'`, `'joining'` (also again after each reconnect) or `'joined'`. */
  get state(): ChannelState {
    return this.#state;
  }

  /** The latest gap notice: messages of this channel lost for good. */
  get lastGap(): GapNotice | undefined {
    return this.#lastGap;
  }

  /** Why the channel failed, or `undefined`. */
  get error(): unknown {
    return this.#error;
  }

  /** Reads the id, asks for the connection and joins the channel. */
  hostConnected(): void {
    if (this.#subscription !== undefined) return;
    this.#id$.next(this.#readId());
    this.#subscription = combineLatest([connectionFor(this.#host, this.#options.connection), this.#id$.pipe(distinctUntilChanged())])
      .pipe(switchMap(([conn, id]) => this.#follow(conn, id)))
      .subscribe((update) => this.#apply(update));
  }

  /** Leaves the channel (after the connection's linger) and lets go of the connection. */
  hostDisconnected(): void {
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
    this.#connection = undefined;
    this.#channel = undefined;
    this.#setState('idle');
  }

  /** Reads the id again: a new one switches channels. */
  hostUpdate(): void {
    this.#id$.next(this.#readId());
  }

  #follow(conn: Connection | undefined, id: string): Observable<Update<T, Out>> {
    if (conn === undefined) return of({ kind: 'channel', conn, id, channel: undefined });
    let channel: Channel<T, Out>;
    try {
      channel = conn.channel<T, Out>(id);
    } catch (error: unknown) {
      return of<Update<T, Out>[]>({ kind: 'channel', conn, id, channel: undefined }, { kind: 'error', error });
    }
    return merge(
      of<Update<T, Out>>({ kind: 'channel', conn, id, channel }),
      channel.state$.pipe(map((state): Update<T, Out> => ({ kind: 'state', state }))),
      channel.gaps$.pipe(map((gap): Update<T, Out> => ({ kind: 'gap', gap }))),
      channel.pipe(map((value): Update<T, Out> => ({ kind: 'value', value }))),
    ).pipe(catchError((error: unknown) => of<Update<T, Out>>({ kind: 'error', error })));
  }

  #apply(update: Update<T, Out>): void {
    const options = this.#options;
    switch (update.kind) {
      case 'channel': {
        const { conn, id } = update;
        if (conn !== undefined && (conn !== this.#source?.conn || id !== this.#source.id)) {
          this.#source = { conn, id };
          this.#value = undefined;
          this.#lastGap = undefined;
        }
        this.#error = undefined;
        this.#connection = conn;
        this.#channel = update.channel;
        this.#host.requestUpdate();
        this.#setState('idle');
        return;
      }
      case 'value':
        this.#value = update.value;
        this.#host.requestUpdate();
        options.onValue?.(update.value);
        return;
      case 'state':
        this.#setState(update.state);
        return;
      case 'gap':
        this.#lastGap = update.gap;
        this.#host.requestUpdate();
        options.onGap?.(update.gap);
        return;
      case 'error':
        this.#error = update.error;
        this.#host.requestUpdate();
        this.#setState('idle');
        options.onError?.(update.error);
        return;
    }
  }

  #setState(state: ChannelState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#host.requestUpdate();
    this.#options.onState?.(state);
  }
}
