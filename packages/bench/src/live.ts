/**
 * Scenario 10: time to live (issue 15.6). The demo page (`npm start`'s nine
 * components) in Debian's Chromium, through a proxy that adds 50 ms each
 * way (100 ms of round trip), against:
 *
 * - **pooled** — the page as it is: one WebSocket whose first message is the
 *   hello batch (hello + six subscribes), one EventSource for three channels;
 * - **pooled-two-step** — the same page, the same server, with the hello
 *   batch split on the wire by the recorder (the hello first, the subscribes
 *   once the welcome arrived): what every client did before the batch;
 * - **nine-connections** — the same nine channels with a connection each
 *   (six WebSockets, three EventSources): the seed article's "before".
 *
 * A recorder (`live/recorder.js`) injected before the page's scripts timestamps, with the page's
 * clock, each socket's creation and open, each `subscribed` and each
 * EventSource's `ready`. A channel is live when its join is confirmed
 * (WebSocket: `subscribed`; SSE: the stream's `ready` names it): from then
 * its data flows, a replay in the same message. Times are from the first
 * connection the page created; ratios, not absolute times, are the figures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import type { ScenarioResult, Verdict } from './harness.js';
import { LatencyProxy } from './latency-proxy.js';
import { emptyRuns, mediansOf } from './util.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHROMIUM = process.env.RXMUX_CHROMIUM ?? '/usr/bin/chromium';
/** One way: 100 ms of round trip. */
const ONE_WAY_MS = 50;
const RTT_MS = 2 * ONE_WAY_MS;

const WS_CHANNELS = ['audio-recorder', 'manual-input', 'player-1', 'player-2', 'player-3', 'player-4'];
const SSE_CHANNELS = ['match-score', 'match-dashboard', 'match-highlights'];

type Mode = 'pooled' | 'pooled-two-step' | 'nine-connections';
const MODES: readonly Mode[] = ['pooled', 'pooled-two-step', 'nine-connections'];

/** What the recorder keeps, per socket and per EventSource (page clock, ms). */
interface Recorded {
  readonly ws: readonly { readonly created: number; readonly open?: number; readonly subscribed: Readonly<Record<string, number>> }[];
  readonly es: readonly { readonly created: number; readonly ready?: number; readonly channels: readonly string[] }[];
}

/** The figures of one page load. */
interface Figures {
  /** All nine channels live, from the first connection the page created. */
  readonly liveMs: number;
  /** The first WebSocket's handshake (created → open). */
  readonly handshakeMs: number;
  /** The last WebSocket channel live after its socket opened, in round trips. */
  readonly wsRtts: number;
  /** WebSockets the page opened. */
  readonly sockets: number;
}

function figures(r: Recorded): Figures | undefined {
  const created = [...r.ws.map((w) => w.created), ...r.es.map((e) => e.created)];
  const live: number[] = [];
  let wsAfterOpen = 0;
  for (const channel of WS_CHANNELS) {
    const socket = r.ws.find((w) => w.subscribed[channel] !== undefined);
    const at = socket?.subscribed[channel];
    if (socket === undefined || at === undefined || socket.open === undefined) return undefined;
    live.push(at);
    wsAfterOpen = Math.max(wsAfterOpen, at - socket.open);
  }
  for (const channel of SSE_CHANNELS) {
    const at = r.es.find((e) => e.ready !== undefined && e.channels.includes(channel))?.ready;
    if (at === undefined) return undefined;
    live.push(at);
  }
  const first = r.ws[0];
  if (first?.open === undefined) return undefined;
  const t0 = Math.min(...created);
  return { liveMs: Math.max(...live) - t0, handshakeMs: first.open - first.created, wsRtts: wsAfterOpen / RTT_MS, sockets: r.ws.length };
}

/** The demo server (`packages/demo/dist/server/main.js`) on a free port; its URL once it listens. */
async function startDemo(): Promise<{ readonly child: ChildProcess; readonly port: number }> {
  const child = spawn(process.execPath, ['packages/demo/dist/server/main.js'], { cwd: ROOT, env: { ...process.env, PORT: '0', HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the demo server did not start within 15 s')), 15_000);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
      if (match !== null) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`the demo server exited (${code})`)));
  });
  return { child, port };
}

/** The nine-connections page, bundled from `live/nine-connections.js` (the same client library as the demo). */
async function ninePage(): Promise<string> {
  const result = await build({ entryPoints: [`${ROOT}packages/bench/live/nine-connections.js`], bundle: true, format: 'esm', target: 'es2022', platform: 'browser', write: false, logLevel: 'silent' });
  return result.outputFiles[0]?.text ?? '';
}

