// Runs before `@rxmux/elements/define` (main.ts imports it first): the options are on the
// <rxmux-connection> of index.html before the element is upgraded, so its one connection is made
// with them from the start (the element takes over properties set before its class was defined).
import type { ConnectOptions } from '@rxmux/core';

const options: ConnectOptions = {
  reconnect: { initialDelay: 500, maxDelay: 5000 },
  // The rxmux DevTools panel may act on the connection (drop, pause, resume, send); `?tap=off` makes it
  // without a tap, as a production build would (the extension's debugger capture still decodes it).
  devtools: new URLSearchParams(location.search).get('tap') === 'off' ? false : { actions: true },
};

const provider = document.querySelector('rxmux-connection');
if (provider === null) throw new Error('index.html lacks <rxmux-connection>');
provider.options = options;
