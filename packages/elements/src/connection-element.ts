import { connect, type Connection, type ConnectionStatus, type ConnectOptions } from '@rxmux/core';
import { asapScheduler, filter, switchMap, take, timer, type Observable, type Subscription } from 'rxjs';
import { ContextProviderEvent, ContextRequestEvent, isContextProvider, isContextRequest, rxmuxContext, type ContextCallback } from './context.js';
import { HTMLElementBase, reportError } from './dom.js';

type Provided = Connection | undefined;

/** One `subscribe: true` request: its consumer, and the one unsubscribe function it gets on every call. */
interface ContextSubscription {
  readonly consumer: EventTarget;
  readonly unsubscribe: () => void;
}

/** What the element connected with: a new URL or a new options object means a new connection. */
interface Owned {
  readonly conn: Connection;
  readonly url: string;
  readonly options: ConnectOptions;
}

const IDLE: readonly ConnectionStatus[] = ['closed', 'failed'];

/** Emits once the connection needs no socket any more: nothing subscribed, the core's linger over. */
const idle = (conn: Connection): Observable<ConnectionStatus> =>
  conn.status$.pipe(
    filter((status) => IDLE.includes(status)),
    take(1),
  );

/**
 * `<rxmux-connection url="/rt">`: provides one rxmux {@link Connection} to
 * every element below it, through the Context Protocol (`rxmuxContext`).
 *
 * - It answers `context-request` events for `rxmuxContext` from its
 *   descendants, across shadow roots: one-shot requests get the current
 *   connection; `subscribe: true` requests are called again, with the same
 *   unsubscribe function, whenever the connection changes (a new `url` or
 *   `options`). The nearest provider wins.
 * - It owns a connection made with `connect(url, options)` while it is in
 *   the document. A relative `url` resolves against the document
 *   (`/rt` on `https://example.com` is `wss://example.com/rt`). Connections
 *   are pooled by the core: two providers with the same URL and options
 *   share one WebSocket.
 * - When it leaves the document it releases the connection once the socket
 *   is idle (its channels left with their elements, after the core's
 *   linger), so moving it in the DOM costs nothing; back in the document it
 *   connects again.
 * - `connection` (a property) provides a connection the application made
 *   instead (like `srcObject` over `src`): the element never closes that one.
 *
 * It renders its children as they are (`display: contents`).
 *
 * @example
 * <rxmux-connection url="/rt">
 *   <heart-rate player="player-1"></heart-rate>
 * </rxmux-connection>
 * <script type="module">
 *   import '@rxmux/elements/define';
 *   document.querySelector('rxmux-connection').options = { token: () => auth.token() };
 * </script>
 */
export class RxmuxConnectionElement extends HTMLElementBase {
  /** The attributes the element reacts to: `url`. */
  static readonly observedAttributes: readonly string[] = ['url'];

  #options: ConnectOptions = {};
  #adopted: Connection | undefined;
  #owned: Owned | undefined;
  /** What the subscribers were last given, to call them only on a change. */
  #provided: Provided;
  /** Between connectedCallback and disconnectedCallback. */
  #live = false;
  /** Releases the owned connection after the element left the document; cancelled if it comes back. */
  #release: Subscription | undefined;
  readonly #subscriptions = new Map<ContextCallback<Provided>, ContextSubscription>();

