/**
 * The built extension in Debian's Chromium (playwright-core, never a
 * downloaded browser): a persistent context with the unpacked extension
 * loaded, its service worker, tabs and their ids, the panel opened as an
 * ordinary extension page, and where screenshots go.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type BrowserContext, type Page, type Worker } from 'playwright-core';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
const CHROMIUM = process.env.RXMUX_CHROMIUM ?? '/usr/bin/chromium';

/** How long a polled condition may take on a loaded 2-core machine. */
export const poll = { timeout: 15_000, interval: 100 };

/** Builds `dist/` as it ships (vitest runs with NODE_ENV=test). */
export async function buildExtension(): Promise<void> {
  await promisify(execFile)('npm', ['run', 'build:extension'], { cwd: ROOT, env: { ...process.env, NODE_ENV: 'production' } });
}

interface TabsApi {
  tabs: { query(query: object): Promise<{ id?: number }[]> };
}

/** Chromium with the extension loaded, in a fresh profile. */
export class ExtensionBrowser {
  private constructor(
    readonly context: BrowserContext,
    readonly profile: string,
    /** The extension's id (the host of its `chrome-extension://` URLs). */
    readonly id: string,
  ) {}

  /** Launches Chromium with `dist/` loaded (build it first). */
  static async launch(): Promise<ExtensionBrowser> {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`node scripts/ensure-chromium.mjs\``);
    const profile = mkdtempSync(join(tmpdir(), 'rxmux-devtools-e2e-'));
    let context: BrowserContext | undefined;
    try {
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
      const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker', { timeout: 15_000 }));
      return new ExtensionBrowser(context, profile, new URL(worker.url()).host);
    } catch (error) {
      await context?.close();
      rmSync(profile, { recursive: true, force: true });
      throw error;
    }
  }

  /** The extension's service worker now (Chrome may have stopped and restarted it since). */
  async serviceWorker(): Promise<Worker> {
    return this.context.serviceWorkers()[0] ?? (await this.context.waitForEvent('serviceworker', { timeout: 15_000 }));
  }

  /** Opens `url` in a new tab; returns the page and its tab id (found as the tab that was not there before). */
  async openTab(url: string): Promise<{ page: Page; tabId: number }> {
    const ids = async (): Promise<number[]> => (await this.serviceWorker()).evaluate(async () => (await (globalThis as unknown as { chrome: TabsApi }).chrome.tabs.query({})).map((t) => t.id ?? -1));
    const before = new Set(await ids());
    const page = await this.context.newPage();
    await page.goto(url);
    const deadline = Date.now() + poll.timeout;
    for (;;) {
      const tabId = (await ids()).find((id) => !before.has(id));
      if (tabId !== undefined) return { page, tabId };
      if (Date.now() > deadline) throw new Error(`no new tab id for ${url}`);
      await new Promise((resolve) => setTimeout(resolve, poll.interval));
    }
  }

  /** The panel of `tabId` as an extension page (what DevTools shows in its rxmux tab). */
  async openPanel(tabId: number, viewport = { width: 1280, height: 720 }): Promise<Page> {
    const panel = await this.context.newPage();
    await panel.setViewportSize(viewport);
    await panel.goto(`chrome-extension://${this.id}/panel.html?tabId=${tabId}`);
    return panel;
  }

  async close(): Promise<void> {
    await this.context.close();
    rmSync(this.profile, { recursive: true, force: true });
  }
}

/**
 * Where a screenshot goes: test-artifacts/ on every run; over the committed
 * devtools-extension/screenshot.png and screenshot-dark.png with RXMUX_UPDATE_SCREENSHOTS=1.
 */
export function shot(name: string): string {
  if (process.env.RXMUX_UPDATE_SCREENSHOTS === '1' && (name === 'screenshot.png' || name === 'screenshot-dark.png')) return join(ROOT, 'devtools-extension', name);
  mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
  return join(ROOT, 'test-artifacts', `devtools-${name}`);
}

/** A cell of the panel's channel table (`null` while the row is missing). */
export const cell = (panel: Page, channel: string, col: string): Promise<string | null> =>
  panel.locator(`tr[data-channel="${channel}"] [data-col="${col}"]`).first().textContent({ timeout: 1000 }).catch(() => null);

/** A count cell as a number (`NaN` while the row is missing). */
export const count = async (panel: Page, channel: string, col: 'in' | 'out'): Promise<number> => Number((await cell(panel, channel, col))?.replace(/,/g, '') ?? Number.NaN);
