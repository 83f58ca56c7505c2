/**
 * The page hook: the {@link DevtoolsHook} a connection registers its
 * {@link DebugTap} with. Runs in the page's MAIN world (declared in the
 * manifest with `"world": "MAIN"`, `document_start`), before any app script.
 *
 * ```
 *  connect() ──register(tap)──▶ hook ──tap.listen──▶ ring (last 5,000) ──┐ until the bridge says 'listen'
 *                                                                        ▼
 *                                 window.postMessage({ source: PAGE_SOURCE, type: 'events' }) ──▶ content script
 *  tap.act(action) ◀── { source: CONTENT_SOURCE, type: 'act' } ◀──────────────────────────────── content script
 * ```
 * Events are batched per task (one `postMessage` for everything a task
 * produced), so a busy socket costs one message per turn, not one per frame.
 * @packageDocumentation
 */
import { DEVTOOLS_HOOK_KEY, stripQuery, type DebugEvent, type DebugTap, type DevtoolsHook } from '@rxmux/core/debug';
import { isSupportedTap, isTapLike, SUPPORTED_TAP_VERSION } from '../messaging/events.js';
import { MAX_EVENTS_PER_MESSAGE, PAGE_SOURCE, parseContentMessage, type PageToContent } from '../messaging/page.js';

/** Events kept while nobody listens (page-load traffic before the bridge is up). */
export const DEFAULT_HOOK_CAPACITY = 5000;

/** The part of `window` the hook uses (a fake in tests). */
export interface HookWindow {
  postMessage(message: PageToContent, targetOrigin: string): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  removeEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
}

/** Options of {@link createPageHook}. */
export interface PageHookOptions {
  /** Events buffered until a bridge listens (default {@link DEFAULT_HOOK_CAPACITY}). */
  readonly capacity?: number;
  /** Schedules the flush of a batch (default `queueMicrotask`: after the current task's events). */
  readonly schedule?: (flush: () => void) => void;
}

/** A page hook and its controls. */
export interface PageHook {
  readonly hook: DevtoolsHook;
  /** The taps registered so far, by debug id. */
  readonly taps: ReadonlyMap<string, DebugTap>;
  /** Stops every tap listener and the message listener. */
  dispose(): void;
}

/**
 * Creates a hook that talks to the content script over `win`. It does not
 * install itself: see {@link installPageHook}.
 */
export function createPageHook(win: HookWindow, options: PageHookOptions = {}): PageHook {
  const capacity = options.capacity ?? DEFAULT_HOOK_CAPACITY;
  const schedule = options.schedule ?? queueMicrotask;
  const taps = new Map<string, DebugTap>();
  const stops = new Map<string, () => void>();
  /** Until a bridge listens: a ring of the newest events. After: the batch of this task. */
  let pending: DebugEvent[] = [];
  let overflowed = 0;
  let listening = false;
  let scheduled = false;

  const post = (events: DebugEvent[]): void => {
    for (let i = 0; i < events.length; i += MAX_EVENTS_PER_MESSAGE) {
      const chunk = events.slice(i, i + MAX_EVENTS_PER_MESSAGE);
      try {
        // The target is this same window; nothing crosses an origin.
        win.postMessage({ source: PAGE_SOURCE, type: 'events', events: chunk }, '*');
      } catch {
        // A payload that cannot be cloned (the tap promises plain data; an app's own tap may not
        // keep the promise): send the rest one by one and lose only the culprits.
        for (const event of chunk) {
          try {
            win.postMessage({ source: PAGE_SOURCE, type: 'events', events: [event] }, '*');
          } catch {
            /* dropped: not cloneable */
          }
        }
      }
    }
  };

  const flush = (): void => {
    scheduled = false;
    if (!listening || pending.length === 0) return;
    const batch = pending;
    pending = [];
    if (overflowed > 0) {
      const first = batch[0] as DebugEvent;
      batch.unshift({ type: 'error', conn: first.conn, at: first.at, code: 'RXMUX_DEVTOOLS_OVERFLOW', message: `${overflowed} events from before DevTools listened were dropped (the hook keeps the last ${capacity})` });
      overflowed = 0;
    }
    post(batch);
  };

  const push = (event: DebugEvent): void => {
    pending.push(event);
    if (!listening) {
      if (pending.length > capacity) {
        // Amortized ring: trim in blocks so a long unobserved page costs O(1) per event.
        const excess = pending.length - capacity;
        if (excess >= Math.max(1, capacity >> 4)) {
          pending = pending.slice(excess);
          overflowed += excess;
        }
      }
      return;
    }
    if (!scheduled) {
      scheduled = true;
      schedule(flush);
    }
  };

  const onMessage = (event: MessageEvent): void => {
    if (event.source !== (win as unknown)) return;
    const message = parseContentMessage(event.data);
    if (message === undefined) return;
    if (message.type === 'listen') {
      if (pending.length > capacity) {
        overflowed += pending.length - capacity;
        pending = pending.slice(pending.length - capacity);
      }
      listening = true;
      flush();
      return;
    }
    const tap = taps.get(message.conn);
    try {
      tap?.act(message.action);
    } catch {
      /* the tap reports its own failures as events */
    }
  };
  win.addEventListener('message', onMessage);

  const hook: DevtoolsHook = {
    register(tap: DebugTap): (() => void) | undefined {
      if (!isTapLike(tap) || taps.get(tap.id) === tap) return undefined;
      if (!isSupportedTap(tap)) {
        // Another vocabulary: its events may not mean what the panel thinks. Say so instead of guessing.
        const at = Date.now();
        const url = typeof tap.url === 'string' ? stripQuery(tap.url).slice(0, 8192) : '';
        push({ type: 'connection', conn: tap.id, at, url, actions: false });
        push({ type: 'error', conn: tap.id, at, code: 'RXMUX_DEVTOOLS_VERSION', message: `this connection's debug tap speaks version ${String(tap.version)}; this extension reads version ${SUPPORTED_TAP_VERSION}: update the extension or @rxmux/core` });
        return undefined;
      }
      stops.get(tap.id)?.();
      taps.set(tap.id, tap);
      try {
        stops.set(tap.id, tap.listen(push));
      } catch {
        taps.delete(tap.id);
        return undefined;
      }
      // The connection closed for good (after its 'disposed' event): forget it.
      return () => {
        if (taps.get(tap.id) !== tap) return;
        stops.get(tap.id)?.();
        stops.delete(tap.id);
        taps.delete(tap.id);
      };
    },
  };

  win.postMessage({ source: PAGE_SOURCE, type: 'ready' }, '*');

  return {
    hook,
    taps,
    dispose(): void {
      win.removeEventListener('message', onMessage);
      for (const stop of stops.values()) stop();
      stops.clear();
      taps.clear();
    },
  };
}

/**
 * Installs the hook at `globalThis[Symbol.for('rxmux.devtools')]` unless one
 * is there already (a second copy of the extension, or an app's own logger:
 * first come, first served).
 * @returns the installed hook, or `undefined` when the slot was taken.
 */
export function installPageHook(win: HookWindow & object, options?: PageHookOptions): PageHook | undefined {
  if (Reflect.get(win, DEVTOOLS_HOOK_KEY) !== undefined) return undefined;
  const created = createPageHook(win, options);
  Object.defineProperty(win, DEVTOOLS_HOOK_KEY, { value: created.hook, configurable: true, enumerable: false, writable: false });
  return created;
}
