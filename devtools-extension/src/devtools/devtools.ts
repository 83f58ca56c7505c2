/**
 * Entry of `devtools.html` (the manifest's `devtools_page`): creates the
 * "rxmux" panel. It runs once per DevTools window and does nothing else.
 * @packageDocumentation
 */
import browser from 'webextension-polyfill';

void browser.devtools.panels.create('rxmux', 'icons/icon-32.png', 'panel.html');
