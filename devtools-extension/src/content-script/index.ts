/**
 * Entry of the ISOLATED-world content script (`content-script.js`).
 * @packageDocumentation
 */
import browser from 'webextension-polyfill';
import { startBridge } from './bridge.js';

startBridge(window, {
  connect: (name) => browser.runtime.connect({ name }),
  onMessage(listener) {
    const wrapped = (message: unknown): undefined => {
      listener(message);
      return undefined;
    };
    browser.runtime.onMessage.addListener(wrapped);
    return () => browser.runtime.onMessage.removeListener(wrapped);
  },
});
