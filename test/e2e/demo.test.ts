/**
 * The recorder-page demo in real headless Chromium (Debian's, driven by
 * playwright-core): nine components on one WebSocket and one EventSource,
 * components joining and leaving, a server killed and restarted under the
 * page, and the socket closing once nothing needs it. Connection counts come
 * from the Chrome DevTools Protocol, not from the app.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemo, DemoProcess, launchChromium, NetworkLedger, ROOT } from './support.js';

const ARTIFACTS = join(ROOT, 'test-artifacts');
const PLAYERS = ['player-1', 'player-2', 'player-3', 'player-4'];

let demo: DemoProcess;
let browser: Browser;
let page: Page;
let net: NetworkLedger;
/** Console errors and uncaught page errors, with the time they happened. */
const problems: { readonly at: number; readonly text: string }[] = [];
/** The deliberate outages (server killed, connections dropped): network errors the browser logs inside them are expected. */
const outages: { from: number; to: number }[] = [];
const outage = (): { from: number; to: number } => {
  const window = { from: Date.now(), to: Number.POSITIVE_INFINITY };
  outages.push(window);
  return window;
};

const attr = (selector: string, name: string): Promise<string | null> => page.locator(selector).first().getAttribute(name, { timeout: 2000 });
const count = async (selector: string, name: string): Promise<number> => Number((await attr(selector, name)) ?? 0);
const bannerStatus = (): Promise<string | null> => attr('status-banner', 'data-status');
const poll = { timeout: 10_000, interval: 100 };

beforeAll(async () => {
  await buildDemo();
  mkdirSync(ARTIFACTS, { recursive: true });
  demo = await DemoProcess.start(0);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push({ at: Date.now(), text: `console.error: ${msg.text()}` });
  });
  page.on('pageerror', (error) => problems.push({ at: Date.now(), text: `pageerror: ${error.message}` }));
  net = await NetworkLedger.attach(await page.context().newCDPSession(page));
  await page.goto(demo.url, { timeout: 10_000 });
}, 120_000);

afterAll(async () => {
  // Set for every test, but afterAll also runs when beforeAll failed before starting them.
  await (browser as Browser | undefined)?.close();
  await (demo as DemoProcess | undefined)?.kill();
});

