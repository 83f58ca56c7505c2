/**
 * The Context Protocol of the Web Components Community Group, as far as
 * rxmux needs it: the `context-request` event a consumer dispatches, the
 * `context-provider` event a provider announces itself with, and the
 * `rxmuxContext` key. The events are structural, so providers and consumers
 * of any implementation (`@lit/context`, Stencil, hand-written elements) meet:
 *
 * ```
 *  consumer element ── context-request { context, callback, subscribe } ──▶ (bubbles, composed)
 *                                                                              │
 *  nearest provider ◀──────────────────────────────────────────────────────────┘
 *     stopImmediatePropagation(); callback(connection, unsubscribe?)
 *     ... later, subscribe: true only: callback(newConnection, sameUnsubscribe)
 * ```
 *
 * Spec: https://github.com/webcomponents-cg/community-protocols/blob/main/proposals/context.md
 * @module
 */
import type { Connection } from '@rxmux/core';
import { Observable } from 'rxjs';

/**
 * A context key branded with the type of the value it provides (the
 * protocol's `Context<KeyType, ValueType>`; the same shape as `@lit/context`'s).
 *
 * @example
 * const themeContext = Symbol('theme') as Context<symbol, 'light' | 'dark'>;
 */
export type Context<KeyType, ValueType> = KeyType & { __context__: ValueType };

/**
 * Any context key.
 *
 * @example
 * function isRxmux(key: UnknownContext): boolean { return key === rxmuxContext; }
 */
export type UnknownContext = Context<unknown, unknown>;

/**
 * The value type a context key provides.
 *
 * @example
 * type Provided = ContextType<typeof rxmuxContext>; // Connection | undefined
 */
export type ContextType<T extends UnknownContext> = T extends { __context__: infer V } ? V : never;

/**
 * What a consumer hands to providers: called with the value, and, for a
 * `subscribe: true` request, again whenever it changes. `unsubscribe` is
 * passed with subscriptions only, and is the same function on every call of
 * one subscription (a different one means a different provider took over).
 *
 * @example
 * const callback: ContextCallback<Connection | undefined> = (conn, unsubscribe) => { this.conn = conn; this.stop = unsubscribe; };
 */
export type ContextCallback<ValueType> = (value: ValueType, unsubscribe?: () => void) => void;

/**
 * The protocol's `context-request` event: bubbling and composed, so it
 * reaches providers across shadow roots. The nearest provider of `context`
 * stops it and calls `callback`.
 *
 * @example
 * host.dispatchEvent(new ContextRequestEvent(rxmuxContext, (conn) => (this.conn = conn)));
 */
export class ContextRequestEvent<C extends UnknownContext> extends Event {
  constructor(
    /** The requested context key (compared with `===`). */
    readonly context: C,
    /** Receives the value; for subscriptions, again on every change, with the unsubscribe function. */
    readonly callback: ContextCallback<ContextType<C>>,
    /** Whether the consumer wants every later value too (and will call `unsubscribe`). */
    readonly subscribe?: boolean,
  ) {
    super('context-request', { bubbles: true, composed: true });
  }
}

/**
 * `context-provider`: a provider announces that it has joined the document,
 * so requests nobody answered yet, and subscriptions an outer provider holds
 * for consumers now below it, are dispatched again (the convention
 * `@lit/context`'s `ContextProvider` and `ContextRoot` follow).
 *
 * @example
 * this.dispatchEvent(new ContextProviderEvent(rxmuxContext));
 */
export class ContextProviderEvent<C extends UnknownContext> extends Event {
  constructor(
    /** The context the new provider provides. */
    readonly context: C,
  ) {
    super('context-provider', { bubbles: true, composed: true });
  }
}

