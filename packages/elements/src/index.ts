/**
 * `@rxmux/elements`: rxmux for web components, framework-neutral.
 *
 * - `<rxmux-connection url="/rt">` ({@link RxmuxConnectionElement}, registered
 *   by `@rxmux/elements/define`) provides one pooled connection to every
 *   element below it through the Web Components Community Group's Context
 *   Protocol (`rxmuxContext`): Lit's `@consume`, Stencil, or any element
 *   dispatching `context-request` gets it.
 * - {@link ChannelController} and {@link ConnectionController} are reactive
 *   controllers (Lit's shape, no Lit dependency): they join a channel, or
 *   observe the connection, while their host is in the document.
 * - {@link ControllerHostElement} hosts controllers in a plain custom element;
 *   {@link requestConnection} and {@link observeConnection} ask for the
 *   connection without any controller.
 *
 * This entry point has no side effects: import `@rxmux/elements/define` once
 * to register `<rxmux-connection>`.
 *
 * @example
 * import '@rxmux/elements/define';
 * import { ChannelController, ControllerHostElement } from '@rxmux/elements';
 *
 * class HeartRate extends ControllerHostElement {
 *   readonly beats = new ChannelController<{ bpm: number }>(this, () => this.getAttribute('player') ?? 'player-1');
 *   protected override update() { this.textContent = `${this.beats.value?.bpm ?? '–'} bpm`; }
 * }
 * customElements.define('heart-rate', HeartRate);
 * // <rxmux-connection url="/rt"><heart-rate player="player-1"></heart-rate></rxmux-connection>
 * @packageDocumentation
 */
export {
  ContextProviderEvent,
  ContextRequestEvent,
  observeConnection,
  requestConnection,
  rxmuxContext,
  type Context,
  type ContextCallback,
  type ContextType,
  type UnknownContext,
} from './context.js';
export { RxmuxConnectionElement } from './connection-element.js';
export { ControllerHostElement, type ControllerHost, type ReactiveController, type ReactiveControllerHost } from './controller.js';
export { ConnectionController, type ConnectionControllerOptions } from './connection-controller.js';
export { ChannelController, type ChannelControllerOptions } from './channel-controller.js';
