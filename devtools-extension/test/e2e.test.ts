/**
 * The real extension in Debian's Chromium (playwright-core).
 *
 * 1. Scripted pages: a page whose fake tap registers with the hook, the panel
 *    opened as `chrome-extension://<id>/panel.html?tabId=<tab>`, live events,
 *    an action back to the tap; a page with a bare rxmux WebSocket captured
 *    with `chrome.debugger`.
 * 2. The demo (`packages/demo`, its real server and page, nine components on
 *    one WebSocket and one EventSource) through the real core tap: every
 *    channel with counts that agree with the demo's own panel, the service
 *    worker's buffer by tab and channel, a send appearing live, actions
 *    reaching the page (pause, resume, drop and resume), the demo without its
 *    tap (`?tap=off`) decoded by the debugger capture, and a HAR file of the
 *    same socket. Writes the screenshots (see `shot`).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decode, encode, encodeText, subprotocolVersion } from '@rxmux/core/protocol';
import type { CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { buildDemo, DemoProcess } from '../../test/e2e/support.js';
import { buildExtension, cell, count, ExtensionBrowser, poll, ROOT, shot } from './chromium.js';
import { TAP_PAGE, WS_PAGE } from './fixtures/pages.js';

// Undefined until beforeAll gets that far: afterAll cleans up what was started, also after a failed start.
let browser: ExtensionBrowser | undefined;
let server: Server | undefined;
let wss: WebSocketServer | undefined;
let origin: string;

/** A tiny rxmux server: welcome, subscribed, a publication per channel, a response, a binary echo. */
function startWs(http: Server): WebSocketServer {
  const ws = new WebSocketServer({ server: http, path: '/rt', handleProtocols: (protocols) => (protocols.has('rxmux.v1') ? 'rxmux.v1' : false) });
  ws.on('connection', (socket) => {
    socket.on('message', (raw, isBinary) => {
      const { frames } = decode(isBinary ? new Uint8Array(raw as Buffer) : (raw as Buffer).toString());
      for (const frame of frames) {
        if (frame.type === 'hello') socket.send(encodeText({ type: 'welcome', version: 1, session: 's-e2e', heartbeat: 0 }));
        if (frame.type === 'subscribe') {
          socket.send(encodeText({ type: 'subscribed', channel: frame.channel, epoch: 'E2E', seq: 0 }));
          socket.send(encodeText({ type: 'publication', channel: frame.channel, data: { hello: frame.channel }, seq: 1 }));
        }
        if (frame.type === 'request') socket.send(encodeText({ type: 'response', id: frame.id, data: { avg: 71.5 } }));
        if (frame.type === 'message' && frame.data instanceof Uint8Array) {
          socket.send(encode({ type: 'publication', channel: frame.channel, data: frame.data, seq: 2 }));
        }
      }
    });
  });
  return ws;
}

const ext = (): ExtensionBrowser => {
  if (browser === undefined) throw new Error('Chromium did not start');
  return browser;
};