/**
 * The rxmux connection context: what `<rxmux-connection>` provides to its
 * descendants. A unique symbol, so only providers of this package answer it.
 * The value is `undefined` while the provider has no connection (no `url`
 * yet, or it left the document).
 *
 * @example
 * // Lit
 * @consume({ context: rxmuxContext, subscribe: true }) @state() conn?: Connection;
 * // any element
 * this.dispatchEvent(new ContextRequestEvent(rxmuxContext, (conn) => (this.conn = conn)));
 */
export const rxmuxContext = Symbol('rxmux.connection') as Context<symbol, Connection | undefined>;

/** The request-shaped events of any implementation: the protocol is structural, not a class. @internal */
export function isContextRequest(event: Event): event is ContextRequestEvent<UnknownContext> {
  return 'context' in event && 'callback' in event && typeof event.callback === 'function';
}

/** The `context-provider` events of any implementation. @internal */
export function isContextProvider(event: Event): event is ContextProviderEvent<UnknownContext> {
  return 'context' in event;
}

/**
 * Asks the nearest `<rxmux-connection>` above `element` (across shadow
 * roots) for its connection, once: returns it, or `undefined` when no
 * provider answered (none above, or it has no connection). Providers answer
 * synchronously, so call it from `connectedCallback`, when the element is in
 * the document. For later changes, use {@link observeConnection} or a
 * controller.
 *
 * @example
 * class PlayerScore extends HTMLElement {
 *   #sub?: Subscription;
 *   connectedCallback() {
 *     this.#sub = requestConnection(this)?.channel<number>('score').subscribe((n) => (this.textContent = String(n)));
 *   }
 *   disconnectedCallback() { this.#sub?.unsubscribe(); }
 * }
 */
export function requestConnection(element: Element): Connection | undefined {
  let answer: Connection | undefined;
  let answered = false;
  element.dispatchEvent(
    new ContextRequestEvent(rxmuxContext, (conn) => {
      // A one-shot request: keep the first answer, whatever a provider does later.
      if (answered) return;
      answered = true;
      answer = conn;
    }),
  );
  return answer;
}

/**
 * The connection provided to `element`, as an Observable: subscribing sends
 * a `subscribe: true` context request, every connection the provider hands
 * out is emitted (a new one when its `url` changes, `undefined` when it has
 * none), and unsubscribing ends the context subscription. When no provider
 * answers at first (the element was upgraded before its provider), the
 * request is sent again when a provider announces itself with
 * `context-provider`. Emits nothing until a provider answers.
 *
 * @example
 * class ConnectionStatus extends HTMLElement {
 *   #sub?: Subscription;
 *   connectedCallback() {
 *     this.#sub = observeConnection(this)
 *       .pipe(switchMap((conn) => conn?.status$ ?? of('closed')))
 *       .subscribe((status) => (this.textContent = status));
 *   }
 *   disconnectedCallback() { this.#sub?.unsubscribe(); }
 * }
 */
export function observeConnection(element: Element): Observable<Connection | undefined> {
  return new Observable<Connection | undefined>((subscriber) => {
    let unsubscribe: (() => void) | undefined;
    const root = element.ownerDocument;
    const request = (): void => void element.dispatchEvent(new ContextRequestEvent(rxmuxContext, callback, true));
    const onProvider = (event: Event): void => {
      if (isContextProvider(event) && event.context === rxmuxContext) request();
    };
    function callback(conn: Connection | undefined, next?: () => void): void {
      if (subscriber.closed) {
        next?.(); // a provider calling after the end: tell it to stop
        return;
      }
      root.removeEventListener('context-provider', onProvider);
      if (next !== unsubscribe) {
        // Another provider took over (one was inserted nearer): leave the previous one.
        const previous = unsubscribe;
        unsubscribe = next;
        previous?.();
      }
      subscriber.next(conn);
    }
    root.addEventListener('context-provider', onProvider);
    request();
    return () => {
      root.removeEventListener('context-provider', onProvider);
      const last = unsubscribe;
      unsubscribe = undefined;
      last?.();
    };
  });
}
