import type { Connection } from '@rxmux/core';
import { catchError, concat, defer, distinctUntilChanged, EMPTY, map, of, switchMap, type Observable, type Subscription } from 'rxjs';
import { observeConnection } from './context.js';
import type { ControllerHost, ReactiveController } from './controller.js';

/** Where a controller's connection comes from: the one it was given, else the nearest provider's. @internal */
export function connectionFor(host: Element, explicit: Connection | undefined): Observable<Connection | undefined> {
  return (explicit === undefined ? observeConnection(host) : of(explicit)).pipe(distinctUntilChanged());
}

/**
 * Options of {@link ConnectionController}.
 *
 * @example
 * const options: ConnectionControllerOptions<Score> = {
 *   observe: (conn) => events<Score>(conn, 'match-score'), // import { events } from '@rxmux/core/events'
 *   onError: (error) => console.warn('score stream failed', error),
 * };
 */
export interface ConnectionControllerOptions<V> {
  /** Use this connection instead of asking the nearest `<rxmux-connection>` (tests, elements outside a provider). */
  readonly connection?: Connection;
  /**
   * What to observe while the host is in the document and has a connection:
   * subscribed with each connection the host obtains, unsubscribed when the
   * host leaves or the connection changes. Its values become `value`.
   */
  readonly observe?: (connection: Connection) => Observable<V>;
  /** Called with each value of `observe` (after `value` is set). */
  readonly onValue?: (value: V) => void;
  /** Called when `observe`'s Observable fails (after `error` is set); it is not resubscribed until the connection changes or the host comes back. */
  readonly onError?: (error: unknown) => void;
  /** Called when the host obtains a connection, a different one, or loses it (`undefined`: it left the document). */
  readonly onConnection?: (connection: Connection | undefined) => void;
}

type Update<V> =
  | { readonly kind: 'connection'; readonly conn: Connection | undefined }
  | { readonly kind: 'value'; readonly value: V }
  | { readonly kind: 'error'; readonly error: unknown };

/**
 * A reactive controller that gives its host the connection of the nearest
 * `<rxmux-connection>` (through the Context Protocol, following changes)
 * while the host is in the document, and optionally keeps an Observable
 * derived from it subscribed for as long: `value` holds its latest value and
 * the host is asked to update on every change.
 *
 * Works in any host with `addController()` and `requestUpdate()`: a
 * `LitElement` as it is, or a {@link ControllerHostElement}.
 *
 * @example
 * class MatchScore extends LitElement {
 *   // import { events } from '@rxmux/core/events';
 *   readonly #score = new ConnectionController(this, { observe: (conn) => events<Score>(conn, 'match-score') });
 *   render() { return html`${this.#score.value?.home ?? '–'} : ${this.#score.value?.away ?? '–'}`; }
 * }
 */
export class ConnectionController<V = never> implements ReactiveController {
  readonly #host: ControllerHost;
  readonly #options: ConnectionControllerOptions<V>;
  #subscription: Subscription | undefined;
  #connection: Connection | undefined;
  /** The connection `value` came from: a value is kept while the host is away and comes back to the same one. */
  #source: Connection | undefined;
  #value: V | undefined;
  #error: unknown;

  constructor(host: ControllerHost, options: ConnectionControllerOptions<V> = {}) {
    this.#host = host;
    this.#options = options;
    host.addController(this);
  }

  /** The host's connection: `undefined` while it is not in the document or no provider has one for it. */
  get connection(): Connection | undefined {
    return this.#connection;
  }

  /** The latest value of `observe` (kept while the host is away; cleared when the connection changes). */
  get value(): V | undefined {
    return this.#value;
  }

  /** Why `observe`'s Observable failed, or `undefined`. */
  get error(): unknown {
    return this.#error;
  }

  /** Asks for the connection (and subscribes `observe`). */
  hostConnected(): void {
    if (this.#subscription !== undefined) return;
    const { observe } = this.#options;
    this.#subscription = connectionFor(this.#host, this.#options.connection)
      .pipe(
        switchMap((conn) =>
          concat(
            of<Update<V>>({ kind: 'connection', conn }),
            conn === undefined || observe === undefined
              ? EMPTY
              : defer(() => observe(conn)).pipe(
                  map((value): Update<V> => ({ kind: 'value', value })),
                  catchError((error: unknown) => of<Update<V>>({ kind: 'error', error })),
                ),
          ),
        ),
      )
      .subscribe((update) => this.#apply(update));
  }

  /** Unsubscribes `observe` and lets go of the connection. */
  hostDisconnected(): void {
    this.#subscription?.unsubscribe();
    this.#subscription = undefined;
    if (this.#connection === undefined) return;
    this.#connection = undefined;
    this.#options.onConnection?.(undefined);
  }

  #apply(update: Update<V>): void {
    switch (update.kind) {
      case 'connection':
        if (update.conn !== this.#source && update.conn !== undefined) {
          this.#source = update.conn;
          this.#value = undefined;
          this.#error = undefined;
        }
        this.#connection = update.conn;
        this.#host.requestUpdate();
        this.#options.onConnection?.(update.conn);
        return;
      case 'value':
        this.#value = update.value;
        this.#host.requestUpdate();
        this.#options.onValue?.(update.value);
        return;
      case 'error':
        this.#error = update.error;
        this.#host.requestUpdate();
        this.#options.onError?.(update.error);
        return;
    }
  }
}