beforeAll(async () => {
  await buildExtension();
  const http = createServer((req, res) => {
    const page = req.url === '/tap.html' ? TAP_PAGE : req.url === '/ws.html' ? WS_PAGE : undefined;
    res.writeHead(page === undefined ? 404 : 200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page ?? 'not found');
  });
  server = http;
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  wss = startWs(http);
  browser = await ExtensionBrowser.launch();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  wss?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

describe('the extension in Chromium, scripted pages', () => {
  it('shows the channels a page’s tap reported, live events, and relays actions to the tap', async () => {
    const { page, tabId } = await ext().openTab(`${origin}/tap.html`);
    expect(await page.locator('body').getAttribute('data-hook')).toBe('yes'); // the MAIN-world hook ran first
    const panel = await ext().openPanel(tabId);

    await expect.poll(() => cell(panel, 'player-1', 'in'), poll).toBe('6'); // five publications and the response
    expect(await cell(panel, 'player-1', 'out')).toBe('1');
    expect(await cell(panel, 'player-1', 'subscribers')).toBe('2');
    expect(await cell(panel, 'player-1', 'seq')).toBe('45');
    expect(await cell(panel, 'player-2', 'in')).toBe('3');
    expect(await cell(panel, 'player-2', 'gaps')).toBe('1');
    expect(await cell(panel, 'audio', 'out')).toBe('2');
    expect(await cell(panel, 'match-score', 'in')).toBe('3');
    expect(await panel.locator('.connection').getAttribute('data-status')).toBe('open');
    expect(await panel.locator('.timeline .step-text').allTextContents()).toEqual(['connecting', 'open', 'reconnecting #1 in 800 ms (1006 network lost)', 'open · resumed']);

    // An event emitted now appears live.
    await page.evaluate(() => (window as unknown as { __emit: (e: object) => void }).__emit({ type: 'frame', dir: 'in', transport: 'ws', frame: 'publication', channel: 'player-1', bytes: 30, seq: 46, data: { bpm: 99 } }));
    await expect.poll(() => cell(panel, 'player-1', 'in'), poll).toBe('7');

    // Pause a channel from the panel: the action reaches the page's tap, whose answer sets the badge.
    await panel.locator('tr[data-channel="player-2"] button', { hasText: 'Pause' }).click();
    await expect.poll(() => page.evaluate(() => (window as unknown as { __acted: unknown[] }).__acted), poll).toEqual([{ type: 'pause', channel: 'player-2' }]);
    await expect.poll(() => panel.locator('.log-row[data-kind="panel-action"]').count(), poll).toBe(1);
    await expect.poll(() => panel.locator('tr[data-channel="player-2"] .badge').textContent(), poll).toBe('paused');

    await panel.locator('.log-row[data-kind="response"]').click();
    await panel.locator('.detail .json-tree').waitFor();
    await panel.screenshot({ path: shot('tap-page.png') });
    await panel.close();
    await page.close();
  }, 60_000);

  it('captures a page without the hook through chrome.debugger, decoded per channel', async () => {
    const { page, tabId } = await ext().openTab(`${origin}/ws.html`);
    const panel = await ext().openPanel(tabId, { width: 1000, height: 420 });
    await panel.locator('.empty').waitFor();
    await panel.screenshot({ path: shot('screenshot-empty.png') });
    await panel.getByRole('button', { name: 'Capture with debugger' }).first().click();
    await expect.poll(() => panel.getByRole('button', { name: 'Stop capture' }).count(), poll).toBe(1);
    expect(await page.evaluate(() => (window as unknown as { start: () => Promise<number> }).start())).toBeGreaterThanOrEqual(5);

    await expect.poll(() => cell(panel, 'player-1', 'in'), poll).toBe('2'); // its publication and the response, named after its request
    await expect.poll(() => cell(panel, 'audio', 'in'), poll).toBe('2'); // its publication and the binary echo
    expect(await cell(panel, 'audio', 'out')).toBe('1');
    expect(await cell(panel, 'player-1', 'out')).toBe('1'); // the request
    expect(await cell(panel, 'player-1', 'seq')).toBe('1');
    expect(await panel.locator('.connection').getAttribute('data-status')).toBe('open');
    await expect.poll(() => panel.locator('.log-row[data-kind="response"] .latency').count(), poll).toBe(1);
    await expect.poll(() => panel.locator('.log-row', { hasText: 'binary 3 B  01 02 03' }).count(), poll).toBe(2);
    await panel.screenshot({ path: shot('screenshot-debugger.png') });

    await panel.getByRole('button', { name: 'Stop capture' }).click();
    await expect.poll(() => panel.getByRole('button', { name: 'Capture with debugger' }).count(), poll).toBeGreaterThan(0);
    await panel.close();
    await page.close();
  }, 60_000);
});

// ── the demo ────────────────────────────────────────────────────────────────

const PLAYERS = ['player-1', 'player-2', 'player-3', 'player-4'];
const SSE = ['match-score', 'match-dashboard', 'match-highlights'];
/** Channels whose traffic stops while the demo's streams are paused: their counts must agree exactly. */
const SETTLED = [...PLAYERS, 'manual-input', ...SSE];
const RECORDER = 'audio-recorder';
const DEMO_CHANNELS = [...SETTLED, RECORDER];
/**
 * The recorder sends a chunk every 100 ms whatever the server's streams do,
 * and the server answers each with its running byte count: between the two
 * reads of one comparison (the demo's panel renders at most every 200 ms, the
 * extension's after a hop through the service worker) up to ~2 s of its
 * traffic may differ.
 */
const RECORDER_SLACK = 20;

interface Counts {
  readonly in: number;
  readonly out: number;
}

/** The demo page's own per-channel counts (`<connection-panel>`: publications in, messages out, decoded on the wire). */
const demoCounts = (page: Page): Promise<Record<string, Counts>> =>
  page.locator('connection-panel').evaluate((el) => {
    const out: Record<string, { in: number; out: number }> = {};
    for (const tr of el.shadowRoot?.querySelectorAll('tbody tr') ?? []) {
      const td = [...tr.querySelectorAll('td')].map((c) => c.textContent.trim());
      if (td[0] !== undefined) out[td[0]] = { in: Number(td[2]), out: Number(td[3]) };
    }
    return out;
  });

/** The panel's channel table: messages in and out per channel. */
const panelCounts = (panel: Page): Promise<Record<string, Counts>> =>
  panel.evaluate(() => {
    const num = (row: Element, col: string): number => Number(row.querySelector(`[data-col="${col}"]`)?.textContent.replace(/,/g, '') ?? Number.NaN);
    const out: Record<string, { in: number; out: number }> = {};
    for (const row of document.querySelectorAll('tr[data-channel]')) out[row.getAttribute('data-channel') ?? ''] = { in: num(row, 'in'), out: num(row, 'out') };
    return out;
  });

/**
 * Where the panel and the demo's panel disagree (empty: they agree). The
 * demo counts publications in and messages out; the panel counts every data
 * frame (message, publication, request, response) each way, which comes to
 * the same on the demo's channels (it makes no requests). Exact on the
 * channels the paused streams silence; within the slack on the recorder.
 */
async function disagreements(page: Page, panel: Page): Promise<string[]> {
  const [demo, mine] = await Promise.all([demoCounts(page), panelCounts(panel)]);
  const problems: string[] = [];
  for (const channel of SETTLED) {
    const d = demo[channel];
    const m = mine[channel];
    if (d?.in !== m?.in || d?.out !== m?.out || d === undefined) problems.push(`${channel}: demo ${JSON.stringify(d)}, panel ${JSON.stringify(m)}`);
  }
  const d = demo[RECORDER];
  const m = mine[RECORDER];
  if (d === undefined || m === undefined || d.out === 0 || Math.abs(d.out - m.out) > RECORDER_SLACK || Math.abs(d.in - m.in) > RECORDER_SLACK) {
    problems.push(`${RECORDER}: demo ${JSON.stringify(d)}, panel ${JSON.stringify(m)}`);
  }
  return problems;
}

/** Data frames per channel in the service worker's buffer of `tabId` (`storage.session`, what a restarted worker reads back). */
async function storedFrames(tabId: number): Promise<Record<string, number>> {
  const worker = await ext().serviceWorker();
  return worker.evaluate(async (tab) => {
    interface Stored { type: string; frame?: string; channel?: string }
    const storage = (globalThis as unknown as { chrome: { storage: { session: { get(keys: null): Promise<Record<string, unknown>> } } } }).chrome.storage.session;
    const all = await storage.get(null);
    const meta = all[`rxmux:tab:${tab}`] as { epoch: string } | undefined;
    const out: Record<string, number> = {};
    if (meta === undefined) return out;
    for (const [key, chunk] of Object.entries(all)) {
      if (!key.startsWith(`rxmux:tab:${tab}:${meta.epoch}:`)) continue;
      for (const e of chunk as Stored[]) {
        if (e.type === 'frame' && e.channel !== undefined && ['message', 'publication', 'request', 'response'].includes(e.frame ?? '')) out[e.channel] = (out[e.channel] ?? 0) + 1;
      }
    }
    return out;
  }, tabId);
}

/** Whether the demo build is older than what it is built from (then it is built again; `npm test` builds it first). */
function demoIsStale(): boolean {
  const outputs = ['packages/demo/dist/page/index.html', 'packages/demo/dist/server/main.js'].map((f) => join(ROOT, f));
  if (!outputs.every((f) => existsSync(f))) return true;
  const built = Math.min(...outputs.map((f) => statSync(f).mtimeMs));
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((max, d) => Math.max(max, d.isDirectory() ? newest(join(dir, d.name)) : statSync(join(dir, d.name)).mtimeMs), 0);
  return ['packages/demo/page', 'packages/demo/src', 'packages/core/src', 'packages/server/src'].some((dir) => newest(join(ROOT, dir)) > built);
}

/** Goes to `url` until the demo's page is there (a concurrent build of the demo may briefly leave its files missing). */
async function gotoDemo(page: Page, url: string): Promise<void> {
  await expect
    .poll(async () => {
      await page.goto(url).catch(() => undefined);
      return page.locator('status-banner').getAttribute('data-status', { timeout: 2000 }).catch(() => null);
    }, { timeout: 30_000, interval: 500 })
    .toBe('open');
}

/** A HAR document (Chrome's shape) of the rxmux sockets a CDP session saw. */
class HarRecorder {
  readonly #sockets = new Map<string, { url: string; started: number; protocol?: string; messages: { type: 'send' | 'receive'; time: number; opcode: number; data: string }[] }>();

  static async attach(session: CDPSession): Promise<HarRecorder> {
    const recorder = new HarRecorder();
    const sockets = recorder.#sockets;
    session.on('Network.webSocketCreated', (e) => sockets.set(e.requestId, { url: e.url, started: Date.now(), messages: [] }));
    session.on('Network.webSocketHandshakeResponseReceived', (e) => {
      const socket = sockets.get(e.requestId);
      const header = Object.entries(e.response.headers).find(([name]) => name.toLowerCase() === 'sec-websocket-protocol');
      if (socket !== undefined && header !== undefined) socket.protocol = header[1];
    });
    const frame = (type: 'send' | 'receive') => (e: { requestId: string; timestamp: number; response: { opcode: number; payloadData: string } }): void => {
      sockets.get(e.requestId)?.messages.push({ type, time: Date.now() / 1000, opcode: e.response.opcode, data: e.response.payloadData });
    };
    session.on('Network.webSocketFrameSent', frame('send'));
    session.on('Network.webSocketFrameReceived', frame('receive'));
    await session.send('Network.enable');
    return recorder;
  }

  /** Publication frames received per channel, decoded here with the codec (independently of the panel). */
  publications(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const socket of this.#sockets.values()) {
      if (socket.protocol === undefined || subprotocolVersion(socket.protocol) === undefined) continue;
      for (const m of socket.messages) {
        if (m.type !== 'receive' || (m.opcode !== 1 && m.opcode !== 2)) continue;
        const payload = m.opcode === 1 ? m.data : new Uint8Array(Buffer.from(m.data, 'base64'));
        for (const f of decode(payload).frames) if (f.type === 'publication') out[f.channel] = (out[f.channel] ?? 0) + 1;
      }
    }
    return out;
  }

  har(): object {
    const entries = [...this.#sockets.values()].map((s) => ({
      _resourceType: 'websocket',
      startedDateTime: new Date(s.started).toISOString(),
      time: 0,
      request: { method: 'GET', url: s.url, headers: [] },
      response: { status: 101, headers: s.protocol === undefined ? [] : [{ name: 'Sec-WebSocket-Protocol', value: s.protocol }] },
      _webSocketMessages: s.messages,
    }));
    return { log: { version: '1.2', creator: { name: 'rxmux e2e', version: '1' }, entries } };
  }
}

