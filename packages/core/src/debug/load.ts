import type { TapRecorder } from './recorder.js';

/** The debug tap's code, once loaded (the same for every connection of the page). */
let loaded: typeof TapRecorder | undefined;
let loading: Promise<typeof TapRecorder> | undefined;

/** The recorder's class when its code is loaded already, else `undefined`. @internal */
export function loadedRecorder(): typeof TapRecorder | undefined {
  return loaded;
}

/** Whether the recorder's code is loaded or on its way. @internal */
export function recorderRequested(): boolean {
  return loading !== undefined || loaded !== undefined;
}

/**
 * Loads the debug tap's code (a dynamic import: a bundler makes it a chunk of
 * its own, fetched the first time a debugger listens). Once per page; a
 * failed load is tried again by the next call. @internal
 */
export function loadRecorder(): Promise<typeof TapRecorder> {
  loading ??= import('./recorder.js').then(
    (module) => (loaded = module.TapRecorder),
    (error: unknown) => {
      loading = undefined;
      throw error;
    },
  );
  return loading;
}

/**
 * Loads the debug tap's code now. Without it, the first `conn.debug()`
 * listener (or the DevTools extension's) hears a connection's events once
 * that code has loaded, a dynamic import later: in order, with the times
 * they happened, nothing lost up to 10,000 events and 16 MiB of frames.
 * After it, every listener hears each event as it happens. For tests that
 * read debug events synchronously, and apps that log them from the first
 * frame. Rejects with the loader's error when the code cannot be loaded (a
 * later call tries again).
 *
 * @example
 * await preloadDebugTap();
 * const stop = conn.debug((event) => console.debug('[rxmux]', event));
 */
export async function preloadDebugTap(): Promise<void> {
  await loadRecorder();
}
