/**
 * `@rxmux/server`: the Node server for protocol v1.
 * @packageDocumentation
 */
export { SUBPROTOCOL, PROTOCOL_VERSION } from '@rxmux/core/protocol';
