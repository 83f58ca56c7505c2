/**
 * Hop 1: the page hook (MAIN world) and the content script (ISOLATED world),
 * over `window.postMessage` on the page's own window.
 *
 * ```
 *   page hook ──{ source: PAGE_SOURCE, type: 'ready' | 'events' }──────▶ content script
 *   page hook ◀──{ source: CONTENT_SOURCE, type: 'listen' | 'act' }──── content script
 * ```
 *
 * Both worlds share the window with the page's own scripts, so each end
 * accepts only messages whose `event.source` is that window, whose `source`
 * tag is the other end's, and whose shape and size check out. The page can
 * still forge such a message; what it gains is showing fake events about
 * itself in its own debugger, or acting on its own connections.
 * @packageDocumentation
 */
import type { DebugAction, DebugEvent } from '@rxmux/core/debug';
import { isDebugAction, isDebugEventList } from './events.js';
import { isRecord, isShortString, jsonLength } from './guards.js';

/** Source tag of messages the page hook posts. */
export const PAGE_SOURCE = 'rxmux-devtools:page';
/** Source tag of messages the content script posts into the page. */
export const CONTENT_SOURCE = 'rxmux-devtools:content';

/** Most events in one `events` message (the hook batches per task, and splits above this). */
export const MAX_EVENTS_PER_MESSAGE = 500;
/** Largest `events` message accepted, in JSON characters: beyond it, a hostile or runaway page is only costing us memory. */
export const MAX_MESSAGE_CHARS = 4 * 1024 * 1024;

// page hook -> content script
/** The hook is installed (posted once at document start; the content script answers `listen`). */
export interface HookReadyMessage {
  readonly source: typeof PAGE_SOURCE;
  readonly type: 'ready';
}

// page hook -> content script
/** Debug events of the page's taps, in order. */
export interface HookEventsMessage {
  readonly source: typeof PAGE_SOURCE;
  readonly type: 'events';
  readonly events: readonly DebugEvent[];
}

/** Everything the page hook posts. */
export type PageToContent = HookReadyMessage | HookEventsMessage;

// content script -> page hook
/** A bridge is up: flush the buffered events and go live. */
export interface ListenMessage {
  readonly source: typeof CONTENT_SOURCE;
  readonly type: 'listen';
}

// content script -> page hook
/** Run a debugger action on one connection's tap. */
export interface ActMessage {
  readonly source: typeof CONTENT_SOURCE;
  readonly type: 'act';
  readonly conn: string;
  readonly action: DebugAction;
}

/** Everything the content script posts into the page. */
export type ContentToPage = ListenMessage | ActMessage;

/**
 * Checks what the content script received from the page.
 * @returns the message, or `undefined` for anything that is not exactly a {@link PageToContent}.
 */
export function parsePageMessage(data: unknown): PageToContent | undefined {
  if (!isRecord(data) || data.source !== PAGE_SOURCE) return undefined;
  if (data.type === 'ready') return { source: PAGE_SOURCE, type: 'ready' };
  if (data.type !== 'events' || !isDebugEventList(data.events, MAX_EVENTS_PER_MESSAGE)) return undefined;
  const size = jsonLength(data.events);
  if (size === undefined || size > MAX_MESSAGE_CHARS) return undefined;
  return { source: PAGE_SOURCE, type: 'events', events: data.events };
}

/**
 * Checks what the page hook received from the content script.
 * @returns the message, or `undefined` for anything that is not exactly a {@link ContentToPage}.
 */
export function parseContentMessage(data: unknown): ContentToPage | undefined {
  if (!isRecord(data) || data.source !== CONTENT_SOURCE) return undefined;
  if (data.type === 'listen') return { source: CONTENT_SOURCE, type: 'listen' };
  if (data.type === 'act' && isShortString(data.conn, 1024) && isDebugAction(data.action)) {
    return { source: CONTENT_SOURCE, type: 'act', conn: data.conn, action: data.action };
  }
  return undefined;
}
