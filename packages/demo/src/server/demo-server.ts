/**
 * The demo's one process: an `http.Server` that serves the built page and a
 * small JSON API (`/demo/api/*`: state and chaos controls), with
 * `@rxmux/server` attached at `/rt` (memory engine).
 *
 *   GET  /demo/api/state        metrics, presence per channel, the simulation's state
 *   POST /demo/api/chaos/drop   destroys every other TCP connection (WebSockets and SSE streams)
 *   POST /demo/api/chaos/pause  pauses the simulated streams
 *   POST /demo/api/chaos/resume resumes them
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { JsonValue } from '@rxmux/core/protocol';
import { createServer, type RxmuxServer } from '@rxmux/server';
import { DEFAULT_SIMULATION, startSimulation, type Simulation, type SimulationOptions } from './simulation.js';
import { staticFiles } from './static-files.js';

/** Options of {@link startDemoServer}. */
export interface DemoServerOptions {
  /** Port to listen on; 0 picks a free one. Default 5173. */
  readonly port?: number;
  /**
   * Host to listen on. Default `127.0.0.1`: the chaos endpoints are not
   * authenticated, so the demo is reachable from this machine only unless
   * asked (`0.0.0.0` or `::` for every interface).
   */
  readonly host?: string;
  /** Folder of the built page. Default: `dist/page` next to this file's `dist/server`. */
  readonly pageDir?: string;
  /** Timing of the simulated streams. */
  readonly simulation?: SimulationOptions;
}

/** A running demo server. */
export interface DemoServer {
  /** The page's URL (`http://host:port/`). */
  readonly url: string;
  readonly port: number;
  readonly rt: RxmuxServer;
  readonly simulation: Simulation;
  /** Graceful shutdown: clients see 1001 and reconnect (to whatever listens next). */
  close(): Promise<void>;
}

const RT_PATH = '/rt';
/** Where the demo listens unless told otherwise: this machine only. */
export const DEFAULT_HOST = '127.0.0.1';

function json(res: ServerResponse, status: number, body: JsonValue): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

/** Starts the demo server; resolves once it listens. */
export async function startDemoServer(options: DemoServerOptions = {}): Promise<DemoServer> {
  const pageDir = options.pageDir ?? fileURLToPath(new URL('../page/', import.meta.url));
  const serveFile = staticFiles(pageDir);
  const sockets = new Set<Socket>();
  const knownChannels = new Set<string>();

  const api = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    if (path === '/demo/api/state' && req.method === 'GET') {
      const presence: Record<string, JsonValue> = {};
      for (const channel of [...knownChannels].sort()) {
        presence[channel] = (await rt.presence(channel)).map((m) => ({ session: m.session, transport: m.transport }));
      }
      json(res, 200, { metrics: { ...rt.metrics() }, presence, ...simulation.snapshot() });
      return;
    }
    if (req.method !== 'POST') {
      json(res, 405, { error: 'use POST' });
      return;
    }
    switch (path) {
      case '/demo/api/chaos/drop': {
        let dropped = 0;
        for (const socket of sockets) {
          if (socket === req.socket) continue;
          socket.destroy();
          dropped++;
        }
        json(res, 200, { dropped });
        return;
      }
      case '/demo/api/chaos/pause':
        simulation.pause();
        json(res, 200, { paused: true });
        return;
      case '/demo/api/chaos/resume':
        simulation.resume();
        json(res, 200, { paused: false });
        return;
      default:
        json(res, 404, { error: `no such endpoint: ${path}` });
    }
  };

  const http = createHttpServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const work = path.startsWith('/demo/api/') ? api(req, res, path) : serveFile(req, res);
    work.catch((error: unknown) => {
      if (!res.headersSent) json(res, 500, { error: String(error) });
      else res.destroy();
    });
  });
  http.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  // `api` above reads these two: defined before the server listens, so before any request.
  const rt = createServer({ server: http, path: RT_PATH });
  rt.onPresence((event) => knownChannels.add(event.channel));
  const simulation = startSimulation(rt, options.simulation ?? DEFAULT_SIMULATION);

  const host = options.host ?? DEFAULT_HOST;
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 5173, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const address = http.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;

  return {
    url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}/`,
    port,
    rt,
    simulation,
    close: async () => {
      simulation.stop();
      await rt.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
    },
  };
}
