/**
 * The panel with 100,000 frames in real Chromium: serves `panel-load.html`
 * with Vite on 127.0.0.1, opens it in Debian's Chromium (playwright-core),
 * prints what the page measured. Figures only, no assertions.
 *
 *   npm run bench:chromium -w @rxmux/devtools-extension
 */
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createServer } from 'vite';
import type { BenchResult } from './panel-harness.js';

const CHROMIUM = process.env.RXMUX_CHROMIUM ?? '/usr/bin/chromium';
const frames = Number(process.env.FRAMES ?? 100_000);

const server = await createServer({
  configFile: fileURLToPath(new URL('../vite.config.ts', import.meta.url)),
  root: fileURLToPath(new URL('.', import.meta.url)),
  server: { host: '127.0.0.1', port: 0, hmr: false, fs: { allow: [fileURLToPath(new URL('../../', import.meta.url))] } },
  logLevel: 'warn',
});
await server.listen();
const address = server.httpServer?.address();
const port = typeof address === 'object' && address !== null ? address.port : 0;
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-precise-memory-info'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  await page.goto(`http://127.0.0.1:${port}/panel-load.html?frames=${frames}`);
  const r = await page.evaluate(() => (window as unknown as { benchResult: Promise<BenchResult> }).benchResult);
  const line = (label: string, value: string): void => console.log(`${label.padEnd(48)} ${value}`);
  console.log(`rxmux DevTools panel in Chromium ${browser.version()}: ${r.events.toLocaleString('en-US')} events streamed in batches of 500, 1280x720\n`);
  line('stream everything in, rendered as it comes', `${r.streamMs.toFixed(0)} ms (${((r.events / r.streamMs) * 1000).toLocaleString('en-US', { maximumFractionDigits: 0 })} events/s)`);
  line('animation frames painted meanwhile', `${r.frames} (${((r.frames / r.streamMs) * 1000).toFixed(0)} fps)`);
  line('long tasks (> 50 ms) meanwhile', `${r.longTasks}, longest ${r.longestTaskMs.toFixed(0)} ms`);
  line('log rows in the DOM afterwards', String(r.domRows));
  line('pick a channel (filter + next frame)', `${r.filterMs.toFixed(1)} ms`);
  line('scroll a 12,500-row filtered log, per frame', `${r.scrollFrameMs.toFixed(1)} ms`);
  if (r.heapMB !== undefined) line('JS heap afterwards', `${r.heapMB.toFixed(0)} MB`);
} finally {
  await browser.close();
  await server.close();
}
