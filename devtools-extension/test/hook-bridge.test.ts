/**
 * The page hook (MAIN world) and the content-script bridge (ISOLATED world)
 * on one fake window, with a fake runtime: buffering before anyone listens,
 * batching, actions back to the tap, and a hostile page's forgeries.
 */
import { DEVTOOLS_HOOK_KEY, type DebugEvent } from '@rxmux/core/debug';
import { afterEach, describe, expect, it } from 'vitest';
import { startBridge, type Bridge, type BridgeRuntime } from '../src/content-script/bridge.js';
import { isDebugEvent } from '../src/messaging/events.js';
import { CONTENT_SOURCE, MAX_EVENTS_PER_MESSAGE, PAGE_SOURCE } from '../src/messaging/page.js';
import type { ContentToBackground } from '../src/messaging/runtime.js';
import { createPageHook, installPageHook, type PageHook } from '../src/page-hook/hook.js';
import { FakePort, FakeTap, FakeWindow, portPair, publication, until } from './fakes.js';

/** A runtime whose ports open onto a recording background end. */
class FakeRuntime implements BridgeRuntime {
  readonly background: FakePort[] = [];
  readonly received: ContentToBackground[] = [];
  #onMessage: ((message: unknown) => void) | undefined;
  dead = false;

  connect(name: string): FakePort {
    if (this.dead) throw new Error('Extension context invalidated.');
    const [content, background] = portPair(name, { tab: { id: 7 }, frameId: 0 });
    background.onMessage.addListener((message) => this.received.push(message as ContentToBackground));
    this.background.push(background);
    return content;
  }

  onMessage(listener: (message: unknown) => void): () => void {
    this.#onMessage = listener;
    return () => {
      this.#onMessage = undefined;
    };
  }

  /** What `tabs.sendMessage` from the background does. */
  deliver(message: unknown): void {
    this.#onMessage?.(message);
  }

  events(): DebugEvent[] {
    return this.received.flatMap((m) => (m.type === 'events' ? [...m.events] : []));
  }
}

let hook: PageHook | undefined;
let bridge: Bridge | undefined;
afterEach(() => {
  hook?.dispose();
  bridge?.stop();
  hook = undefined;
  bridge = undefined;
});

