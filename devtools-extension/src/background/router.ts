/**
 * The background's logic, free of extension globals (the entry point wires
 * it to `browser.*`): routes by tab, keeps each tab's buffer, and runs the
 * debugger capture.
 *
 * ```
 *  content ports (by sender tab) ──events──▶ TabBuffer(tab) ──▶ every panel port subscribed to the tab
 *  chrome.debugger events (by tab) ──CdpDecoder──┘
 *  panel 'act' ──tabs.sendMessage(tab)──▶ content script ──▶ page hook ──▶ tap.act
 * ```
 * A worker that Chrome stopped starts cold: each tab's buffer is read back
 * from `storage.session` on first use, and panels reconnect with the epoch
 * and last event number they hold to get only what they miss.
 * @packageDocumentation
 */
import type { DebugEvent } from '@rxmux/core/debug';
import { CdpDecoder } from '../decode/cdp.js';
import type { PortLike } from '../messaging/port.js';
import {
  CONTENT_PORT,
  PANEL_PORT,
  parseContentToBackground,
  parsePanelToBackground,
  type BackgroundToContent,
  type BackgroundToPanel,
  type PanelSubscribeMessage,
  type TabState,
} from '../messaging/runtime.js';
import { DEFAULT_TAB_CAPACITY, TabBuffer, type StorageAreaLike } from './tab-buffer.js';

/** A debuggee, as `chrome.debugger` names it. */
export interface DebuggeeLike {
  readonly tabId?: number;
}

/** The part of `chrome.debugger` the capture uses (promise flavour, MV3). */
export interface DebuggerLike {
  attach(target: DebuggeeLike, requiredVersion: string): Promise<void>;
  detach(target: DebuggeeLike): Promise<void>;
  sendCommand(target: DebuggeeLike, method: string, params?: object): Promise<unknown>;
}

/** What the router needs from the extension. */
export interface RouterDeps {
  /** `storage.session`: in memory, cleared with the browser session, kept across worker restarts. */
  readonly storage: StorageAreaLike;
  /** `tabs.sendMessage(tabId, message, { frameId: 0 })`. */
  readonly sendToTab: (tabId: number, message: BackgroundToContent) => Promise<unknown>;
  /** `chrome.debugger`, when the browser has it. */
  readonly debugger?: DebuggerLike;
  /** Delay that gathers appends into one storage write (default 250 ms). */
  readonly flushDelay?: number;
  /** Events kept per tab (default {@link DEFAULT_TAB_CAPACITY}). */
  readonly capacity?: number;
  /**
   * Told when the first debugger capture starts and when the last one ends,
   * so the entry point listens to navigations only meanwhile (a listener on
   * `tabs.onUpdated` would wake the worker on every page load in the browser).
   */
  readonly onCapturing?: (capturing: boolean) => void;
}

/** CDP version asked for on attach. */
const CDP_VERSION = '1.3';

