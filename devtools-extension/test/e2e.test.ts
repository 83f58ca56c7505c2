/**
 * The real extension in Debian's Chromium (playwright-core): a page whose
 * fake tap registers with the hook, the panel opened as
 * `chrome-extension://<id>/panel.html?tabId=<tab>`, live events, an action
 * back to the tap; then a page without the hook captured with
 * `chrome.debugger`. Also saves the screenshot of the panel with traffic.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { decode, encode, encodeText } from '@rxmux/core/protocol';
import { chromium, type BrowserContext, type Page, type Worker } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { TAP_PAGE, WS_PAGE } from './fixtures/pages.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
const CHROMIUM = process.env.RXMUX_CHROMIUM ?? '/usr/bin/chromium';
const poll = { timeout: 15_000, interval: 100 };

// Undefined until beforeAll gets that far: afterAll cleans up what was started, also after a failed start.
let server: Server | undefined;
let wss: WebSocketServer | undefined;
let origin: string;
let context: BrowserContext | undefined;
let profile: string | undefined;
let extensionId: string;

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

async function buildExtension(): Promise<void> {
  // vitest runs with NODE_ENV=test; the extension is built as it ships.
  await promisify(execFile)('npm', ['run', 'build:extension'], { cwd: ROOT, env: { ...process.env, NODE_ENV: 'production' } });
}

/** The extension's service worker now (Chrome may have stopped and restarted it since). */
async function serviceWorker(): Promise<Worker> {
  return context!.serviceWorkers()[0] ?? (await context!.waitForEvent('serviceworker', { timeout: 15_000 }));
}

/** Opens `path` on the test server in a new tab; returns the page and its tab id (found as the tab that was not there before). */
async function openTab(path: string): Promise<{ page: Page; tabId: number }> {
  interface Tabs { tabs: { query(query: object): Promise<{ id?: number }[]> } }
  const ids = async (): Promise<number[]> => (await serviceWorker()).evaluate(async () => (await (globalThis as unknown as { chrome: Tabs }).chrome.tabs.query({})).map((t) => t.id ?? -1));
  const before = new Set(await ids());
  const page = await context!.newPage();
  await page.goto(`${origin}${path}`);
  let tabId: number | undefined;
  await expect.poll(async () => (tabId = (await ids()).find((id) => !before.has(id))), poll).toBeDefined();
  return { page, tabId: tabId as number };
}

async function openPanel(tabId: number, viewport = { width: 1280, height: 720 }): Promise<Page> {
  const panel = await context!.newPage();
  await panel.setViewportSize(viewport);
  await panel.goto(`chrome-extension://${extensionId}/panel.html?tabId=${tabId}`);
  return panel;
}

/**
 * Where a screenshot goes: test-artifacts/ on every run; over the committed
 * devtools-extension/screenshot.png and screenshot-dark.png with RXMUX_UPDATE_SCREENSHOTS=1.
 */
function shot(name: string): string {
  if (process.env.RXMUX_UPDATE_SCREENSHOTS === '1' && (name === 'screenshot.png' || name === 'screenshot-dark.png')) return join(ROOT, 'devtools-extension', name);
  mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
  return join(ROOT, 'test-artifacts', `devtools-${name}`);
}

const cell = (panel: Page, channel: string, col: string): Promise<string | null> => panel.locator(`tr[data-channel="${channel}"] [data-col="${col}"]`).textContent({ timeout: 1000 }).catch(() => null);

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`node scripts/ensure-chromium.mjs\``);
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
  profile = mkdtempSync(join(tmpdir(), 'rxmux-devtools-e2e-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: false, // '--headless=new' below: extensions need the new headless mode
    ignoreDefaultArgs: ['--disable-extensions'],
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--disable-extensions-except=${DIST}`,
      `--load-extension=${DIST}`,
    ],
  });
  extensionId = new URL((await serviceWorker()).url()).host;
}, 90_000);

afterAll(async () => {
  await context?.close();
  wss?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  if (profile) rmSync(profile, { recursive: true, force: true });
});

describe('the extension in Chromium', () => {
  it('shows the channels a page’s tap reported, live events, and relays actions to the tap', async () => {
    const { page, tabId } = await openTab('/tap.html');
    expect(await page.locator('body').getAttribute('data-hook')).toBe('yes'); // the MAIN-world hook ran first
    const panel = await openPanel(tabId);

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

    // Pause a channel from the panel: the action reaches the page's tap.
    await panel.locator('tr[data-channel="player-2"] button', { hasText: 'Pause' }).click();
    await expect.poll(() => page.evaluate(() => (window as unknown as { __acted: unknown[] }).__acted), poll).toEqual([{ type: 'pause', channel: 'player-2' }]);
    await expect.poll(() => panel.locator('.log-row[data-kind="panel-action"]').count(), poll).toBe(1);
    await expect.poll(() => panel.locator('tr[data-channel="player-2"] .badge').textContent(), poll).toBe('paused'); // the tap's word

    // The screenshot of the panel with traffic, a payload open in the detail pane.
    await panel.locator('.log-row[data-kind="response"]').click();
    await panel.locator('.detail .json-tree').waitFor();
    await panel.screenshot({ path: shot('screenshot.png') });
    await panel.emulateMedia({ colorScheme: 'dark' });
    await panel.locator('.log-row', { hasText: 'binary 4.1 kB' }).first().click();
    await panel.locator('.detail .hex-dump').waitFor();
    await panel.screenshot({ path: shot('screenshot-dark.png') });
    await panel.close();
    await page.close();
  }, 60_000);

  it('captures a page without the hook through chrome.debugger, decoded per channel', async () => {
    const { page, tabId } = await openTab('/ws.html');
    const panel = await openPanel(tabId, { width: 1000, height: 420 });
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
