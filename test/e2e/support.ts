/**
 * Helpers of the end-to-end tests: build the demo, run it as a child process
 * (so it can be killed for real), launch Debian's chromium, and count the
 * page's connections from the Chrome DevTools Protocol's Network events.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser, type CDPSession } from 'playwright-core';
import { outputMatching, stopProcess } from '../support/process.js';

const run = promisify(execFile);
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CHROMIUM = process.env.RXMUX_CHROMIUM ?? '/usr/bin/chromium';

/** Builds the demo's server (`tsc -b` is incremental: cheap after `npm test`'s build). */
export async function buildDemoServer(): Promise<void> {
  await run(process.execPath, ['node_modules/typescript/bin/tsc', '-b', 'packages/demo'], { cwd: ROOT });
}

/**
 * Builds what the demo serves (tsc -b is incremental: cheap when `npm test`
 * just built it) so the test never runs a stale page or server.
 */
export async function buildDemo(): Promise<void> {
  await buildDemoServer();
  // vitest sets NODE_ENV=test, which would give a development build (lit's dev mode, with its console warning).
  await run(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--config', 'packages/demo/vite.config.ts', '--logLevel', 'warn'], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'production' },
  });
}

/** The demo server (`packages/demo/dist/server/main.js`) in a child process. */
export class DemoProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    readonly port: number,
  ) {}

  /**
   * Starts it on `host` (port 0: any free port) and resolves with its URL once
   * it listens. `host` null: no `HOST` at all, the demo's own default.
   */
  static async start(port = 0, timeoutMs = 15_000, host: string | null = '127.0.0.1'): Promise<DemoProcess> {
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port) };
    if (host === null) delete env.HOST;
    else env.HOST = host;
    const child = spawn(process.execPath, ['packages/demo/dist/server/main.js'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const [, url = ''] = await outputMatching(child, /listening on (http:\/\/\S+)/, timeoutMs);
    return new DemoProcess(child, url, Number(new URL(url).port));
  }

  /** Kills the process (SIGKILL by default: no goodbye to the clients) and waits for it to be gone. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return stopProcess(this.child, signal);
  }

  /** GETs `/demo/api/state`. */
  async state(): Promise<DemoState> {
    const res = await fetch(new URL('/demo/api/state', this.url), { signal: AbortSignal.timeout(5000) });
    return (await res.json()) as DemoState;
  }
}

/** The parts of `/demo/api/state` the tests read. */
export interface DemoState {
  readonly metrics: { readonly connections: number; readonly streams: number; readonly channels: number };
  readonly presence: Readonly<Record<string, readonly { readonly session: string; readonly transport: 'ws' | 'sse' }[]>>;
  readonly players: readonly { readonly id: string; readonly sessions: number }[];
  readonly entries: readonly { readonly note: string; readonly id: number | null; readonly session: string }[];
}

/** Launches Debian's chromium headless with a fresh profile. Never downloads a browser. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run \`node scripts/ensure-chromium.mjs\` (npm test does), or set RXMUX_CHROMIUM`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

interface Tracked {
  readonly url: string;
  readonly openedAt: number;
  closedAt: number | undefined;
}

/**
 * The page's WebSockets and EventSources as the browser's network stack
 * reports them (CDP `Network` domain), independent of the app's own counter.
 * An EventSource that reconnects by itself shows up as a new request.
 */
export class NetworkLedger {
  readonly webSockets = new Map<string, Tracked>();
  readonly eventSources = new Map<string, Tracked>();
  #maxWs = 0;
  #maxEs = 0;

  static async attach(session: CDPSession): Promise<NetworkLedger> {
    const ledger = new NetworkLedger();
    session.on('Network.webSocketCreated', (e) => {
      ledger.webSockets.set(e.requestId, { url: e.url, openedAt: Date.now(), closedAt: undefined });
      ledger.#maxWs = Math.max(ledger.#maxWs, ledger.live('ws'));
    });
    session.on('Network.webSocketClosed', (e) => ledger.#close(ledger.webSockets, e.requestId));
    session.on('Network.requestWillBeSent', (e) => {
      if (e.type !== 'EventSource') return;
      ledger.eventSources.set(e.requestId, { url: e.request.url, openedAt: Date.now(), closedAt: undefined });
      ledger.#maxEs = Math.max(ledger.#maxEs, ledger.live('es'));
    });
    session.on('Network.loadingFinished', (e) => ledger.#close(ledger.eventSources, e.requestId));
    session.on('Network.loadingFailed', (e) => ledger.#close(ledger.eventSources, e.requestId));
    await session.send('Network.enable');
    return ledger;
  }

  #close(map: Map<string, Tracked>, id: string): void {
    const item = map.get(id);
    if (item !== undefined && item.closedAt === undefined) item.closedAt = Date.now();
  }

  /** Connections open now. */
  live(kind: 'ws' | 'es'): number {
    return [...(kind === 'ws' ? this.webSockets : this.eventSources).values()].filter((t) => t.closedAt === undefined).length;
  }

  /** Connections opened since the page loaded. */
  created(kind: 'ws' | 'es'): number {
    return (kind === 'ws' ? this.webSockets : this.eventSources).size;
  }

  /** The most open at once, as the events arrived. */
  maxLive(kind: 'ws' | 'es'): number {
    return kind === 'ws' ? this.#maxWs : this.#maxEs;
  }
}