async function loadOnce(browser: Browser, origin: string, mode: Mode, nineJs: string): Promise<Figures> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    if (mode === 'pooled-two-step') await page.addInitScript(() => ((globalThis as { __liveTwoStep?: boolean }).__liveTwoStep = true));
    await page.addInitScript({ path: `${ROOT}packages/bench/live/recorder.js` });
    let url = `${origin}/`;
    if (mode === 'nine-connections') {
      // Served by the browser itself on the demo's origin: same-origin sockets and streams, through the proxy.
      url = `${origin}/bench-nine-connections.html`;
      await page.route(url, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><script type="module" src="/bench-nine-connections.js"></script>' }));
      await page.route(`${origin}/bench-nine-connections.js`, (route) => route.fulfill({ contentType: 'text/javascript', body: nineJs }));
    }
    await page.goto(url, { timeout: 30_000 });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const found = figures((await page.evaluate(() => (globalThis as { __live?: unknown }).__live)) as Recorded);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`${mode}: the nine channels were not all live within 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await context.close();
  }
}

export async function runLive(runs: number, log?: (line: string) => void): Promise<ScenarioResult> {
  const started = Date.now();
  const loadBefore = loadavg();
  const title = `10. Time to live: the demo's nine components in Chromium, ${RTT_MS} ms of added round trip (a delaying TCP proxy): all nine live (join confirmed) from the first connection, against the same page without the hello batch and nine separate connections`;
  log?.(`\n${title}  [load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}]`);
  const metrics = [
    { key: 'liveMs', label: 'all nine live, ms from the first connection', better: 'lower' as const },
    { key: 'handshakeMs', label: 'first WebSocket handshake, ms', better: 'lower' as const },
    { key: 'wsRtts', label: 'WebSocket channels live after the handshake, round trips', better: 'lower' as const },
    { key: 'sockets', label: 'WebSockets opened', better: 'lower' as const },
  ];
  const all = emptyRuns(MODES, metrics);
  const errors: string[] = [];
  let demo: { readonly child: ChildProcess; readonly port: number } | undefined;
  let proxy: LatencyProxy | undefined;
  let browser: Browser | undefined;
  try {
    if (!existsSync(`${ROOT}packages/demo/dist/page/index.html`)) throw new Error('the demo page is not built: npm run build:page -w @rxmux/demo');
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: node scripts/ensure-chromium.mjs, or set RXMUX_CHROMIUM`);
    demo = await startDemo();
    proxy = await LatencyProxy.start(demo.port, ONE_WAY_MS);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // LocalNetworkAccessChecks: the nine-connections page is served by the browser itself (page.route), which
      // Chromium then treats as not local, refusing its sockets to 127.0.0.1; the demo page is unaffected.
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-features=LocalNetworkAccessChecks'],
    });
    const nineJs = await ninePage();
    const origin = `http://127.0.0.1:${proxy.port}`;
    for (let r = 0; r < runs; r++) {
      for (const mode of MODES) {
        try {
          const f = await loadOnce(browser, origin, mode, nineJs);
          for (const [key, value] of Object.entries(f) as [string, number][]) all[mode]?.[key]?.push(value);
          log?.(`  run ${r + 1} ${mode.padEnd(16)} live ${f.liveMs.toFixed(0)} ms, handshake ${f.handshakeMs.toFixed(0)} ms, ws channels ${f.wsRtts.toFixed(2)} RTT after it, ${f.sockets} socket(s)`);
        } catch (error) {
          const message = `live run ${r + 1} ${mode}: ${error instanceof Error ? error.message : String(error)}`;
          errors.push(message);
          log?.(`  ERROR ${message}`);
        }
      }
    }
  } catch (error) {
    const message = `live: ${error instanceof Error ? error.message : String(error)}`;
    errors.push(message);
    log?.(`  ERROR ${message}`);
  } finally {
    await browser?.close();
    await proxy?.close();
    demo?.child.kill('SIGKILL');
  }
  const medians = mediansOf(all);
  const pooled = medians.pooled ?? {};
  const budget = (pooled.handshakeMs ?? Infinity) + RTT_MS * 1.5;
  const verdicts: Verdict[] = [
    {
      target: 'all nine live by handshake + one round trip',
      met: (pooled.liveMs ?? Infinity) <= budget,
      detail: `${(pooled.liveMs ?? Number.NaN).toFixed(0)} ms from the first connection; handshake ${(pooled.handshakeMs ?? Number.NaN).toFixed(0)} ms + ${RTT_MS} ms (bar: + 1.5 round trips for processing); WebSocket channels ${(pooled.wsRtts ?? Number.NaN).toFixed(2)} RTT after the handshake`,
    },
  ];
  return {
    id: 'live',
    title,
    contenders: MODES,
    metrics,
    ratios: [
      ['pooled', 'nine-connections'],
      ['pooled', 'pooled-two-step'],
    ],
    runs: all,
    medians,
    verdicts,
    loadBefore,
    seconds: (Date.now() - started) / 1000,
    errors,
  };
}
