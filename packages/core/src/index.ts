/**
 * `@rxmux/core`: one pooled WebSocket per page, multiplexed into RxJS channels.
 * @packageDocumentation
 */
export * from './protocol/index.js';