describe('the extension in Chromium, on the demo', () => {
  let demo: DemoProcess | undefined;
  let page: Page;
  let panel: Page;
  let tabId: number;
  const theDemo = (): DemoProcess => {
    if (demo === undefined) throw new Error('the demo did not start');
    return demo;
  };
  const pauseStreams = async (paused: boolean): Promise<void> => {
    await page.getByTestId(paused ? 'chaos-pause' : 'chaos-resume').click();
    await expect.poll(() => page.locator('#chaos-result').textContent(), poll).toBe(paused ? 'streams paused' : 'streams resumed');
  };

  beforeAll(async () => {
    if (demoIsStale()) await buildDemo();
    demo = await DemoProcess.start(0);
  }, 120_000);

  afterAll(async () => {
    await demo?.kill();
  });

  it('shows every demo channel with the counts of the demo’s own panel; the worker keeps them by tab and channel', async () => {
    const opened = await ext().openTab('about:blank');
    page = opened.page;
    tabId = opened.tabId;
    await page.setViewportSize({ width: 1400, height: 900 });
    await gotoDemo(page, theDemo().url);
    panel = await ext().openPanel(tabId, { width: 1360, height: 860 });

    // An acknowledged send early on, so manual-input and the highlights have traffic.
    await page.locator('manual-input input[name="note"]').fill('kick-off');
    await page.locator('manual-input button[type="submit"]').click();
    await expect.poll(() => page.locator('manual-input li[data-note="kick-off"]').getAttribute('data-state'), poll).toBe('delivered');
    for (const channel of DEMO_CHANNELS) await expect.poll(() => count(panel, channel, channel === RECORDER ? 'out' : 'in'), poll).toBeGreaterThan(0);
    expect(await panel.locator('tr[data-channel="match-score"] td').nth(1).textContent()).toBe('sse');
    expect(await panel.locator('.connection[data-status="open"]').count()).toBe(1);
    expect(await panel.locator('.connection .conn-transports').textContent()).toBe('ws + sse'); // one connection, both transports
    expect(await panel.locator('.connection .conn-stream').getAttribute('data-stream')).toBe('open'); // its EventSource, as the tap reports it

    await expect.poll(() => count(panel, 'player-4', 'in'), poll).toBeGreaterThanOrEqual(12); // a few seconds of traffic
    // With the demo's streams paused only the recorder goes on: the two panels converge, exactly but for it.
    await pauseStreams(true);
    await expect.poll(() => disagreements(page, panel), { timeout: 20_000, interval: 250 }).toEqual([]);
    const [d, m] = await Promise.all([demoCounts(page), panelCounts(panel)]);
    console.log(`[devtools e2e] demo panel ${JSON.stringify(d)}\n[devtools e2e] extension ${JSON.stringify(m)}`);

    // The service worker holds the same frames, by tab and channel.
    await expect
      .poll(async () => {
        const stored = await storedFrames(tabId);
        const shown = await panelCounts(panel);
        return SETTLED.filter((c) => stored[c] !== (shown[c]?.in ?? 0) + (shown[c]?.out ?? 0));
      }, poll)
      .toEqual([]);
    expect(Object.keys(await storedFrames(tabId)).sort()).toEqual([...DEMO_CHANNELS].sort());
  }, 120_000);

  it('relays actions to the page: a paused channel stops its component until resumed; a dropped socket resumes', async () => {
    await pauseStreams(false);
    const monitor = page.locator('biometric-monitor[player="player-2"]');
    const shown = async (): Promise<number> => Number(await monitor.getAttribute('data-messages'));
    await panel.locator('tr[data-channel="player-2"] button', { hasText: /^Pause$/ }).click();
    await expect.poll(() => panel.locator('tr[data-channel="player-2"] .badge').textContent(), poll).toBe('paused'); // the tap's word
    const held = await shown();
    const inAtPause = await count(panel, 'player-2', 'in');
    // Beats keep arriving on the wire (the panel counts them) while the component shows none of them.
    await expect.poll(() => count(panel, 'player-2', 'in'), poll).toBeGreaterThanOrEqual(inAtPause + 4);
    expect(await shown()).toBe(held);

    await panel.locator('tr[data-channel="player-2"] button', { hasText: /^Resume$/ }).click();
    await expect.poll(shown, poll).toBeGreaterThanOrEqual(held + 4); // what was held, delivered in one go
    await expect.poll(() => panel.locator('tr[data-channel="player-2"] .badge').count(), poll).toBe(0);

    await panel.getByRole('button', { name: 'Drop connection' }).click();
    await expect
      .poll(async () => (await panel.locator('.connection .timeline .step-text').allTextContents()).slice(-2), poll)
      .toEqual([expect.stringMatching(/^reconnecting #1\b/), 'open · resumed']);
    await expect.poll(() => page.locator('status-banner').getAttribute('data-status'), poll).toBe('open');
    const beats = await shown();
    await expect.poll(shown, poll).toBeGreaterThan(beats); // and the stream goes on
    await panel.screenshot({ path: shot('demo-after-drop.png') });
  }, 60_000);

  it('shows a send made afterwards live, with its acknowledgement', async () => {
    await pauseStreams(true);
    const before = await panelCounts(panel);
    const mi = before['manual-input'] ?? { in: 0, out: 0 };
    await page.locator('manual-input select[name="kind"]').selectOption('shot');
    await page.locator('manual-input input[name="note"]').fill('far post, from the e2e test');
    await page.locator('manual-input button[type="submit"]').click();
    // One message out, acked; the server publishes the accepted entry back on the channel.
    await expect.poll(() => count(panel, 'manual-input', 'out'), poll).toBe(mi.out + 1);
    await expect.poll(() => count(panel, 'manual-input', 'in'), poll).toBe(mi.in + 1);
    const sent = panel.locator('.log-row[data-kind="message"]', { hasText: 'far post, from the e2e test' });
    await expect.poll(() => sent.count(), poll).toBe(1);
    await expect.poll(() => sent.locator('.latency').count(), poll).toBe(1); // acked, with its round trip
    await expect.poll(() => disagreements(page, panel), { timeout: 20_000, interval: 250 }).toEqual([]);

    // The screenshot: live traffic resumed, the acked send picked, its JSON open in the detail pane.
    await pauseStreams(false);
    await expect.poll(() => panel.locator('tr[data-channel="player-1"] [data-col="rate"]').textContent(), poll).not.toBe('0/s');
    // Pick the send wherever it is now: find it with the text filter, clear the filter (the selection stays),
    // then step off it and back with the keyboard, which scrolls it into view and off the bottom (the list
    // stops following new rows there), and place it a third of the way down.
    const filterBox = panel.getByRole('searchbox', { name: 'Filter text' });
    await filterBox.fill('far post, from the e2e test');
    await sent.click();
    await panel.locator('.detail .json-tree').waitFor();
    await filterBox.fill('');
    const list = panel.getByRole('grid', { name: 'Messages' });
    await list.focus();
    await list.press('ArrowUp');
    await list.press('ArrowDown');
    await list.blur(); // no focus ring in the screenshot
    await expect.poll(() => panel.locator('.log-box .log-row.selected[data-kind="message"]').count(), poll).toBe(1);
    await panel.evaluate(() => {
      const row = document.querySelector('.log-box .log-row.selected');
      const vlist = document.querySelector('.log-box .vlist');
      if (row === null || vlist === null) throw new Error('no selected row');
      vlist.scrollTop = Math.max(0, (Number(row.getAttribute('aria-rowindex')) - 1) * 20 - vlist.clientHeight / 3);
      vlist.dispatchEvent(new Event('scroll'));
    });
    await expect.poll(() => sent.count(), poll).toBe(1);
    await expect.poll(() => panel.locator('.detail').textContent(), poll).toContain('far post, from the e2e test');
    await panel.locator('.log-row[data-kind="ack"]').first().waitFor();
    await panel.screenshot({ path: shot('screenshot.png') });

    await panel.emulateMedia({ colorScheme: 'dark' });
    await panel.locator(`.log-row[data-kind="message"]`, { hasText: 'binary' }).first().click();
    await panel.locator('.detail .hex-dump').waitFor();
    await panel.screenshot({ path: shot('screenshot-dark.png') });
    await panel.emulateMedia({ colorScheme: 'light' });
  }, 60_000);

  it('decodes the demo without its tap (?tap=off) with the debugger capture, and a HAR file of the same socket', async () => {
    const { page: bare, tabId: bareTab } = await ext().openTab('about:blank');
    await gotoDemo(bare, new URL('/?tap=off', theDemo().url).href);
    // The page runs (its socket open) without a tap: the panel hears nothing from it.
    await expect.poll(() => bare.locator('status-banner').getAttribute('data-status'), poll).toBe('open');
    const bareCdp = await bare.context().newCDPSession(bare);
    const recorder = await HarRecorder.attach(bareCdp);
    const view = await ext().openPanel(bareTab, { width: 1360, height: 860 });
    await view.locator('.empty').waitFor(); // the page's connection registered with nobody
    expect(await view.locator('.empty').textContent()).toContain('No rxmux connection reported');
    // The capture starts on a blank page: a socket of this page that the capture saw created (a reconnect
    // under CPU load) would be torn down by the navigation below, and Chromium reports no close for it.
    await bare.goto('about:blank');

    await view.getByRole('button', { name: 'Capture with debugger' }).first().click();
    await expect.poll(() => view.getByRole('button', { name: 'Stop capture' }).count(), poll).toBe(1);
    // Sockets opened before the capture cannot be attributed: load the page again under it.
    await gotoDemo(bare, new URL('/?tap=off', theDemo().url).href);
    await bare.locator('manual-input input[name="note"]').fill('captured without a tap');
    await bare.locator('manual-input button[type="submit"]').click();
    for (const channel of DEMO_CHANNELS) await expect.poll(() => count(view, channel, channel === RECORDER || channel === 'manual-input' ? 'out' : 'in'), poll).toBeGreaterThan(0);
    // The acked send, timed from the frames as the tap would have (the filter keeps it in view).
    await view.getByRole('searchbox', { name: 'Filter text' }).fill('captured without a tap');
    await expect.poll(() => view.locator('.log-row[data-kind="message"] .latency').count(), poll).toBe(1);
    await view.getByRole('searchbox', { name: 'Filter text' }).fill('');
    // The live socket and the EventSource, as the browser saw them (a socket the page replaced under load, e.g. after a
    // reconnect, stays listed as closed).
    await expect.poll(() => view.locator('.connection:not([data-status="closed"])').count(), poll).toBe(2);
    expect(await view.locator('tr[data-channel="match-dashboard"] td').nth(1).textContent()).toBe('sse');
    await view.screenshot({ path: shot('demo-debugger.png') });

    // The same socket as a HAR file (recorded through CDP in Chrome's HAR shape), imported into the panel.
    await expect.poll(() => recorder.publications()['player-1'] ?? 0, poll).toBeGreaterThan(3);
    const har = recorder.har();
    const expected = recorder.publications();
    await view.locator('input[type="file"]').setInputFiles({ name: 'demo.har', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(har)) });
    await expect.poll(() => view.locator('.banner').textContent(), poll).toContain('from HAR');
    for (const channel of PLAYERS) expect(await count(view, channel, 'in')).toBe(expected[channel]);
    expect(await count(view, RECORDER, 'out')).toBeGreaterThan(0);
    expect(await view.locator('tr[data-channel="match-score"]').count()).toBe(0); // a HAR has the socket, not the EventSource
    await view.screenshot({ path: shot('demo-har.png') });

    await view.getByRole('button', { name: 'Back to live' }).click();
    // A reload under the capture: it starts over with the new page's socket and stream. The old page's socket went
    // with it, though Chromium reports no close for a socket a navigation tore down (the navigation says so): it is
    // not named again as live.
    await gotoDemo(bare, new URL('/?tap=off', theDemo().url).href);
    await expect.poll(() => bare.locator('status-banner').getAttribute('data-status'), poll).toBe('open');
    for (const channel of PLAYERS) await expect.poll(() => count(view, channel, 'in'), poll).toBeGreaterThan(0);
    await expect.poll(() => view.locator('.connection:not([data-status="closed"])').count(), poll).toBe(2);
    await view.getByRole('button', { name: 'Stop capture' }).click();
    await expect.poll(() => view.getByRole('button', { name: 'Capture with debugger' }).count(), poll).toBeGreaterThan(0);
    await bareCdp.detach();
    await view.close();
    await bare.close();
  }, 120_000);
});
