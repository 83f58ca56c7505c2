/** Starts real servers on 127.0.0.1, port 0, and closes them after each test. */
import { afterEach } from 'vitest';
import { createServer, type RxmuxServer, type ServerOptions } from '@rxmux/server';
import { tclient, type TClient, type TClientOptions } from './tclient.js';

export interface Running<P> {
  readonly server: RxmuxServer<P>;
  /** ws://127.0.0.1:port/rt */
  readonly url: string;
  /** http://127.0.0.1:port/rt */
  readonly http: string;
  /** A connected client that already said hello. */
  client(options?: TClientOptions): Promise<TClient>;
}

const servers: RxmuxServer<unknown>[] = [];
const clients: TClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

export async function start<P = null>(options: ServerOptions<P> = {}): Promise<Running<P>> {
  const server = createServer<P>({ host: '127.0.0.1', port: 0, ...options });
  servers.push(server as RxmuxServer<unknown>);
  await server.ready();
  const path = options.path ?? '/rt';
  const url = `ws://127.0.0.1:${server.port}${path}`;
  return {
    server,
    url,
    http: `http://127.0.0.1:${server.port}${path}`,
    async client(clientOptions) {
      const c = await connect(url, clientOptions);
      await c.hello();
      return c;
    },
  };
}

/** Connects a raw client that is closed after the test. */
export async function connect(url: string, options?: TClientOptions): Promise<TClient> {
  const c = await tclient(url, options);
  clients.push(c);
  return c;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
