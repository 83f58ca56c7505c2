/**
 * `@rxmux/core/debug`: the debug tap's vocabulary (events, actions, the page
 * hook) and the conversion of a decoded frame into its event, for debuggers
 * such as the rxmux DevTools extension. No rxjs, no client code: a page hook
 * or a panel bundles only this and the protocol.
 * @packageDocumentation
 */
export * from './events.js';
export { BINARY_HEAD_BYTES, binarySummary, frameEvent, hexHead, stripQuery } from './frames.js';
export { preloadDebugTap } from './load.js';
