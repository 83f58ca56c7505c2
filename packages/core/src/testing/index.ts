/**
 * `@rxmux/core/testing`: a test kit for rxmux and for apps built on it: a
 * WebSocket the test drives by hand, injectable with `connect(url, { WebSocket })`.
 * @packageDocumentation
 */
export { FakeSocketFactory, FakeWebSocket } from './fake-socket.js';
