/**
 * The background router with fake ports, a fake `storage.session` and a fake
 * `chrome.debugger`: routing by tab, the bounded buffer written in batches,
 * a simulated worker restart, navigation, actions and the debugger capture.
 */
import type { DebugEvent } from '@rxmux/core/debug';
import { encodeText } from '@rxmux/core/protocol';
import { describe, expect, it } from 'vitest';
import { Router, type DebuggeeLike, type DebuggerLike } from '../src/background/router.js';
import { CHUNK_EVENTS } from '../src/background/tab-buffer.js';
import type { BackgroundToContent, BackgroundToPanel, TabState } from '../src/messaging/runtime.js';
import { CONTENT_PORT, PANEL_PORT } from '../src/messaging/runtime.js';
import { FakePort, FakeStorage, portPair, publication, until } from './fakes.js';

class FakeDebugger implements DebuggerLike {
  readonly calls: string[] = [];
  failAttach: string | undefined;
  attach(target: DebuggeeLike): Promise<void> {
    this.calls.push(`attach ${target.tabId}`);
    return this.failAttach === undefined ? Promise.resolve() : Promise.reject(new Error(this.failAttach));
  }
  detach(target: DebuggeeLike): Promise<void> {
    this.calls.push(`detach ${target.tabId}`);
    return Promise.resolve();
  }
  sendCommand(target: DebuggeeLike, method: string): Promise<unknown> {
    this.calls.push(`${method} ${target.tabId}`);
    return Promise.resolve({});
  }
}

function setup(storage = new FakeStorage(), capacity?: number) {
  const sentToTabs: { tabId: number; message: BackgroundToContent }[] = [];
  const dbg = new FakeDebugger();
  const capturing: boolean[] = [];
  const router = new Router({
    storage,
    onCapturing: (on) => void capturing.push(on),
    sendToTab: (tabId, message) => {
      sentToTabs.push({ tabId, message });
      return Promise.resolve();
    },
    debugger: dbg,
    flushDelay: 5,
    ...(capacity === undefined ? {} : { capacity }),
  });
  const content = (tabId: number, doc = `doc-${tabId}`, frameId = 0): FakePort => {
    const [page, bg] = portPair(CONTENT_PORT, { tab: { id: tabId }, frameId });
    router.connect(bg);
    page.postMessage({ type: 'hello', doc, url: `http://127.0.0.1/tab-${tabId}` });
    return page;
  };
  const panel = (tabId: number, resume: { epoch?: string; after?: number } = {}) => {
    const [end, bg] = portPair(PANEL_PORT);
    const received: BackgroundToPanel[] = [];
    end.onMessage.addListener((m) => received.push(m as BackgroundToPanel));
    router.connect(bg);
    end.postMessage({ type: 'subscribe', tabId, ...resume });
    const events = (): DebugEvent[] => received.flatMap((m) => (m.type === 'events' ? [...m.events] : []));
    const state = (): TabState | undefined => received.filter((m) => m.type === 'state').at(-1)?.state;
    const lastEvents = () => received.filter((m) => m.type === 'events').at(-1);
    return { end, received, events, state, lastEvents };
  };
  return { router, storage, sentToTabs, dbg, content, panel, capturing };
}

const seqs = (events: DebugEvent[]): (number | undefined)[] => events.map((e) => (e.type === 'frame' ? e.seq : undefined));
const batch = (from: number, to: number, conn = 'c1'): DebugEvent[] => Array.from({ length: to - from + 1 }, (_, i) => publication(conn, 'a', from + i));

