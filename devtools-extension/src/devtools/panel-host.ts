/**
 * Entry of `panel.html`: mounts the panel with a port-backed source. Inside
 * DevTools it inspects `devtools.inspectedWindow.tabId` with DevTools' theme;
 * opened as a page (`panel.html?tabId=12`) it shows that tab's capture and
 * follows `prefers-color-scheme`.
 * @packageDocumentation
 */
import browser from 'webextension-polyfill';
import { PANEL_PORT } from '../messaging/runtime.js';
import { mountPanel } from '../panel/panel.js';
import { createPortSource } from './port-source.js';
import '../panel/panel.css';

const root = document.getElementById('app') as HTMLElement;
const devtools = browser.devtools as typeof browser.devtools | undefined;
const param = new URLSearchParams(location.search).get('tabId');
const tabId = param !== null ? Number(param) : devtools?.inspectedWindow.tabId;

if (tabId === undefined || !Number.isSafeInteger(tabId) || tabId < 0) {
  root.textContent = 'Open this page from the rxmux DevTools panel, or add ?tabId=<id of the tab to inspect>.';
} else {
  const theme = devtools === undefined ? undefined : devtools.panels.themeName === 'dark' ? 'dark' : 'light';
  const source = createPortSource(tabId, () => browser.runtime.connect({ name: PANEL_PORT }));
  mountPanel(root, source, theme === undefined ? {} : { theme });
  document.documentElement.dataset.theme = theme ?? '';
}
