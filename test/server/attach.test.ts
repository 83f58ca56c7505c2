/**
 * `createServer({ server })` on an app's own HTTP server takes its own paths
 * (the WebSocket at `/rt`, `/rt/sse`, `/rt/poll`) and nothing else, whatever
 * the order the app installs its handlers in; what nobody else takes gets a
 * 404 rather than hanging.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { createServer, type RxmuxServer } from '@rxmux/server';
import { connect } from './helpers.js';

let http: HttpServer;
let base = '';
const rxmux: RxmuxServer[] = [];
const uncaught: unknown[] = [];
const onUncaught = (error: unknown): void => void uncaught.push(error);

/** The app's routes: `/health` answers, everything else is the app's 404. Records every path it saw. */
function app(seen: string[]): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(req.url === '/health' ? 200 : 404, { 'content-type': 'text/plain' });
    res.end(req.url === '/health' ? 'ok' : 'app 404');
  };
}

const attach = (path?: string): RxmuxServer => {
  const server = createServer({ server: http, ...(path === undefined ? {} : { path }) });
  rxmux.push(server);
  return server;
};

const get = async (path: string): Promise<{ status: number; body: string }> => {
  const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
};

/** An rxmux answer: a JSON body with one of its codes. */
const rxmuxCode = (body: string): unknown => (JSON.parse(body) as { code?: unknown }).code;

beforeEach(async () => {
  process.on('uncaughtException', onUncaught);
  http = createHttpServer();
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const address = http.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
});

afterEach(async () => {
  await Promise.all(rxmux.splice(0).map((s) => s.close()));
  http.closeAllConnections();
  await new Promise((resolve) => http.close(resolve));
  process.off('uncaughtException', onUncaught);
  expect(uncaught.splice(0)).toEqual([]);
});

describe.each(['before', 'after'] as const)('an app request handler installed %s createServer({ server })', (order) => {
  it("keeps the app's routes, its 404 included, and rxmux's endpoints and WebSocket", async () => {
    const seen: string[] = [];
    if (order === 'before') http.on('request', app(seen));
    const server = attach();
    if (order === 'after') http.on('request', app(seen));
    await server.ready();
    expect(await get('/health')).toEqual({ status: 200, body: 'ok' });
    expect(await get('/nothing-here')).toEqual({ status: 404, body: 'app 404' });
    const poll = await get('/rt/poll'); // no channel named: rxmux's own 400
    expect(poll.status).toBe(400);
    expect(rxmuxCode(poll.body)).toBe('RXMUX_ERR_INVALID_CHANNEL');
    const sse = await fetch(`${base}/rt/sse?channel=a`, { signal: AbortSignal.timeout(5000) });
    expect(sse.headers.get('content-type')).toContain('text/event-stream');
    await sse.body?.cancel();
    const client = await connect(`${base.replace('http:', 'ws:')}/rt`);
    expect((await client.hello()).type).toBe('welcome');
    expect(seen).toEqual(['/health', '/nothing-here']); // the app never saw rxmux's requests
  });
});

describe('attached to a server the app has not given a handler (yet)', () => {
  it('answers what nobody takes with 404, and leaves it to a handler added later', async () => {
    await attach().ready();
    const before = await get('/health');
    expect(before.status).toBe(404);
    expect(rxmuxCode(before.body)).toBe('RXMUX_ERR_NOT_FOUND');
    const seen: string[] = [];
    http.on('request', app(seen));
    expect(await get('/health')).toEqual({ status: 200, body: 'ok' });
    expect(seen).toEqual(['/health']);
  });
});

describe('upgrades', () => {
  it('refuses an upgrade on another path with 404 when the app has no upgrade listener', async () => {
    await attach().ready();
    await expect(connect(`${base.replace('http:', 'ws:')}/other`)).rejects.toThrow(/404/);
  });

  it("leaves other paths to the app's own WebSocket server, installed after, and keeps /rt", async () => {
    await attach().ready();
    const seen: string[] = [];
    const own = new WebSocketServer({ noServer: true });
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      seen.push(req.url ?? '');
      own.handleUpgrade(req, socket, head, (ws) => ws.send('from the app'));
    });
    const appClient = await connect(`${base.replace('http:', 'ws:')}/other`, { protocols: [] });
    await expect.poll(() => appClient.raw).toEqual(['from the app']);
    const client = await connect(`${base.replace('http:', 'ws:')}/rt`);
    expect((await client.hello()).type).toBe('welcome');
    expect(seen).toEqual(['/other']);
    for (const ws of own.clients) ws.terminate(); // ws 8 leaves them open on close(), and http.close() waits for them
    own.close();
  });
});

describe('several rxmux servers and detaching', () => {
  it('shares one HTTP server between two paths, and closing one gives its paths back to the app', async () => {
    const seen: string[] = [];
    http.on('request', app(seen));
    const first = attach('/a');
    attach('/b');
    await first.ready();
    expect((await get('/a/poll')).status).toBe(400);
    expect((await get('/b/poll')).status).toBe(400);
    await first.close();
    expect(await get('/a/poll')).toEqual({ status: 404, body: 'app 404' });
    expect((await get('/b/poll')).status).toBe(400);
    expect(seen).toEqual(['/a/poll']);
  });

  it("leaves the server's emit as it found it once the last one is closed", async () => {
    const own = Object.hasOwn(http, 'emit');
    const server = attach();
    expect(Object.hasOwn(http, 'emit')).toBe(true);
    await server.close();
    expect(Object.hasOwn(http, 'emit')).toBe(own);
    expect(http.listenerCount('request') + http.listenerCount('upgrade')).toBe(0);
  });
});
