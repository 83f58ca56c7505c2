/** Starts real servers on 127.0.0.1, port 0, and closes them after each test. */
import { afterEach } from 'vitest';
import type { WelcomeFrame } from '@rxmux/core/protocol';
import { createServer, MemoryEngine, type AuthenticatedServerOptions, type ChannelPosition, type Engine, type HistoryResult, type RxmuxServer, type ServerOptions } from '@rxmux/server';
import { tclient, type TClient, type TClientOptions } from './tclient.js';

export interface Running<P> {
  readonly server: RxmuxServer<P>;
  /** ws://127.0.0.1:port/rt */
  readonly url: string;
  /** http://127.0.0.1:port/rt */
  readonly http: string;
  /** A connected client that already said hello. */
  readonly client: (options?: TClientOptions) => Promise<TClient>;
}

const servers: RxmuxServer<unknown>[] = [];
const clients: TClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A server on 127.0.0.1, port 0 (closed after the test); its principal type is what `authenticate` returns, `null` without. */
export function start(options?: ServerOptions): Promise<Running<null>>;
export function start<P>(options: AuthenticatedServerOptions<P>): Promise<Running<P>>;
export function start<P>(options: AuthenticatedServerOptions<P> | ServerOptions = {}): Promise<Running<P> | Running<null>> {
  // The same call twice on purpose: each branch picks its overload (principal null without authenticate, P with it).
  if (options.authenticate === undefined) return running(createServer({ host: '127.0.0.1', port: 0, ...options }), options.path);
  return running(createServer({ host: '127.0.0.1', port: 0, ...options }), options.path);
}

async function running<P>(server: RxmuxServer<P>, path = '/rt'): Promise<Running<P>> {
  servers.push(server);
  await server.ready();
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

/** Connects and says hello (resuming `session` when given); returns the client and its welcome. */
export async function hello(url: string, session?: string): Promise<{ c: TClient; welcome: WelcomeFrame }> {
  const c = await connect(url);
  c.send(session === undefined ? { type: 'hello', version: 1 } : { type: 'hello', version: 1, session });
  return { c, welcome: await c.waitFor('welcome') };
}

/**
 * The memory engine with a slow `history()`, to race publications against a
 * replay: `'late'` reads the history when the delay ends, `'early'` reads it at
 * once and answers after the delay (publications in between are newer than it).
 */
export function slowHistoryEngine<P = null>(delayMs: number, read: 'late' | 'early'): Engine<P> {
  const memory = new MemoryEngine<P>();
  return {
    start: (sink) => memory.start(sink),
    publish: (channel, data) => memory.publish(channel, data),
    subscribe: () => undefined,
    unsubscribe: () => undefined,
    position: (channel) => {
      const early = read === 'early' ? memory.position(channel) : undefined;
      return new Promise<ChannelPosition>((resolve) => setTimeout(() => resolve(early ?? memory.position(channel)), delayMs));
    },
    history: (channel, since, limit) => {
      const early = read === 'early' ? memory.history(channel, since, limit) : undefined;
      return new Promise<HistoryResult>((resolve) => setTimeout(() => resolve(early ?? memory.history(channel, since, limit)), delayMs));
    },
    join: (channel, member) => memory.join(channel, member),
    leave: (channel, session) => memory.leave(channel, session),
    presence: (channel) => memory.presence(channel),
    close: () => memory.close(),
  };
}