describe('the recorder page in Chromium', () => {
  it('runs all nine components over exactly one WebSocket and one EventSource', async () => {
    await expect.poll(bannerStatus, poll).toBe('open');
    // manual-input: an acknowledged score event (it also feeds the highlights over SSE).
    await page.locator('manual-input input[name="note"]').fill('kick-off');
    await page.locator('manual-input button[type="submit"]').click();
    await expect.poll(() => attr('manual-input li[data-note="kick-off"]', 'data-state'), poll).toBe('delivered');
    for (const player of PLAYERS) await expect.poll(() => count(`biometric-monitor[player="${player}"]`, 'data-messages'), poll).toBeGreaterThan(2);
    await expect.poll(() => count('audio-recorder', 'data-acked'), poll).toBeGreaterThan(0);
    for (const kind of ['match-score', 'match-dashboard', 'match-highlights']) await expect.poll(() => count(kind, 'data-updates'), poll).toBeGreaterThan(0);

    expect(await page.locator('#components > *').count()).toBe(9);
    expect({ live: net.live('ws'), created: net.created('ws') }).toEqual({ live: 1, created: 1 });
    expect({ live: net.live('es'), created: net.created('es') }).toEqual({ live: 1, created: 1 });
    const state = await demo.state();
    expect(state.metrics).toMatchObject({ connections: 1, streams: 1 });
    // The app's own counter (instrumented constructors) agrees with the browser.
    await expect.poll(() => attr('connection-panel', 'data-websockets'), poll).toBe('1');
    await expect.poll(() => attr('connection-panel', 'data-eventsources'), poll).toBe('1');
    console.log(`[e2e] after load: CDP WebSocket live ${net.live('ws')} created ${net.created('ws')}; EventSource live ${net.live('es')} created ${net.created('es')}`);
  });

  it('adds and removes components without new WebSockets; removed channels leave the server', async () => {
    const sse = async (channel: string): Promise<number> => ((await demo.state()).presence[channel] ?? []).filter((m) => m.transport === 'sse').length;
    const ws = async (channel: string): Promise<number> => ((await demo.state()).presence[channel] ?? []).filter((m) => m.transport === 'ws').length;

    await page.getByTestId('add-biometric-monitor').click();
    await expect.poll(() => count('biometric-monitor[player="player-5"]', 'data-messages'), poll).toBeGreaterThan(0);
    expect(await ws('player-5')).toBe(1);
    await page.getByTestId('add-match-highlights').click(); // same SSE channel: shared, nothing reopens
    await page.getByTestId('add-audio-recorder').click(); // a second recorder on audio-recorder-2
    await expect.poll(() => count('audio-recorder[channel="audio-recorder-2"]', 'data-acked'), poll).toBeGreaterThan(0);

    await page.getByTestId('remove-biometric-monitor').click(); // player-5
    await page.getByTestId('remove-audio-recorder').click(); // audio-recorder-2
    await page.getByTestId('remove-match-dashboard').click();
    await expect.poll(() => ws('player-5'), poll).toBe(0);
    await expect.poll(() => ws('audio-recorder-2'), poll).toBe(0);
    await expect.poll(() => sse('match-dashboard'), poll).toBe(0);
    expect((await demo.state()).players.map((p) => p.id)).not.toContain('player-5'); // its heart rate stopped
    expect(await ws('player-1')).toBe(1);
    // The EventSource reopens with the new channel set: match-score's presence moves to the new stream.
    await expect.poll(() => sse('match-score'), poll).toBe(1);

    await page.getByTestId('add-match-dashboard').click();
    await page.getByTestId('remove-match-highlights').click();
    await expect.poll(() => sse('match-dashboard'), poll).toBe(1);
    await expect.poll(() => count('match-dashboard', 'data-updates'), poll).toBeGreaterThan(0);
    expect(await page.locator('#components > *').count()).toBe(9);

    // The WebSocket never changed; the EventSource was reopened for each new channel set, one at a time.
    expect({ live: net.live('ws'), created: net.created('ws') }).toEqual({ live: 1, created: 1 });
    await expect.poll(() => net.live('es'), poll).toBe(1);
    expect((await demo.state()).metrics).toMatchObject({ connections: 1, streams: 1 });
    console.log(`[e2e] after add/remove: CDP WebSocket live ${net.live('ws')} created ${net.created('ws')}; EventSource live ${net.live('es')} created ${net.created('es')} (max at once ${net.maxLive('es')})`);
  });

  it('survives a server kill and restart: reconnecting, then open; streams go on; an offline entry is delivered once', async () => {
    const port = demo.port;
    const beatsBefore = await count('biometric-monitor[player="player-1"]', 'data-messages');
    const down = outage();
    await demo.kill('SIGKILL');
    await expect.poll(bannerStatus, poll).toBe('reconnecting');
    const retryText = await page.locator('status-banner').evaluate((el) => el.shadowRoot?.textContent.replace(/\s+/g, ' '));

    expect(retryText).toMatch(/Reconnecting.*attempt \d+/); // with the next retry time

    const note = `offline-${Date.now()}`;
    await page.locator('manual-input input[name="note"]').fill(note);
    await page.locator('manual-input button[type="submit"]').click();
    expect(await attr(`manual-input li[data-note="${note}"]`, 'data-state')).toBe('pending');
    await page.waitForTimeout(1000); // stay offline for a while: retries fail

    demo = await DemoProcess.start(port);
    const restarted = Date.now();
    await expect.poll(bannerStatus, { timeout: 15_000, interval: 20 }).toBe('open');
    const reconnectMs = Date.now() - restarted;
    const downMs = Date.now() - down.from;
    await expect.poll(() => attr(`manual-input li[data-note="${note}"]`, 'data-state'), poll).toBe('delivered');

    for (const player of PLAYERS) {
      const before = await count(`biometric-monitor[player="${player}"]`, 'data-messages');
      await expect.poll(() => count(`biometric-monitor[player="${player}"]`, 'data-messages'), poll).toBeGreaterThan(before + 2);
    }
    expect(await count('biometric-monitor[player="player-1"]', 'data-messages')).toBeGreaterThan(beatsBefore);
    // The EventSource reconnects by itself (server retry: 2 s) and its channels flow again.
    const scoreBefore = await count('match-score', 'data-updates');
    await expect.poll(() => count('match-score', 'data-updates'), { timeout: 15_000, interval: 100 }).toBeGreaterThan(scoreBefore);
    down.to = Date.now();

    const delivered = (await demo.state()).entries.filter((e) => e.note === note);
    expect(delivered).toHaveLength(1);
    await page.waitForTimeout(1500); // no late duplicate
    expect((await demo.state()).entries.filter((e) => e.note === note)).toHaveLength(1);

    await expect.poll(() => net.live('ws'), poll).toBe(1);
    await expect.poll(() => net.live('es'), poll).toBe(1);
    expect((await demo.state()).metrics).toMatchObject({ connections: 1, streams: 1 });
    await page.waitForTimeout(600); // let the panel and sparklines catch up for the picture
    await page.screenshot({ path: join(ARTIFACTS, 'demo-e2e.png'), fullPage: true });
    console.log(`[e2e] banner while down: "${retryText?.trim()}"`);
    console.log(`[e2e] reconnect after restart: ${reconnectMs} ms (server listening → banner open), ${downMs} ms from the kill; CDP WebSockets created in all ${net.created('ws')}, EventSource requests ${net.created('es')}`);
  });

  it('chaos controls: pause stops the streams, resume restarts them, drop makes the page reconnect', async () => {
    const beats = (): Promise<number> => count('biometric-monitor[player="player-1"]', 'data-messages');
    const scoreText = (): Promise<string | undefined> => page.locator('match-score').evaluate((el) => el.shadowRoot?.textContent ?? '');
    await page.getByTestId('chaos-pause').click();
    await expect.poll(scoreText, poll).toContain('⏸');
    const paused = await beats();
    await page.waitForTimeout(800);
    expect(await beats()).toBeLessThanOrEqual(paused + 1); // at most one beat was in flight
    await page.getByTestId('chaos-resume').click();
    await expect.poll(beats, poll).toBeGreaterThan(paused + 2);
    await expect.poll(scoreText, poll).not.toContain('⏸');

    const socketsBefore = net.created('ws');
    const scoreUpdates = await count('match-score', 'data-updates');
    const dropped = outage();
    await page.getByTestId('chaos-drop').click();
    await expect.poll(bannerStatus, { timeout: 5000, interval: 20 }).toBe('reconnecting');
    await expect.poll(bannerStatus, poll).toBe('open');
    expect(net.created('ws')).toBe(socketsBefore + 1); // the first retry reached the live server
    const afterDrop = await beats();
    await expect.poll(beats, poll).toBeGreaterThan(afterDrop + 2);
    await expect.poll(() => count('match-score', 'data-updates'), { timeout: 15_000, interval: 100 }).toBeGreaterThan(scoreUpdates + 1);
    dropped.to = Date.now();
    await expect.poll(() => net.live('ws'), poll).toBe(1);
    await expect.poll(() => net.live('es'), poll).toBe(1);
  });

  it('closes the socket after the linger once every component is gone, and reopens one when they return', async () => {
    const clicked = Date.now();
    await page.getByTestId('remove-all').click();
    await expect.poll(() => net.live('ws'), poll).toBe(0);
    const closedAfter = Date.now() - clicked;
    await expect.poll(() => net.live('es'), poll).toBe(0);
    await expect.poll(bannerStatus, poll).toBe('closed');
    await expect.poll(async () => (await demo.state()).metrics, poll).toMatchObject({ connections: 0, streams: 0, channels: 0 });
    expect(closedAfter).toBeGreaterThanOrEqual(900); // linger: 1 s
    console.log(`[e2e] socket closed ${closedAfter} ms after the last component left`);

    // Components coming back open one new socket (and one EventSource) again.
    await page.getByTestId('restore').click();
    await expect.poll(bannerStatus, poll).toBe('open');
    await expect.poll(() => count('biometric-monitor[player="player-4"]', 'data-messages'), poll).toBeGreaterThan(0);
    await expect.poll(() => count('match-score', 'data-updates'), poll).toBeGreaterThan(0);
    expect(net.live('ws')).toBe(1);
    await expect.poll(() => net.live('es'), poll).toBe(1);
  });

  it('logged no console errors (outside the browser\'s own network errors during the deliberate outage)', () => {
    const expectedDuringOutage = /WebSocket connection to .* failed|net::ERR_CONNECTION_REFUSED|net::ERR_CONNECTION_RESET|net::ERR_EMPTY_RESPONSE|net::ERR_INCOMPLETE_CHUNKED_ENCODING/;
    const tolerated = problems.filter((p) => outages.some((o) => p.at >= o.from && p.at <= o.to) && expectedDuringOutage.test(p.text));
    console.log(`[e2e] browser network errors during the outage (expected): ${tolerated.length}\n${tolerated.map((p) => `  ${p.text}`).join('\n')}`);
    expect(problems.filter((p) => !tolerated.includes(p))).toEqual([]);
  });
});
