/**
 * Entry of the background service worker (`background.js`). Listeners are
 * added synchronously at the top level: an MV3 worker started by an event
 * only delivers it to listeners that exist by the end of the first turn.
 * @packageDocumentation
 */
import browser from 'webextension-polyfill';
import { CDP_METHODS } from '../decode/cdp.js';
import { Router, type DebuggeeLike, type DebuggerLike } from './router.js';

/** `chrome.debugger` with its events, as far as the capture uses it. */
interface DebuggerApi extends DebuggerLike {
  readonly onEvent: { addListener(listener: (source: DebuggeeLike, method: string, params?: object) => void): void };
  readonly onDetach: { addListener(listener: (source: DebuggeeLike, reason: string) => void): void };
}

// The polyfill has no metadata for `debugger` (it passes it through when present);
// Chrome's own promise-returning `chrome.debugger` is the fallback.
const debuggerApi = (Reflect.get(browser, 'debugger') ?? Reflect.get(Reflect.get(globalThis, 'chrome') ?? {}, 'debugger')) as DebuggerApi | undefined;

const onUpdated = (tabId: number, change: { status?: string }): void => {
  if (change.status === 'loading') void router.tabLoading(tabId);
};

const router = new Router({
  storage: browser.storage.session,
  sendToTab: (tabId, message) => browser.tabs.sendMessage(tabId, message, { frameId: 0 }),
  ...(debuggerApi === undefined ? {} : { debugger: debuggerApi }),
  // Hook traffic needs no navigation events (a new document says hello); a captured page may have no hook.
  onCapturing: (capturing) => (capturing ? browser.tabs.onUpdated.addListener(onUpdated) : browser.tabs.onUpdated.removeListener(onUpdated)),
});

const wanted = new Set(CDP_METHODS);
browser.runtime.onConnect.addListener((port) => router.connect(port));
browser.tabs.onRemoved.addListener((tabId) => void router.tabRemoved(tabId));
debuggerApi?.onEvent.addListener((source, method, params) => {
  if (source.tabId !== undefined && wanted.has(method)) router.debuggerEvent(source.tabId, method, params);
});
debuggerApi?.onDetach.addListener((source, reason) => {
  if (source.tabId !== undefined) void router.debuggerDetached(source.tabId, reason);
});
