/**
 * The content script (ISOLATED world): a bridge only. Page messages that pass
 * the checks go to the background over a runtime port; actions from the
 * background go back into the page. It decides nothing else.
 *
 * ```
 *  page hook ──postMessage──▶ bridge ──port 'rxmux:content' (lazy, reconnecting)──▶ background
 *  page hook ◀──postMessage── bridge ◀──runtime.onMessage (tabs.sendMessage)──────── background
 * ```
 * The port opens with the first events, so a page with no rxmux connection
 * never wakes the service worker. Actions arrive as one-off messages rather
 * than on the port: after the worker restarted, the port is gone until the
 * page speaks again, and an action must still get through.
 * @packageDocumentation
 */
import { CONTENT_SOURCE, parsePageMessage, type ContentToPage } from '../messaging/page.js';
import { ReconnectingPort, type PortLike } from '../messaging/port.js';
import { CONTENT_PORT, parseBackgroundToContent, type ContentToBackground } from '../messaging/runtime.js';

/** The part of `window` the bridge uses (a fake in tests). */
export interface BridgeWindow {
  readonly location: { readonly origin: string; readonly pathname: string };
  postMessage(message: ContentToPage, targetOrigin: string): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  removeEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
}

/** What the bridge needs from the extension runtime. */
export interface BridgeRuntime {
  /** `runtime.connect({ name: CONTENT_PORT })`. */
  connect(name: string): PortLike;
  /** Subscribes to one-off messages from the background (`runtime.onMessage`); returns an unsubscribe. */
  onMessage(listener: (message: unknown) => void): () => void;
}

/** A running bridge. */
export interface Bridge {
  stop(): void;
}

/** Starts the bridge for `win`. `doc` identifies this document to the background (a new one means the tab navigated). */
export function startBridge(win: BridgeWindow, runtime: BridgeRuntime, doc: string = crypto.randomUUID()): Bridge {
  const toPage = (message: ContentToPage): void => win.postMessage(message, win.location.origin === 'null' ? '*' : win.location.origin);
  const port = new ReconnectingPort<never, ContentToBackground>({
    connect: () => runtime.connect(CONTENT_PORT),
    parse: () => undefined,
    onMessage: () => undefined,
    hello: () => [{ type: 'hello', doc, url: `${win.location.origin}${win.location.pathname}` }],
    reconnect: 'lazy',
    // The extension was reloaded or removed: this page's bridge is dead, stop listening to it.
    onClosed: () => stop(),
  });

  const onPageMessage = (event: MessageEvent): void => {
    if (event.source !== (win as unknown)) return;
    const message = parsePageMessage(event.data);
    if (message === undefined) return;
    // The hook started after us (or was reinstalled): tell it we are here.
    if (message.type === 'ready') toPage({ source: CONTENT_SOURCE, type: 'listen' });
    else if (message.events.length > 0) port.post({ type: 'events', events: message.events });
  };
  const offRuntime = runtime.onMessage((data) => {
    const message = parseBackgroundToContent(data);
    if (message !== undefined) toPage({ source: CONTENT_SOURCE, type: 'act', conn: message.conn, action: message.action });
  });

  win.addEventListener('message', onPageMessage);
  toPage({ source: CONTENT_SOURCE, type: 'listen' });

  function stop(): void {
    win.removeEventListener('message', onPageMessage);
    offRuntime();
    port.close();
  }
  return { stop };
}
