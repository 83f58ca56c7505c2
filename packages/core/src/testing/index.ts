/**
 * `@rxmux/core/testing`: a test kit for apps built on rxmux, and for rxmux
 * itself. A scripted {@link FakeServer} with no network (its `WebSocket`
 * goes to `connect()`; each socket becomes a {@link ScriptedConnection} the
 * test welcomes, publishes on, answers, acks, refuses and drops, through the
 * real codec), and marble helpers ({@link runMarbles}, {@link marbles},
 * {@link STATUS_VALUES}) to assert `status$` and channels on virtual time.
 * No test runner inside: assertions stay in your test (vitest, jest, mocha,
 * node:test); `rxjs` is the only dependency (a peer).
 *
 * @example
 * const server = new FakeServer();
 * const conn = connect('ws://test/rt', { WebSocket: server.WebSocket, shared: false });
 * conn.channel('scores').subscribe(render);
 * const c = await server.nextConnection();
 * c.welcome();
 * c.publish('scores', { home: 1 });
 * @packageDocumentation
 */
export { FakeServer, type FakeConnectOptions, type FakeServerOptions } from './fake-server.js';
export {
  ScriptedConnection,
  type ChannelPosition,
  type CloseInfo,
  type FrameOf,
  type FrameWaitOptions,
  type GapOptions,
  type PublishOptions,
  type WelcomeOptions,
} from './scripted-connection.js';
export type { WaitOptions } from './wait.js';
export { FakeWebSocket } from './fake-socket.js';
export { describeFrame } from './describe.js';
export { marbles, runMarbles, STATUS_VALUES, type DeepEqual, type MarbleScenario, type RunMarblesOptions } from './marbles.js';
