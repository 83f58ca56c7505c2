/**
 * What feeds a panel: the extension's port to the background, a fake in
 * tests, or a page's own tap. The panel never touches an extension API; this
 * interface is the whole of its contact with the outside.
 * @packageDocumentation
 */
import type { DebugAction, DebugEvent } from '@rxmux/core/debug';

/** Whether the page is being captured with `chrome.debugger`. */
export type CaptureState = 'off' | 'on' | 'error' | 'unavailable';

/** What the source knows about the inspected page. */
export interface SourceState {
  /** The page's origin and path. */
  readonly url?: string;
  readonly capture: CaptureState;
  /** Why the capture stopped or failed. */
  readonly captureError?: string;
}

/** Where a source delivers. Calls come in order; `events` batches are in capture order. */
export interface PanelSink {
  events(events: readonly DebugEvent[]): void;
  /** Forget everything (the page navigated, or the capture was cleared elsewhere). */
  reset(): void;
  state(state: SourceState): void;
}

/**
 * A panel's source. Only `connect` is required: a source without `act`,
 * `capture` or `clear` simply has no such buttons.
 */
export interface PanelSource {
  /** Starts delivering to `sink`; returns a function that stops it. */
  connect(sink: PanelSink): () => void;
  /** Runs a debugger action on a connection (only offered for taps that allow actions). */
  act?(conn: string, action: DebugAction): void;
  /** Starts or stops the `chrome.debugger` capture of the page. */
  capture?(on: boolean): void;
  /** Forgets the source's own buffer, so a reopened panel does not bring cleared events back. */
  clear?(): void;
}