/** The background's router; one per worker lifetime. */
export class Router {
  readonly #deps: RouterDeps;
  readonly #tabs = new Map<number, Promise<TabBuffer>>();
  readonly #panels = new Map<number, Set<PortLike>>();
  readonly #bridges = new Map<number, PortLike>();
  readonly #decoders = new Map<number, CdpDecoder>();
  readonly #captureErrors = new Map<number, string>();
  #capturing = false;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(deps: RouterDeps) {
    this.#deps = deps;
  }

  /** A port opened (`runtime.onConnect`): a content script's or a panel's, by name. */
  connect(port: PortLike): void {
    if (port.name === CONTENT_PORT) this.#connectContent(port);
    else if (port.name === PANEL_PORT) this.#connectPanel(port);
    else port.disconnect();
  }

  /** The tab closed: forget it, stored buffer included. */
  async tabRemoved(tabId: number): Promise<void> {
    const pending = this.#tabs.get(tabId);
    this.#tabs.delete(tabId);
    this.#decoders.delete(tabId);
    this.#captureChanged();
    this.#captureErrors.delete(tabId);
    this.#bridges.delete(tabId);
    const buffer = await (pending ?? TabBuffer.load(this.#deps.storage, tabId));
    buffer.takeWrites();
    await this.#flushing;
    await this.#deps.storage.remove(buffer.keys());
  }

  /**
   * The tab started loading (`tabs.onUpdated` status `'loading'`). Hook traffic
   * needs no help (a new document says hello with a new id), but a page under
   * debugger capture may have no content port at all, so its capture restarts here.
   */
  async tabLoading(tabId: number): Promise<void> {
    const buffer = await this.#tab(tabId);
    if (!buffer.meta.capture || buffer.meta.next === 0) return;
    buffer.reset({ doc: undefined });
    this.#afterReset(tabId, buffer);
    // The new document's sockets may have been decoded before this notice arrived: name them again.
    const known = this.#decoders.get(tabId)?.replay(Date.now()) ?? [];
    if (known.length > 0) await this.#append(tabId, known);
  }

  /** A `chrome.debugger.onEvent` for a tab. */
  debuggerEvent(tabId: number, method: string, params: unknown): void {
    let decoder = this.#decoders.get(tabId);
    if (decoder === undefined) {
      // Still attached after a worker restart: go on with a fresh decoder.
      decoder = new CdpDecoder();
      this.#decoders.set(tabId, decoder);
      this.#captureChanged();
    }
    const events = decoder.push(method, params);
    if (events.length > 0) void this.#append(tabId, events);
  }

  /** `chrome.debugger.onDetach`: the user closed the infobar, or the tab went away. */
  async debuggerDetached(tabId: number, reason: string): Promise<void> {
    this.#decoders.delete(tabId);
    this.#captureChanged();
    const buffer = await this.#tab(tabId);
    if (reason !== 'target_closed') this.#captureErrors.set(tabId, `detached: ${reason}`);
    buffer.update({ capture: false });
    this.#scheduleFlush();
    this.#broadcast(tabId, { type: 'state', state: this.#state(tabId, buffer) });
  }

  /** Writes what is pending to storage now (also what the timer does). */
  async flush(): Promise<void> {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const set: Record<string, unknown> = {};
    const remove: string[] = [];
    for (const pending of this.#tabs.values()) {
      const buffer = await pending;
      if (!buffer.dirty) continue;
      const writes = buffer.takeWrites();
      Object.assign(set, writes.set);
      remove.push(...writes.remove);
    }
    const previous = this.#flushing;
    this.#flushing = (async () => {
      await previous;
      if (Object.keys(set).length > 0) await this.#deps.storage.set(set);
      if (remove.length > 0) await this.#deps.storage.remove(remove);
    })().catch((err: unknown) => {
      // Persistence is best effort (a full quota, say): the live capture goes on from memory.
      console.warn('[rxmux devtools] could not persist the capture:', err);
    });
    await this.#flushing;
  }

  /** Tells the entry point whether any tab is being captured, on change. */
  #captureChanged(): void {
    const capturing = this.#decoders.size > 0;
    if (capturing === this.#capturing) return;
    this.#capturing = capturing;
    this.#deps.onCapturing?.(capturing);
  }

  #tab(tabId: number): Promise<TabBuffer> {
    let pending = this.#tabs.get(tabId);
    if (pending === undefined) {
      pending = TabBuffer.load(this.#deps.storage, tabId, this.#deps.capacity ?? DEFAULT_TAB_CAPACITY).catch(() => TabBuffer.empty(tabId, this.#deps.capacity));
      this.#tabs.set(tabId, pending);
    }
    return pending;
  }

  #state(tabId: number, buffer: TabBuffer): TabState {
    const error = this.#captureErrors.get(tabId);
    return {
      ...(buffer.meta.url === undefined ? {} : { url: buffer.meta.url }),
      bridge: this.#bridges.has(tabId),
      capture: buffer.meta.capture ? 'on' : error === undefined ? 'off' : 'error',
      ...(error === undefined ? {} : { captureError: error }),
    };
  }

  #broadcast(tabId: number, message: BackgroundToPanel): void {
    for (const port of this.#panels.get(tabId) ?? []) {
      try {
        port.postMessage(message);
      } catch {
        this.#panels.get(tabId)?.delete(port);
      }
    }
  }

  #afterReset(tabId: number, buffer: TabBuffer): void {
    this.#scheduleFlush();
    this.#broadcast(tabId, { type: 'events', epoch: buffer.meta.epoch, first: 0, events: [], reset: true });
    this.#broadcast(tabId, { type: 'state', state: this.#state(tabId, buffer) });
  }

  async #append(tabId: number, events: readonly DebugEvent[]): Promise<void> {
    const buffer = await this.#tab(tabId);
    const first = buffer.append(events);
    this.#scheduleFlush();
    this.#broadcast(tabId, { type: 'events', epoch: buffer.meta.epoch, first, events, reset: false });
  }

  #scheduleFlush(): void {
    if (this.#flushTimer !== undefined) return;
    this.#flushTimer = setTimeout(() => void this.flush(), this.#deps.flushDelay ?? 250);
  }

  #connectContent(port: PortLike): void {
    const tabId = port.sender?.tab?.id;
    // Top frame only: the hook's connection ids are unique per document, not per tab.
    if (tabId === undefined || (port.sender?.frameId ?? 0) !== 0) {
      port.disconnect();
      return;
    }
    this.#bridges.set(tabId, port);
    let portDoc: string | undefined;
    port.onMessage.addListener((data) => {
      const message = parseContentToBackground(data);
      if (message === undefined) return;
      if (message.type === 'events') {
        void this.#append(tabId, message.events);
        return;
      }
      portDoc = message.doc;
      void this.#tab(tabId).then((buffer) => {
        const { doc, url } = buffer.meta;
        if (doc !== undefined && doc !== message.doc) {
          buffer.reset({ doc: message.doc, url: message.url });
          this.#afterReset(tabId, buffer);
        } else if (doc !== message.doc || url !== message.url) {
          buffer.update({ doc: message.doc, url: message.url });
          this.#scheduleFlush();
          this.#broadcast(tabId, { type: 'state', state: this.#state(tabId, buffer) });
        }
      });
    });
    port.onDisconnect.addListener(() => {
      if (this.#bridges.get(tabId) === port) this.#bridges.delete(tabId);
      // Only the document going away disconnects a content port (a stopped worker takes its
      // ports with it, unseen): the page navigated or closed, so its capture ends, as the
      // Network panel's does. The next document's hello may already have come: then keep it.
      void this.#tab(tabId).then((buffer) => {
        if (portDoc !== undefined && buffer.meta.doc === portDoc) {
          buffer.reset({ doc: undefined, url: undefined });
          this.#afterReset(tabId, buffer);
        } else {
          this.#broadcast(tabId, { type: 'state', state: this.#state(tabId, buffer) });
        }
      });
    });
  }

  #connectPanel(port: PortLike): void {
    let tabId: number | undefined;
    port.onMessage.addListener((data) => {
      const message = parsePanelToBackground(data);
      if (message === undefined) return;
      if (message.type === 'subscribe') {
        if (tabId !== undefined) this.#panels.get(tabId)?.delete(port);
        tabId = message.tabId;
        void this.#subscribe(port, message);
        return;
      }
      if (tabId === undefined) return; // nothing before subscribe
      const tab = tabId;
      switch (message.type) {
        case 'act':
          this.#deps.sendToTab(tab, { type: 'act', conn: message.conn, action: message.action }).catch(() => undefined);
          return;
        case 'capture':
          void this.#capture(tab, message.on);
          return;
        case 'clear':
          void this.#tab(tab).then((buffer) => {
            buffer.reset();
            this.#afterReset(tab, buffer);
          });
          return;
      }
    });
    port.onDisconnect.addListener(() => {
      if (tabId !== undefined) this.#panels.get(tabId)?.delete(port);
    });
  }

  async #subscribe(port: PortLike, message: PanelSubscribeMessage): Promise<void> {
    const buffer = await this.#tab(message.tabId);
    let set = this.#panels.get(message.tabId);
    if (set === undefined) this.#panels.set(message.tabId, (set = new Set()));
    const { epoch, first, next } = buffer.meta;
    const after = message.after;
    // A reconnecting panel gets only what it misses; anything else (another epoch, a buffer that
    // no longer reaches back, a panel ahead of a buffer that lost its unflushed tail) starts over.
    const resume = message.epoch === epoch && after !== undefined && after + 1 >= first && after < next;
    const from = resume ? after + 1 : first;
    port.postMessage({ type: 'events', epoch, first: from, events: buffer.eventsFrom(from), reset: !resume } satisfies BackgroundToPanel);
    port.postMessage({ type: 'state', state: this.#state(message.tabId, buffer) } satisfies BackgroundToPanel);
    set.add(port);
  }

  async #capture(tabId: number, on: boolean): Promise<void> {
    const buffer = await this.#tab(tabId);
    const api = this.#deps.debugger;
    this.#captureErrors.delete(tabId);
    if (api === undefined) {
      this.#captureErrors.set(tabId, 'chrome.debugger is not available in this browser');
    } else if (on && !buffer.meta.capture) {
      try {
        // Decoder first: Network.enable replays nothing, but events may race its answer.
        this.#decoders.set(tabId, new CdpDecoder());
        await api.attach({ tabId }, CDP_VERSION);
        await api.sendCommand({ tabId }, 'Network.enable', {});
        // Page events too: a navigation ends the old page's sockets, which Chromium does not report closed.
        await api.sendCommand({ tabId }, 'Page.enable', {});
        buffer.update({ capture: true });
      } catch (err) {
        this.#decoders.delete(tabId);
        this.#captureErrors.set(tabId, err instanceof Error ? err.message : String(err));
        await api.detach({ tabId }).catch(() => undefined);
      }
    } else if (!on && buffer.meta.capture) {
      buffer.update({ capture: false });
      this.#decoders.delete(tabId);
      await api.detach({ tabId }).catch(() => undefined);
    }
    this.#captureChanged();
    this.#scheduleFlush();
    this.#broadcast(tabId, { type: 'state', state: this.#state(tabId, buffer) });
  }
}
