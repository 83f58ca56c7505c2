/**
 * `@rxmux/core/protocol`: the wire protocol v1 (frames, codec, close codes,
 * error codes). No rxjs import, so the server and the DevTools panel can use it.
 * @packageDocumentation
 */
export * from './frames.js';
export * from './codec.js';
export { MAX_DEPTH, scanText, type TextShape } from './scan.js';
export { BINARY_HEADER_BYTES, decodeBinary, encodeBinary, encodeChunk, encodeTransfer, MAX_TRANSFER_BYTES } from './binary.js';
export { channelIdProblem, dataProblem, MAX_CHANNEL_BYTES } from './fields.js';
export * from './errors.js';
export * from './close-codes.js';
export * from './rate.js';
export * from './sse.js';
export * from './transfer.js';
