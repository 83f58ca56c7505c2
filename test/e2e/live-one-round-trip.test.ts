/**
 * Live in one round trip, in Chromium (PROTOCOL.md 6.1; issue 15.6): the
 * demo page's WebSocket says everything in its first message (the hello and
 * the six WebSocket channels' subscribes) and the server's first message
 * answers all of it (the welcome and the six `subscribed`); after a dropped
 * connection, the resuming hello batch carries the positions and the answer
 * brings the replay too. The frames come from the Chrome DevTools Protocol,
 * not from the app. Structure only: no times.
 */
import { firstValueFrom } from 'rxjs';
import type { Browser, CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { connect, type Connection } from '@rxmux/core';
import { FaultProxy } from '../support/fault-proxy.js';
import { buildDemo, DemoProcess, launchChromium } from './support.js';

const WS_CHANNELS = ['audio-recorder', 'manual-input', 'player-1', 'player-2', 'player-3', 'player-4'];
const poll = { timeout: 15_000, interval: 100 };

/** One text frame as CDP reported it, parsed into its envelopes. */
interface Frame {
  readonly socket: string;
  readonly dir: 'out' | 'in';
  readonly envelopes: readonly (readonly unknown[])[];
}

let demo: DemoProcess;
/** Between the page and the demo: cutting it drops the page's connections, and nobody else's. */
let proxy: FaultProxy;
let browser: Browser;
let page: Page;
const frames: Frame[] = [];

function record(session: CDPSession): void {
  const add = (dir: Frame['dir'], socket: string, response: { readonly opcode: number; readonly payloadData: string }): void => {
    if (response.opcode !== 1) return; // binary: the audio recorder's chunks
    const parsed = JSON.parse(response.payloadData) as unknown[];
    frames.push({ socket, dir, envelopes: (Array.isArray(parsed[0]) ? parsed : [parsed]) as unknown[][] });
  };
  session.on('Network.webSocketFrameSent', (e) => add('out', e.requestId, e.response));
  session.on('Network.webSocketFrameReceived', (e) => add('in', e.requestId, e.response));
}

/** The frames of one socket, in order. */
const of = (socket: string): Frame[] => frames.filter((f) => f.socket === socket);
const sockets = (): string[] => [...new Set(frames.map((f) => f.socket))];
/** `[type, channel]` of each envelope. */
const kinds = (frame: Frame | undefined): (readonly [unknown, unknown])[] => (frame?.envelopes ?? []).map((e) => [e[0], e[1]] as const);
const channelsOf = (frame: Frame | undefined, type: number): string[] => kinds(frame).filter(([t]) => t === type).map(([, c]) => String(c)).sort();

beforeAll(async () => {
  await buildDemo();
  demo = await DemoProcess.start(0);
  proxy = await FaultProxy.start(demo.port);
  browser = await launchChromium();
  page = await browser.newPage();
  const session = await page.context().newCDPSession(page);
  record(session);
  await session.send('Network.enable');
  await page.goto(`http://127.0.0.1:${proxy.port}/`, { timeout: 10_000 });
}, 120_000);

afterAll(async () => {
  await (browser as Browser | undefined)?.close();
  await (proxy as FaultProxy | undefined)?.close();
  await (demo as DemoProcess | undefined)?.kill();
});

describe('the demo goes live in one round trip (Chromium, CDP frames)', () => {
  it('one message out: the hello and the six subscribes; one message back: the welcome and the six subscribed', async () => {
    await expect.poll(() => of(sockets()[0] ?? '').filter((f) => f.dir === 'in').length, poll).toBeGreaterThan(0);
    const socket = of(sockets()[0] ?? '');
    const [first, second] = socket;
    expect(first?.dir).toBe('out');
    expect(kinds(first)[0]?.[0]).toBe(2); // hello first
    expect(channelsOf(first, 4)).toEqual([...WS_CHANNELS].sort()); // and every channel's subscribe with it
    expect(first?.envelopes).toHaveLength(1 + WS_CHANNELS.length);
    expect(second?.dir).toBe('in'); // nothing else written before the answer
    expect(kinds(second)[0]?.[0]).toBe(3); // the welcome first
    expect(channelsOf(second, 6)).toEqual([...WS_CHANNELS].sort()); // with every subscribed
    // Nothing is subscribed again after the welcome.
    await expect.poll(() => socket.length, poll).toBeGreaterThan(2);
    expect(of(sockets()[0] ?? '').slice(1).flatMap((f) => (f.dir === 'out' ? channelsOf(f, 4) : []))).toEqual([]);
  });

  it('after a dropped connection: the hello batch carries each position, the answer brings the replay in the same message', async () => {
    await expect.poll(() => page.locator('status-banner').getAttribute('data-status'), poll).toBe('open');
    // Another client, straight to the server, enters a score while the page is away: the page must get it replayed.
    const other: Connection = connect(`ws://127.0.0.1:${demo.port}/rt`, { WebSocket, shared: false });
    try {
      const entry = { team: 'home', kind: 'shot', note: 'while away' };
      await firstValueFrom(other.channel('manual-input').send(entry, { ack: true }));
      const before = sockets().length;
      proxy.cut(); // the page's socket and stream drop; it reconnects after its backoff (at least 250 ms)
      await firstValueFrom(other.channel('manual-input').send(entry, { ack: true }));
      await expect.poll(() => of(sockets()[before] ?? '').filter((f) => f.dir === 'in').length, poll).toBeGreaterThan(0);
      checkResumed(sockets()[before] ?? '');
    } finally {
      other.close();
    }
  });
});

/** The resumed socket's first two frames: the hello batch with positions, and the answer with the replay. */
function checkResumed(socket: string): void {
  const [first, second] = of(socket);
  expect(kinds(first)[0]?.[0]).toBe(2);
  expect(first?.envelopes[0]?.[2]).toEqual(expect.any(String)); // the hello names the session to resume
  expect(channelsOf(first, 4)).toEqual([...WS_CHANNELS].sort());
  // manual-input had a position (its join's): the re-join asks for what came after it.
  expect(first?.envelopes.find((e) => e[0] === 4 && e[1] === 'manual-input')).toEqual([4, 'manual-input', expect.any(Number), expect.any(String)]);
  expect(second?.dir).toBe('in');
  expect(kinds(second)[0]?.[0]).toBe(3);
  expect(channelsOf(second, 6)).toEqual([...WS_CHANNELS].sort());
  // What was published while the socket was down rides with the welcome.
  expect(channelsOf(second, 1)).toContain('manual-input');
}
