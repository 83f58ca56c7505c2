/**
 * `@rxmux/elements` in real headless Chromium (Debian's, driven by
 * playwright-core): a page served on 127.0.0.1 with a real `@rxmux/server`
 * attached, one `<rxmux-connection url="/rt">` and two plain custom elements
 * below it (one with the ChannelController, one with `requestConnection`).
 * Both receive their channel's publications through the context, over one
 * WebSocket (counted over the DevTools protocol). The page is built by vite
 * from the package's published files (`dist`, through its `exports` map).
 */
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { promisify } from 'node:util';
import type { RxmuxServer } from '@rxmux/server';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from '../support/real.js';
import { launchChromium, NetworkLedger, ROOT } from './support.js';

const run = promisify(execFile);
const FIXTURE = join(ROOT, 'test/e2e/fixtures/elements');
const poll = { timeout: 10_000, interval: 50 };

let outDir: string;
let http: HttpServer;
let server: RxmuxServer;
let browser: Browser;
let page: Page;
let net: NetworkLedger;
const problems: string[] = [];

/** Builds the package (tsc -b: incremental) and the fixture page with vite, production mode. */
async function buildPage(): Promise<string> {
  await run(process.execPath, ['node_modules/typescript/bin/tsc', '-b', 'packages/elements'], { cwd: ROOT });
  const dir = await mkdtemp(join(tmpdir(), 'rxmux-elements-page-'));
  const vite = join(ROOT, 'node_modules/vite/bin/vite.js');
  // cwd: the fixture, so no vite config of the workspace applies; the package resolves through node_modules like an app's would.
  await run(process.execPath, [vite, 'build', '.', '--outDir', dir, '--emptyOutDir', '--logLevel', 'warn'], {
    cwd: FIXTURE,
    env: { ...process.env, NODE_ENV: 'production' },
  });
  return dir;
}

/** Serves the built files; the rxmux server takes `/rt` before this handler sees it. */
function staticFiles(root: string): HttpServer {
  const base = normalize(root + sep);
  const types: Readonly<Record<string, string>> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };
  return createHttpServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const file = normalize(join(base, path === '/' ? 'index.html' : path));
    void stat(file)
      .then((info) => {
        if (!file.startsWith(base) || !info.isFile()) throw new Error('not found');
        res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
        createReadStream(file).pipe(res);
      })
      .catch(() => res.writeHead(404).end());
  });
}

const attr = (selector: string, name: string): Promise<string | null> => page.locator(selector).getAttribute(name, { timeout: 2000 });
const members = async (channel: string): Promise<number> => (await server.presence(channel)).length;

beforeAll(async () => {
  outDir = await buildPage();
  http = staticFiles(outDir);
  http.listen(0, '127.0.0.1');
  server = await serve({ server: http, path: '/rt' });
  browser = await launchChromium();
  page = await browser.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console.error: ${msg.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  net = await NetworkLedger.attach(await page.context().newCDPSession(page));
  await page.goto(`http://127.0.0.1:${server.port}/`, { timeout: 10_000 });
}, 120_000);

afterAll(async () => {
  await (browser as Browser | undefined)?.close();
  (http as HttpServer | undefined)?.closeAllConnections();
  await new Promise((resolve) => (http as HttpServer | undefined)?.close(resolve) ?? resolve(undefined));
  if ((outDir as string | undefined) !== undefined) await rm(outDir, { recursive: true, force: true });
});

// One scenario in one test: `serve()` closes its server after each test.
describe('@rxmux/elements in Chromium', () => {
  it('two plain custom elements get their publications through <rxmux-connection>, over one WebSocket; one leaves, the other goes on', async () => {
    // Both joined on the server: through the context, with the relative url resolved to this page's ws://host/rt.
    await expect.poll(() => members('alpha'), poll).toBe(1);
    await expect.poll(() => members('beta'), poll).toBe(1);
    await expect.poll(() => attr('beat-view', 'data-state'), poll).toBe('joined');
    await expect.poll(() => attr('raw-view', 'data-state'), poll).toBe('joined');

    for (let n = 1; n <= 3; n++) {
      await server.publish('alpha', { n });
      await server.publish('beta', { n: n * 10 });
    }
    await expect.poll(() => attr('beat-view', 'data-last'), poll).toBe('3');
    await expect.poll(() => attr('raw-view', 'data-last'), poll).toBe('30');
    expect(await attr('beat-view', 'data-count')).toBe('3');
    expect(await attr('raw-view', 'data-count')).toBe('3');

    expect({ live: net.live('ws'), created: net.created('ws') }).toEqual({ live: 1, created: 1 });
    expect([...net.webSockets.values()].map((ws) => ws.url)).toEqual([`ws://127.0.0.1:${server.port}/rt`]);
    expect(server.metrics().connections).toBe(1);

    // An element that leaves the document leaves its channel (after the core's linger); the other goes on.
    await page.locator('beat-view').evaluate((el) => el.remove());
    await expect.poll(() => members('alpha'), poll).toBe(0);
    await server.publish('beta', { n: 40 });
    await expect.poll(() => attr('raw-view', 'data-last'), poll).toBe('40');
    expect(await members('beta')).toBe(1);
    expect(net.created('ws')).toBe(1);

    expect(problems).toEqual([]);
  });
});