  constructor() {
    super();
    // Layout-neutral: the children render as if the element were not there.
    if (this.shadowRoot === null) this.attachShadow({ mode: 'open' }).innerHTML = '<style>:host{display:contents}</style><slot></slot>';
    this.addEventListener('context-request', this.#onRequest);
    this.addEventListener('context-provider', this.#onProvider);
    // Properties set on the element before its class was defined shadow the accessors: move them over.
    for (const key of ['url', 'options', 'connection'] as const) {
      if (!Object.prototype.hasOwnProperty.call(this, key)) continue;
      const value: unknown = this[key];
      Reflect.deleteProperty(this, key);
      Reflect.set(this, key, value);
    }
  }

  /**
   * The WebSocket URL (the `url` attribute): absolute (`wss://…`), or
   * relative to the document (`/rt`; `http(s)` becomes `ws(s)`).
   */
  get url(): string {
    return this.getAttribute('url') ?? '';
  }

  set url(value: string) {
    this.setAttribute('url', value);
  }

  /**
   * The options of `connect(url, options)`: what an attribute cannot carry
   * (a `WebSocket` constructor, a `token` provider, reconnect timing). A new
   * object means a new connection; set it before adding the element, or
   * expect the subscribers to move to the new connection.
   */
  get options(): ConnectOptions {
    return this.#options;
  }

  set options(value: ConnectOptions | null | undefined) {
    this.#options = value ?? {};
    this.#update();
  }

  /**
   * The connection provided now, or `undefined`. Setting it provides a
   * connection the application made (and keeps owning: the element never
   * closes it) instead of the one from `url`; `undefined` goes back to `url`.
   */
  get connection(): Connection | undefined {
    return this.#adopted ?? this.#owned?.conn;
  }

  set connection(conn: Connection | null | undefined) {
    this.#adopted = conn ?? undefined;
    this.#update();
  }

  /** Connects (or keeps the connection it had: it was only moved) and announces itself to consumers waiting for a provider. */
  connectedCallback(): void {
    this.#start();
    this.dispatchEvent(new ContextProviderEvent(rxmuxContext));
  }

  /** Releases the owned connection once it is idle, unless the element is back in the document by then. */
  disconnectedCallback(): void {
    this.#live = false;
    const owned = this.#owned;
    if (owned === undefined) return;
    // A move (disconnect, then connect in the same task) is over before the microtask.
    this.#release = timer(0, asapScheduler)
      .pipe(switchMap(() => idle(owned.conn)))
      .subscribe(() => {
        this.#release = undefined;
        if (this.#owned !== owned) return;
        this.#owned = undefined;
        owned.conn.close();
        this.#notify();
      });
  }

  /** `url` changed: a new connection for the subscribers. */
  attributeChangedCallback(_name: string, previous: string | null, value: string | null): void {
    if (previous !== value) this.#update();
  }

  #start(): void {
    this.#live = true;
    this.#release?.unsubscribe();
    this.#release = undefined;
    this.#update();
  }

  /** Brings the owned connection in line with `url`, `options` and `connection`, then tells the subscribers. */
  #update(): void {
    if (!this.#live) return;
    const url = this.#adopted === undefined ? resolveUrl(this.url, this.ownerDocument.baseURI) : '';
    const owned = this.#owned;
    if (owned?.url !== url || owned.options !== this.#options) {
      this.#owned = url === '' ? undefined : { conn: connect(url, this.#options), url, options: this.#options };
      // The previous connection goes once its channels have moved over and the socket is idle.
      if (owned !== undefined) idle(owned.conn).subscribe(() => owned.conn.close());
    }
    this.#notify();
  }

  #notify(): void {
    const conn = this.connection;
    if (conn === this.#provided) return;
    this.#provided = conn;
    for (const [callback, subscription] of [...this.#subscriptions]) {
      if (!this.#subscriptions.has(callback)) continue; // unsubscribed by an earlier callback
      if (!isConnectedNode(subscription.consumer)) {
        // The protocol's consumers unsubscribe when they leave the document; this guards against those that do not.
        this.#subscriptions.delete(callback);
        continue;
      }
      try {
        callback(conn, subscription.unsubscribe);
      } catch (error: unknown) {
        // One consumer's failure must not keep the others on the old connection.
        reportError(error);
      }
    }
  }

  readonly #onRequest = (event: Event): void => {
    if (!isContextRequest(event) || event.context !== rxmuxContext) return;
    const consumer = event.composedPath()[0] ?? event.target;
    if (consumer === this || consumer === null) return; // a provider does not answer itself
    event.stopImmediatePropagation();
    // A descendant may ask before our connectedCallback ran (some DOMs call children first): we are in the document, so connect.
    if (!this.#live && this.isConnected) this.#start();
    const callback = event.callback as ContextCallback<Provided>;
    if (event.subscribe !== true) {
      callback(this.connection);
      return;
    }
    // The same callback asking again (re-sent, or its element moved) keeps its unsubscribe function: Lit's consumer compares it.
    const unsubscribe = this.#subscriptions.get(callback)?.unsubscribe ?? ((): void => void this.#subscriptions.delete(callback));
    this.#subscriptions.set(callback, { consumer, unsubscribe });
    callback(this.connection, unsubscribe);
  };

  /** A provider appeared below: our subscribers under it ask again, and the nearest provider answers them. */
  readonly #onProvider = (event: Event): void => {
    if (!isContextProvider(event) || event.context !== rxmuxContext || event.composedPath()[0] === this) return;
    for (const [callback, { consumer }] of [...this.#subscriptions]) {
      if (isConnectedNode(consumer)) consumer.dispatchEvent(new ContextRequestEvent(rxmuxContext, callback, true));
      else this.#subscriptions.delete(callback);
    }
  };
}

function isConnectedNode(target: EventTarget): boolean {
  return !('isConnected' in target) || target.isConnected === true;
}

/** `url` against the document: relative paths resolve, `http(s)` becomes `ws(s)`. Unparseable stays as written, for `connect()` to judge. @internal */
export function resolveUrl(url: string, base: string): string {
  if (url === '') return '';
  let resolved: URL;
  try {
    resolved = new URL(url, base);
  } catch {
    return url;
  }
  if (resolved.protocol === 'http:') resolved.protocol = 'ws:';
  else if (resolved.protocol === 'https:') resolved.protocol = 'wss:';
  return resolved.href;
}