describe('routing by tab', () => {
  it('sends a tab’s events to the panels of that tab only, live after a snapshot', async () => {
    const { content, panel } = setup();
    const tab1 = content(1);
    const tab2 = content(2);
    tab1.postMessage({ type: 'events', events: batch(1, 3) });
    const p1 = panel(1);
    const p2 = panel(2);
    await until(() => p1.events().length === 3);
    expect(p1.received[0]).toMatchObject({ type: 'events', first: 0, reset: true });
    expect(p1.state()).toEqual({ url: 'http://127.0.0.1/tab-1', bridge: true, capture: 'off' });
    tab1.postMessage({ type: 'events', events: batch(4, 5) });
    tab2.postMessage({ type: 'events', events: batch(100, 100, 'other') });
    await until(() => p1.events().length === 5 && p2.events().length === 1);
    expect(seqs(p1.events())).toEqual([1, 2, 3, 4, 5]);
    expect(p1.lastEvents()).toMatchObject({ first: 3, reset: false });
    expect(seqs(p2.events())).toEqual([100]);
  });

  it('relays actions to the inspected tab, and nothing before subscribe', async () => {
    const { router, sentToTabs, panel } = setup();
    const [early, bg] = portPair(PANEL_PORT);
    router.connect(bg);
    early.postMessage({ type: 'act', conn: 'c1', action: { type: 'drop' } });
    const p = panel(4);
    await until(() => p.received.length >= 2);
    p.end.postMessage({ type: 'act', conn: 'c1', action: { type: 'pause', channel: 'a' } });
    await until(() => sentToTabs.length === 1);
    expect(sentToTabs).toEqual([{ tabId: 4, message: { type: 'act', conn: 'c1', action: { type: 'pause', channel: 'a' } } }]);
  });

  it('ignores forged and malformed messages, and content ports of subframes', async () => {
    const { router, content, panel } = setup();
    const tab = content(1);
    const p = panel(1);
    tab.postMessage({ type: 'events', events: [{ type: 'frame', conn: 'c1' }] });
    tab.postMessage({ type: 'events', events: 'x' });
    tab.postMessage({ type: 'act', conn: 'c1', action: { type: 'drop' } });
    p.end.postMessage({ type: 'subscribe', tabId: -1 });
    p.end.postMessage({ type: 'capture', on: 'yes' });
    const [frame, frameBg] = portPair(CONTENT_PORT, { tab: { id: 1 }, frameId: 3 });
    router.connect(frameBg);
    expect(frame.connected).toBe(false);
    const [stranger, bg] = portPair('someone');
    router.connect(bg);
    expect(stranger.connected).toBe(false);
    tab.postMessage({ type: 'events', events: batch(1, 1) });
    await until(() => p.events().length === 1);
    expect(seqs(p.events())).toEqual([1]);
  });
});

describe('the per-tab buffer', () => {
  it('writes to storage.session in batches, not per event', async () => {
    const { router, storage, content } = setup();
    const tab = content(1);
    for (let i = 0; i < 50; i++) tab.postMessage({ type: 'events', events: batch(i * 10 + 1, i * 10 + 10) });
    await until(() => storage.data.size > 0);
    await router.flush();
    expect(storage.sets).toBeLessThan(5);
    expect([...storage.data.keys()].filter((k) => k.startsWith('rxmux:tab:1:'))).toHaveLength(Math.ceil(500 / CHUNK_EVENTS));
  });

  it('is bounded: old chunks are evicted from memory and storage', async () => {
    const { router, storage, content, panel } = setup(new FakeStorage(), 500);
    const tab = content(1);
    for (let i = 0; i < 20; i++) tab.postMessage({ type: 'events', events: batch(i * 100 + 1, i * 100 + 100) });
    await until(() => storage.data.size > 0);
    const p = panel(1);
    await until(() => p.events().length > 0);
    await router.flush();
    expect(p.events().length).toBeGreaterThanOrEqual(500);
    expect(p.events().length).toBeLessThanOrEqual(500 + CHUNK_EVENTS);
    expect(seqs(p.events()).at(-1)).toBe(2000);
    expect([...storage.data.keys()].length).toBeLessThanOrEqual(1 + Math.ceil((500 + CHUNK_EVENTS) / CHUNK_EVENTS));
  });

  it('survives the worker being stopped: a reconnecting panel gets exactly what it missed', async () => {
    const storage = new FakeStorage();
    const first = setup(storage);
    const tab = first.content(1);
    const p = first.panel(1);
    tab.postMessage({ type: 'events', events: batch(1, 250) });
    await until(() => p.events().length === 250);
    await first.router.flush();
    const epoch = p.lastEvents()?.epoch;

    // Chrome stops the worker: every port dies with it; a new worker starts cold on the same storage.
    tab.other?.kill();
    p.end.other?.kill();
    const second = setup(storage);
    const tabAgain = second.content(1); // same document: same doc id
    tabAgain.postMessage({ type: 'events', events: batch(251, 260) });
    const resumed = second.panel(1, { ...(epoch === undefined ? {} : { epoch }), after: 249 });
    await until(() => resumed.events().length === 10);
    expect(resumed.received[0]).toMatchObject({ type: 'events', first: 250, reset: false, epoch });
    expect(seqs(resumed.events())).toEqual(Array.from({ length: 10 }, (_, i) => 251 + i));

    // A panel opened after the restart sees the whole kept capture.
    const fresh = second.panel(1);
    await until(() => fresh.events().length === 260);
    expect(seqs(fresh.events()).slice(0, 3)).toEqual([1, 2, 3]);
  });

  it('restarts on navigation (a new document, or the old one gone) and is removed with its tab', async () => {
    const { router, storage, content, panel } = setup();
    const tab = content(1, 'doc-a');
    tab.postMessage({ type: 'events', events: batch(1, 5) });
    const p = panel(1);
    await until(() => p.events().length === 5);
    const next = content(1, 'doc-b'); // a new document said hello
    await until(() => p.received.filter((m) => m.type === 'events' && m.reset).length === 2);
    next.postMessage({ type: 'events', events: batch(1, 2) });
    await until(() => p.lastEvents()?.events.length === 2);
    tab.disconnect(); // the old document's port closing late must not wipe the new one
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(p.received.filter((m) => m.type === 'events' && m.reset)).toHaveLength(2);
    next.disconnect();
    await until(() => p.received.filter((m) => m.type === 'events' && m.reset).length === 3);
    await router.flush();
    await router.tabRemoved(1);
    expect([...storage.data.keys()]).toEqual([]);
  });

  it('clears on request from the panel', async () => {
    const { content, panel } = setup();
    const tab = content(1);
    tab.postMessage({ type: 'events', events: batch(1, 5) });
    const p = panel(1);
    await until(() => p.events().length === 5);
    p.end.postMessage({ type: 'clear' });
    await until(() => p.lastEvents()?.reset === true && p.received.length > 2);
    const late = panel(1);
    await until(() => late.received.length >= 2);
    expect(late.events()).toEqual([]);
  });
});

