/**
 * The panel's port source against the real router, with a simulated service
 * worker restart in the middle: the port reconnects by itself and the panel
 * ends up with every event exactly once.
 */
import type { DebugEvent } from '@rxmux/core/debug';
import { describe, expect, it } from 'vitest';
import { Router } from '../src/background/router.js';
import { createPortSource } from '../src/devtools/port-source.js';
import type { PortLike } from '../src/messaging/port.js';
import { CONTENT_PORT, PANEL_PORT } from '../src/messaging/runtime.js';
import type { SourceState } from '../src/panel/source.js';
import { FakePort, FakeStorage, portPair, publication, until } from './fakes.js';

/** A "browser" whose background can be stopped and started again on the same storage. */
class Browser {
  readonly storage = new FakeStorage();
  router = this.#start();
  readonly ports: FakePort[] = [];

  #start(): Router {
    return new Router({ storage: this.storage, sendToTab: () => Promise.resolve(), flushDelay: 1 });
  }

  connect(name: string, sender?: PortLike['sender']): FakePort {
    const [opener, receiver] = portPair(name, sender);
    this.router.connect(receiver);
    this.ports.push(receiver);
    return opener;
  }

  /** Chrome stops the worker: it flushed a while ago, then every port dies. */
  async restart(): Promise<void> {
    await this.router.flush();
    for (const port of this.ports.splice(0)) port.kill();
    this.router = this.#start();
  }
}

describe('the panel port source', () => {
  it('reconnects after a worker restart and resumes without duplicates or losses', async () => {
    const browser = new Browser();
    const page = browser.connect(CONTENT_PORT, { tab: { id: 5 }, frameId: 0 });
    page.postMessage({ type: 'hello', doc: 'doc-1', url: 'http://127.0.0.1/app' });
    page.postMessage({ type: 'events', events: Array.from({ length: 30 }, (_, i) => publication('c1', 'a', i + 1)) });

    const got: DebugEvent[] = [];
    const states: SourceState[] = [];
    let resets = 0;
    const source = createPortSource(5, () => browser.connect(PANEL_PORT));
    const stop = source.connect({ events: (e) => void got.push(...e), reset: () => void (resets++, (got.length = 0)), state: (s) => void states.push(s) });
    await until(() => got.length === 30);
    expect(states.at(-1)).toMatchObject({ url: 'http://127.0.0.1/app', capture: 'off' });

    await browser.restart();
    // The page speaks again after the restart: its bridge reconnects lazily, same document.
    const again = browser.connect(CONTENT_PORT, { tab: { id: 5 }, frameId: 0 });
    again.postMessage({ type: 'hello', doc: 'doc-1', url: 'http://127.0.0.1/app' });
    again.postMessage({ type: 'events', events: Array.from({ length: 5 }, (_, i) => publication('c1', 'a', 31 + i)) });

    await until(() => got.length === 35);
    expect(got.map((e) => (e.type === 'frame' ? e.seq : 0))).toEqual(Array.from({ length: 35 }, (_, i) => i + 1));
    expect(resets).toBe(1); // the first snapshot only

    // Actions still reach the background on the new port.
    source.clear?.();
    await until(() => resets === 2 && got.length === 0);
    stop();
  });
});