describe('page hook', () => {
  it('is installed at Symbol.for("rxmux.devtools"), once', () => {
    const win = new FakeWindow();
    hook = installPageHook(win);
    expect(Reflect.get(win, DEVTOOLS_HOOK_KEY)).toBe(hook?.hook);
    expect(installPageHook(win)).toBeUndefined(); // first come, first served
  });

  it('keeps page-load traffic until a bridge listens, then sends it in order, batched', async () => {
    const win = new FakeWindow();
    hook = createPageHook(win);
    const tap = new FakeTap('c1');
    hook.hook.register(tap);
    for (let seq = 1; seq <= 3; seq++) tap.emit(publication('c1', 'a', seq));
    const runtime = new FakeRuntime();
    bridge = startBridge(win, runtime, 'doc-1');
    await until(() => runtime.events().length === 4);
    expect(runtime.received[0]).toEqual({ type: 'hello', doc: 'doc-1', url: 'http://127.0.0.1:8080/app' });
    expect(runtime.events().map((e) => e.type)).toEqual(['connection', 'frame', 'frame', 'frame']);
    // Live now: everything one task produces travels in one message.
    for (let seq = 4; seq <= 53; seq++) tap.emit(publication('c1', 'a', seq));
    await until(() => runtime.events().length === 54);
    expect(runtime.received.filter((m) => m.type === 'events')).toHaveLength(2);
    expect(runtime.background).toHaveLength(1);
  });

  it('bounds what it keeps, and says how much it dropped', async () => {
    const win = new FakeWindow();
    hook = createPageHook(win, { capacity: 100 });
    const tap = new FakeTap('c1');
    hook.hook.register(tap);
    for (let seq = 1; seq <= 1000; seq++) tap.emit(publication('c1', 'a', seq));
    const runtime = new FakeRuntime();
    bridge = startBridge(win, runtime, 'doc-1');
    await until(() => runtime.events().length === 101);
    const [notice, ...kept] = runtime.events();
    expect(notice).toMatchObject({ type: 'error', code: 'RXMUX_DEVTOOLS_OVERFLOW' });
    expect(kept.map((e) => (e.type === 'frame' ? e.seq : undefined))).toEqual(Array.from({ length: 100 }, (_, i) => 901 + i));
  });

  it('splits a large burst into bounded messages', async () => {
    const win = new FakeWindow();
    hook = createPageHook(win);
    const tap = new FakeTap('c1');
    hook.hook.register(tap);
    const runtime = new FakeRuntime();
    bridge = startBridge(win, runtime, 'doc-1');
    await until(() => runtime.events().length === 1);
    for (let seq = 1; seq <= 1200; seq++) tap.emit(publication('c1', 'a', seq));
    await until(() => runtime.events().length === 1201);
    expect(Math.max(...runtime.received.map((m) => (m.type === 'events' ? m.events.length : 0)))).toBe(MAX_EVENTS_PER_MESSAGE);
  });

  it('runs actions from the background on the right tap', async () => {
    const win = new FakeWindow();
    hook = createPageHook(win);
    const a = new FakeTap('c1');
    const b = new FakeTap('c2');
    hook.hook.register(a);
    hook.hook.register(b);
    const runtime = new FakeRuntime();
    bridge = startBridge(win, runtime, 'doc-1');
    runtime.deliver({ type: 'act', conn: 'c2', action: { type: 'pause', channel: 'player-1' } });
    runtime.deliver({ type: 'act', conn: 'c2', action: { type: 'send', channel: 'x', data: { hi: 1 } } });
    runtime.deliver({ type: 'act', conn: 'c2', action: { type: 'explode' } }); // not an action
    runtime.deliver({ type: 'act', conn: 'nope', action: { type: 'drop' } });
    await until(() => b.acted.length === 2);
    expect(b.acted).toEqual([{ type: 'pause', channel: 'player-1' }, { type: 'send', channel: 'x', data: { hi: 1 } }]);
    expect(a.acted).toEqual([]);
  });

  it('ignores registrations that are not taps, and a tap registered twice', () => {
    const win = new FakeWindow();
    hook = createPageHook(win);
    const tap = new FakeTap('c1');
    hook.hook.register(tap);
    hook.hook.register(tap);
    hook.hook.register({ id: 42 } as never);
    hook.hook.register(null as never);
    expect([...hook.taps.keys()]).toEqual(['c1']);
  });

  it('forgets a tap when its connection is closed for good (after its disposed event)', async () => {
    const win = new FakeWindow();
    hook = createPageHook(win);
    const tap = new FakeTap('c1');
    const unregister = hook.hook.register(tap);
    const runtime = new FakeRuntime();
    bridge = startBridge(win, runtime, 'doc-1');
    tap.emit({ type: 'disposed', conn: 'c1', at: 2 });
    unregister?.();
    await until(() => runtime.events().length === 2);
    expect(runtime.events().map((e) => e.type)).toEqual(['connection', 'disposed']);
    expect(tap.listening).toBe(false);
    expect(hook.taps.size).toBe(0);
  });

  it('does not listen to a tap of another vocabulary version, and says why', async () => {
    const win = new FakeWindow();
    hook = createPageHook(win);
    const tap = Object.assign(new FakeTap('c9', 'ws://h/rt?token=x'), { version: 2 });
    expect(hook.hook.register(tap)).toBeUndefined();
    const runtime = new FakeRuntime();
    bridge = startBridge(win, runtime, 'doc-1');
    await until(() => runtime.events().length === 2);
    expect(tap.listening).toBe(false);
    expect(hook.taps.size).toBe(0);
    expect(runtime.events()).toMatchObject([
      { type: 'connection', conn: 'c9', url: 'ws://h/rt', actions: false },
      { type: 'error', conn: 'c9', code: 'RXMUX_DEVTOOLS_VERSION' },
    ]);
  });
});

describe('event validators', () => {
  const base = { conn: 'c1', at: 1 };
  it('accept what the core tap reports', () => {
    for (const event of [
      { ...base, type: 'disposed' },
      { ...base, type: 'status', from: 'reconnecting', to: 'open', resumed: true },
      { ...base, type: 'channel', channel: 'a', transport: 'ws', action: 'paused', subscribers: 1 },
      { ...base, type: 'channel', channel: 'a', transport: 'ws', action: 'resumed', subscribers: 1 },
      { ...base, type: 'frame', dir: 'in', transport: 'ws', frame: 'ack', channel: 'a', id: 3, bytes: 7 },
      { ...base, type: 'frame', dir: 'in', transport: 'ws', frame: 'response', channel: 'a', id: 4, bytes: 20, data: { ok: true } },
      { ...base, type: 'channel', channel: 'score', transport: 'sse', action: 'joined', subscribers: 1 },
      { ...base, type: 'stream', transport: 'sse', state: 'open', channels: 3 },
      { ...base, type: 'stream', transport: 'poll', state: 'retrying', channels: 1, retryIn: 2000, code: 'RXMUX_ERR_CONNECTION_LOST' },
    ]) expect(isDebugEvent(event), JSON.stringify(event)).toBe(true);
  });
  it('refuse malformed new fields', () => {
    expect(isDebugEvent({ ...base, type: 'status', from: 'reconnecting', to: 'open', resumed: 'yes' })).toBe(false);
    expect(isDebugEvent({ ...base, type: 'channel', channel: 'a', transport: 'ws', action: 'frozen', subscribers: 1 })).toBe(false);
    expect(isDebugEvent({ type: 'disposed', conn: 'c1' })).toBe(false);
    expect(isDebugEvent({ ...base, type: 'stream', transport: 'ws', state: 'open', channels: 1 })).toBe(false);
    expect(isDebugEvent({ ...base, type: 'stream', transport: 'sse', state: 'asleep', channels: 1 })).toBe(false);
    expect(isDebugEvent({ ...base, type: 'stream', transport: 'sse', state: 'open', channels: -1 })).toBe(false);
  });
});