describe('debugger capture', () => {
  it('attaches, enables Network, decodes frames per channel, and detaches', async () => {
    const { router, dbg, panel, capturing } = setup();
    const p = panel(3);
    await until(() => p.state() !== undefined);
    p.end.postMessage({ type: 'capture', on: true });
    await until(() => p.state()?.capture === 'on');
    expect(dbg.calls).toEqual(['attach 3', 'Network.enable 3', 'Page.enable 3']);
    router.debuggerEvent(3, 'Network.webSocketCreated', { requestId: 'r1', url: 'ws://127.0.0.1/rt' });
    router.debuggerEvent(3, 'Network.webSocketHandshakeResponseReceived', { requestId: 'r1', timestamp: 1, response: { headers: { 'sec-websocket-protocol': 'rxmux.v1' } } });
    router.debuggerEvent(3, 'Network.webSocketFrameReceived', { requestId: 'r1', timestamp: 2, response: { opcode: 1, payloadData: encodeText({ type: 'publication', channel: 'score', data: 1, seq: 1 }) } });
    await until(() => p.events().some((e) => e.type === 'frame'));
    expect(p.events().find((e) => e.type === 'frame')).toMatchObject({ conn: 'cdp-ws-r1', channel: 'score', seq: 1 });
    p.end.postMessage({ type: 'capture', on: false });
    await until(() => p.state()?.capture === 'off');
    expect(dbg.calls.at(-1)).toBe('detach 3');
    expect(capturing).toEqual([true, false]); // navigations are watched only meanwhile
  });

  it('keeps naming the sockets it decodes when the page loads again under capture, whatever arrives first', async () => {
    const { router, panel } = setup();
    const p = panel(3);
    await until(() => p.state() !== undefined);
    p.end.postMessage({ type: 'capture', on: true });
    await until(() => p.state()?.capture === 'on');
    router.debuggerEvent(3, 'Network.webSocketCreated', { requestId: 'r1', url: 'ws://127.0.0.1/rt' });
    router.debuggerEvent(3, 'Network.webSocketHandshakeResponseReceived', { requestId: 'r1', timestamp: 1, response: { headers: { 'sec-websocket-protocol': 'rxmux.v1' } } });
    router.debuggerEvent(3, 'Network.webSocketFrameReceived', { requestId: 'r1', timestamp: 2, response: { opcode: 1, payloadData: encodeText({ type: 'welcome', version: 1, session: 's', heartbeat: 0 }) } });
    await until(() => p.events().some((e) => e.type === 'status' && e.to === 'open'));
    // The tab's 'loading' notice comes after the new document's socket was already decoded.
    await router.tabLoading(3);
    await until(() => p.lastEvents()?.events.some((e) => e.type === 'connection') === true);
    expect(p.lastEvents()?.events.map((e) => e.type)).toEqual(['connection', 'status']);
    expect(p.lastEvents()?.events[1]).toMatchObject({ conn: 'cdp-ws-r1', from: 'closed', to: 'open' });
  });

  it('reports a failed attach (another debugger, say) and a detach by the user', async () => {
    const { router, dbg, panel } = setup();
    dbg.failAttach = 'Another debugger is already attached to the tab with id: 3.';
    const p = panel(3);
    p.end.postMessage({ type: 'capture', on: true });
    await until(() => p.state()?.capture === 'error');
    expect(p.state()?.captureError).toMatch(/Another debugger/);
    dbg.failAttach = undefined;
    p.end.postMessage({ type: 'capture', on: true });
    await until(() => p.state()?.capture === 'on');
    await router.debuggerDetached(3, 'canceled_by_user');
    expect(p.state()).toMatchObject({ capture: 'error', captureError: 'detached: canceled_by_user' });
  });
});
