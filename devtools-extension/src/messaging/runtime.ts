/**
 * Hops 2 and 3: extension runtime ports to and from the background service
 * worker.
 *
 * ```
 *  content script ──port 'rxmux:content'──▶ background ◀──port 'rxmux:panel'── panel host
 *      hello, events  ▶                                 ◀  subscribe, act, capture, clear
 *                     ◀ act                   snapshot, events, state  ▶
 * ```
 *
 * The background numbers every event of a tab (`n`, from 0) within a buffer
 * `epoch` (a new epoch per page load). A panel that reconnects after the
 * worker restarted sends the epoch and the last `n` it holds and gets only
 * what it is missing: never duplicates, and an explicit reset when its epoch
 * is gone.
 * @packageDocumentation
 */
import type { DebugAction, DebugEvent } from '@rxmux/core/debug';
import { isDebugAction, isDebugEventList } from './events.js';
import { isRecord, isShortString, isUint, jsonLength } from './guards.js';
import { MAX_EVENTS_PER_MESSAGE, MAX_MESSAGE_CHARS } from './page.js';

/** Name of the content script's port. */
export const CONTENT_PORT = 'rxmux:content';
/** Name of the panel's port. */
export const PANEL_PORT = 'rxmux:panel';

// content script -> background
/** Sent first on every (re)connection: which document this is (a new `doc` means the tab navigated). */
export interface ContentHelloMessage {
  readonly type: 'hello';
  /** Random id of this content script instance, i.e. of the document. */
  readonly doc: string;
  /** The page's origin and path (no query, no fragment: they may hold tokens). */
  readonly url: string;
}

// content script -> background
/** Events from the page's taps. */
export interface ContentEventsMessage {
  readonly type: 'events';
  readonly events: readonly DebugEvent[];
}

/** Everything the content script sends to the background. */
export type ContentToBackground = ContentHelloMessage | ContentEventsMessage;

// background -> content script
/** Run an action on a connection of the page. */
export interface BackgroundActMessage {
  readonly type: 'act';
  readonly conn: string;
  readonly action: DebugAction;
}

/** Everything the background sends to a content script. */
export type BackgroundToContent = BackgroundActMessage;

// panel -> background
/** Start receiving a tab's capture; after a reconnect, `epoch` and `after` say what the panel already has. */
export interface PanelSubscribeMessage {
  readonly type: 'subscribe';
  readonly tabId: number;
  readonly epoch?: string;
  /** The last event number the panel holds. */
  readonly after?: number;
}

// panel -> background
/** Run an action on a connection of the inspected page. */
export interface PanelActMessage {
  readonly type: 'act';
  readonly conn: string;
  readonly action: DebugAction;
}

// panel -> background
/** Start or stop capturing the inspected tab with `chrome.debugger`. */
export interface PanelCaptureMessage {
  readonly type: 'capture';
  readonly on: boolean;
}

// panel -> background
/** Forget the tab's buffered events (the panel's Clear). */
export interface PanelClearMessage {
  readonly type: 'clear';
}

/** Everything the panel sends to the background. */
export type PanelToBackground = PanelSubscribeMessage | PanelActMessage | PanelCaptureMessage | PanelClearMessage;

/** Whether the debugger capture of a tab is running. */
export type CaptureStatus = 'off' | 'on' | 'error';

/** The tab as the background knows it. */
export interface TabState {
  /** The page's origin and path, once its content script said hello. */
  readonly url?: string;
  /** Whether a content script (and so the page hook) is running in the tab. */
  readonly bridge: boolean;
  readonly capture: CaptureStatus;
  /** Why the capture failed (e.g. another debugger is attached). */
  readonly captureError?: string;
}

// background -> panel
/**
 * Events numbered `first`, `first + 1`, … of buffer `epoch`. With `reset` the
 * panel drops what it holds first (a new page load, a cleared buffer, or an
 * epoch it did not know).
 */
export interface BackgroundEventsMessage {
  readonly type: 'events';
  readonly epoch: string;
  readonly first: number;
  readonly events: readonly DebugEvent[];
  readonly reset: boolean;
}

// background -> panel
/** The tab's state changed (navigation, capture started or failed). */
export interface BackgroundStateMessage {
  readonly type: 'state';
  readonly state: TabState;
}

/** Everything the background sends to a panel. */
export type BackgroundToPanel = BackgroundEventsMessage | BackgroundStateMessage;

const CAPTURE: readonly CaptureStatus[] = ['off', 'on', 'error'];

function eventsOk(events: unknown): events is DebugEvent[] {
  if (!isDebugEventList(events, MAX_EVENTS_PER_MESSAGE)) return false;
  const size = jsonLength(events);
  return size !== undefined && size <= MAX_MESSAGE_CHARS;
}

/** Checks a message from a content script port. */
export function parseContentToBackground(data: unknown): ContentToBackground | undefined {
  if (!isRecord(data)) return undefined;
  if (data.type === 'hello' && isShortString(data.doc, 64) && isShortString(data.url, 8192)) return { type: 'hello', doc: data.doc, url: data.url };
  if (data.type === 'events' && eventsOk(data.events)) return { type: 'events', events: data.events };
  return undefined;
}

/** Checks a message from the background on a content script port. */
export function parseBackgroundToContent(data: unknown): BackgroundToContent | undefined {
  if (isRecord(data) && data.type === 'act' && isShortString(data.conn, 1024) && isDebugAction(data.action)) {
    return { type: 'act', conn: data.conn, action: data.action };
  }
  return undefined;
}

/** Checks a message from a panel port. */
export function parsePanelToBackground(data: unknown): PanelToBackground | undefined {
  if (!isRecord(data)) return undefined;
  switch (data.type) {
    case 'subscribe':
      if (!isUint(data.tabId)) return undefined;
      if (data.epoch !== undefined && !isShortString(data.epoch, 64)) return undefined;
      if (data.after !== undefined && !isUint(data.after)) return undefined;
      return { type: 'subscribe', tabId: data.tabId, ...(data.epoch === undefined ? {} : { epoch: data.epoch }), ...(data.after === undefined ? {} : { after: data.after }) };
    case 'act':
      return isShortString(data.conn, 1024) && isDebugAction(data.action) ? { type: 'act', conn: data.conn, action: data.action } : undefined;
    case 'capture':
      return typeof data.on === 'boolean' ? { type: 'capture', on: data.on } : undefined;
    case 'clear':
      return { type: 'clear' };
    default:
      return undefined;
  }
}

function isTabState(value: unknown): value is TabState {
  return (
    isRecord(value) &&
    typeof value.bridge === 'boolean' &&
    (value.url === undefined || isShortString(value.url, 8192)) &&
    CAPTURE.includes(value.capture as CaptureStatus) &&
    (value.captureError === undefined || isShortString(value.captureError))
  );
}

/** Checks a message from the background on a panel port. */
export function parseBackgroundToPanel(data: unknown): BackgroundToPanel | undefined {
  if (!isRecord(data)) return undefined;
  if (data.type === 'state' && isTabState(data.state)) return { type: 'state', state: data.state };
  if (
    data.type === 'events' &&
    isShortString(data.epoch, 64) &&
    isUint(data.first) &&
    typeof data.reset === 'boolean' &&
    Array.isArray(data.events) &&
    // A snapshot may be a whole tab buffer: larger than a page message, still every event checked.
    data.events.length <= 100_000 &&
    isDebugEventList(data.events, 100_000)
  ) {
    return { type: 'events', epoch: data.epoch, first: data.first, events: data.events, reset: data.reset };
  }
  return undefined;
}