describe('a hostile page', () => {
  async function setup(): Promise<{ win: FakeWindow; runtime: FakeRuntime; tap: FakeTap }> {
    const win = new FakeWindow();
    hook = createPageHook(win);
    const tap = new FakeTap('c1');
    hook.hook.register(tap);
    const runtime = new FakeRuntime();
    bridge = startBridge(win, runtime, 'doc-1');
    await until(() => runtime.events().length === 1);
    return { win, runtime, tap };
  }
  const event = publication('c1', 'a', 1);

  it('cannot get forged events past the bridge', async () => {
    const { win, runtime, tap } = await setup();
    const other = new FakeWindow();
    win.dispatch({ source: PAGE_SOURCE, type: 'events', events: [event] }, other); // from another window (an iframe)
    win.dispatch({ source: 'someone-else', type: 'events', events: [event] }, win); // wrong tag
    win.dispatch({ source: PAGE_SOURCE, type: 'events', events: 'lots' }, win); // wrong shape
    win.dispatch({ source: PAGE_SOURCE, type: 'events', events: [{ ...event, type: 'frame', dir: 'sideways' }] }, win);
    win.dispatch({ source: PAGE_SOURCE, type: 'events', events: [{ type: 'status', conn: 'c1', at: 1, from: 'open', to: 'exploded' }] }, win);
    win.dispatch({ source: PAGE_SOURCE, type: 'events', events: [{ ...event, conn: 'x'.repeat(5000) }] }, win);
    win.dispatch({ source: PAGE_SOURCE, type: 'events', events: Array.from({ length: MAX_EVENTS_PER_MESSAGE + 1 }, () => event) }, win); // too many
    win.dispatch({ source: PAGE_SOURCE, type: 'events', events: [{ ...event, data: 'x'.repeat(5 * 1024 * 1024) }] }, win); // too big
    win.dispatch(null, win);
    win.dispatch('rxmux', win);
    // A marker the checks accept: once it is through, everything before it was handled.
    tap.emit(publication('c1', 'a', 2));
    await until(() => runtime.events().length === 2);
    expect(runtime.events().map((e) => e.type === 'frame' && e.seq)).toEqual([false, 2]);
  });

  it('cannot make the hook act from another window or with a malformed action', async () => {
    const { win, runtime, tap } = await setup();
    win.dispatch({ source: CONTENT_SOURCE, type: 'act', conn: 'c1', action: { type: 'drop' } }, new FakeWindow());
    win.dispatch({ source: CONTENT_SOURCE, type: 'act', conn: 'c1', action: { type: 'send', channel: 'a' } }, win); // no data
    win.dispatch({ source: CONTENT_SOURCE, type: 'act', conn: 'c1', action: { type: 'pause', channel: 7 } }, win);
    win.dispatch({ source: CONTENT_SOURCE, type: 'act', conn: 'c1', action: { type: 'resume', channel: 'ok' } }, win); // marker
    await until(() => tap.acted.length === 1);
    expect(tap.acted).toEqual([{ type: 'resume', channel: 'ok' }]);
    expect(runtime.received.filter((m) => m.type === 'events')).toHaveLength(1);
  });

  it('does not wake the background for a page without rxmux traffic', async () => {
    const win = new FakeWindow();
    hook = createPageHook(win);
    const runtime = new FakeRuntime();
    bridge = startBridge(win, runtime, 'doc-1');
    win.dispatch({ source: PAGE_SOURCE, type: 'events', events: [] }, win);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(runtime.background).toHaveLength(0);
  });
});

describe('bridge and the worker lifecycle', () => {
  it('reconnects lazily after the worker stopped, saying hello again', async () => {
    const win = new FakeWindow();
    hook = createPageHook(win);
    const tap = new FakeTap('c1');
    hook.hook.register(tap);
    const runtime = new FakeRuntime();
    bridge = startBridge(win, runtime, 'doc-1');
    await until(() => runtime.events().length === 1);
    (runtime.background[0] as FakePort).disconnect(); // the worker stopped
    await until(() => runtime.background.length === 1 && !(runtime.background[0] as FakePort).connected);
    expect(runtime.background).toHaveLength(1); // no reconnect until there is something to say
    tap.emit(publication('c1', 'a', 9));
    await until(() => runtime.events().length === 2);
    expect(runtime.background).toHaveLength(2);
    expect(runtime.received.filter((m) => m.type === 'hello')).toHaveLength(2);
  });

  it('stops listening to the page once the extension context is gone', async () => {
    const win = new FakeWindow();
    const runtime = new FakeRuntime();
    runtime.dead = true;
    hook = createPageHook(win);
    const tap = new FakeTap('c1');
    bridge = startBridge(win, runtime, 'doc-1');
    const before = win.listenerCount;
    hook.hook.register(tap);
    await until(() => win.listenerCount === before - 1);
  });
});
