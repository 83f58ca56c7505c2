/**
 * Shared setup of the element tests (happy-dom): providers routed to the test
 * kit's `FakeServer` (one per test, so every test has its own pooled
 * connection), hosts, and the joins the server saw.
 */
import type { ConnectOptions } from '@rxmux/core';
import type { FakeServer } from '@rxmux/core/testing';
import '@rxmux/elements/define';
import { ControllerHostElement, type RxmuxConnectionElement } from '@rxmux/elements';
import { afterEach } from 'vitest';

afterEach(() => {
  document.body.replaceChildren();
});

/** Options that route a provider's connection to `fake`, with a short linger so leaving is quick to observe. */
export function via(fake: FakeServer, extra: ConnectOptions = {}): ConnectOptions {
  return { WebSocket: fake.WebSocket, linger: 20, heartbeat: false, ...extra };
}

/** A `<rxmux-connection>` (not yet in the document). */
export function provider(url: string, options: ConnectOptions, ...children: Node[]): RxmuxConnectionElement {
  const el = document.createElement('rxmux-connection');
  el.setAttribute('url', url);
  el.options = options;
  el.append(...children);
  return el;
}

/** The channels the client subscribed to and unsubscribed from, over all the server's connections, in order: `+a`, `-a`. */
export function joins(fake: FakeServer): string[] {
  return fake.connections
    .flatMap((connection) => connection.frames)
    .flatMap((frame) => (frame.type === 'subscribe' ? [`+${frame.channel}`] : frame.type === 'unsubscribe' ? [`-${frame.channel}`] : []));
}

/** A plain host element that counts its updates. */
export class CountingHost extends ControllerHostElement {
  updates = 0;
  protected override update(): void {
    this.updates++;
  }
}

let nextTag = 0;

/** Defines `Element` under a fresh tag name and returns the name. */
export function defineOnce(element: CustomElementConstructor, prefix = 'test-host'): string {
  const tag = `${prefix}-${++nextTag}`;
  customElements.define(tag, element);
  return tag;
}

/** A fresh {@link CountingHost} (each under its own tag: a constructor is defined once per registry). */
export function countingHost(): CountingHost {
  const Host = class extends CountingHost {};
  defineOnce(Host, 'counting-host');
  return new Host();
}
