/**
 * `@rxmux/elements/define`: registers `<rxmux-connection>` in the global
 * custom element registry (once: a second import, or another copy of the
 * package that got there first, changes nothing). The package's only module
 * with a side effect.
 *
 * @example
 * import '@rxmux/elements/define';
 * // <rxmux-connection url="/rt"> … </rxmux-connection>
 * @packageDocumentation
 */
import { RxmuxConnectionElement } from './connection-element.js';

/**
 * The tag name `@rxmux/elements/define` registers.
 *
 * @example
 * const provider = document.createElement(RXMUX_CONNECTION_TAG);
 */
export const RXMUX_CONNECTION_TAG = 'rxmux-connection';

// Where there is no registry (Node without a DOM), importing is harmless.
const registry = (globalThis as { customElements?: CustomElementRegistry }).customElements;
if (registry !== undefined && registry.get(RXMUX_CONNECTION_TAG) === undefined) registry.define(RXMUX_CONNECTION_TAG, RxmuxConnectionElement);

declare global {
  interface HTMLElementTagNameMap {
    'rxmux-connection': RxmuxConnectionElement;
  }
}
