/**
 * Entry of the MAIN-world content script (`page-hook.js`): installs the hook
 * before any of the page's own scripts run.
 * @packageDocumentation
 */
import { installPageHook } from './hook.js';

installPageHook(window);
