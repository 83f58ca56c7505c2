/**
 * `@rxmux/core/protocol`: the wire protocol v1 and v2 (frames, codec, close
 * codes, error codes, the rate bucket, the SSE and long-poll format, and the
 * chunker, window and reassembler of v2's chunked transfers). No rxjs
 * import, so the server and the DevTools panel can use it.
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
