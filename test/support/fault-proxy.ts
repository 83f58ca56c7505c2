/**
 * A fault-injecting TCP proxy for tests, on 127.0.0.1 only. Clients connect to
 * the proxy; it forwards bytes to the target port and can cut every link,
 * black-hole them (accept bytes, deliver none), delay them, or point at a new
 * target (a restarted server).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

interface Link {
  readonly client: Socket;
  readonly upstream: Socket | undefined;
  /** Half-open: bytes are dropped in both directions for good, and nobody is told. */
  stranded: boolean;
}

export class FaultProxy {
  readonly #server: Server;
  readonly #links = new Set<Link>();
  #target: number;
  #blackhole = false;
  #delay = 0;
  /** Links cut so far (for the test's figures). */
  cuts = 0;

  private constructor(server: Server, target: number) {
    this.#server = server;
    this.#target = target;
  }

  /** Starts a proxy on 127.0.0.1 (port 0) forwarding to `targetPort`. */
  static async start(targetPort: number): Promise<FaultProxy> {
    const server = createServer();
    const proxy = new FaultProxy(server, targetPort);
    server.on('connection', (client) => proxy.#accept(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** The proxy's port: what clients connect to. */
  get port(): number {
    const address = this.#server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  /** Open links. */
  get links(): number {
    return this.#links.size;
  }

  /** Forwards new links to another port (the server was restarted elsewhere). */
  retarget(port: number): void {
    this.#target = port;
  }

  /** Destroys every open link abruptly (no close handshake: the client sees 1006). */
  cut(): void {
    for (const link of this.#links) {
      link.client.destroy();
      link.upstream?.destroy();
      this.cuts++;
    }
    this.#links.clear();
  }

  /** While on, bytes are accepted and dropped in both directions, and new links never reach the target. */
  blackhole(on: boolean): void {
    this.#blackhole = on;
  }

  /**
   * Makes every open link half-open for good: bytes are dropped both ways and
   * neither end is told (a NAT that forgot the flow, a dead Wi-Fi). New links
   * work normally. Unlike {@link blackhole}, turning nothing off revives them.
   */
  strand(): void {
    for (const link of this.#links) link.stranded = true;
  }

  /** Delays every chunk by `ms` in both directions (order kept). */
  delay(ms: number): void {
    this.#delay = ms;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    client.setNoDelay(true);
    if (this.#blackhole) {
      const link: Link = { client, upstream: undefined, stranded: true };
      this.#links.add(link);
      client.on('data', () => undefined);
      client.on('error', () => undefined);
      client.on('close', () => this.#links.delete(link));
      return;
    }
    const upstream = connect(this.#target, '127.0.0.1');
    upstream.setNoDelay(true);
    const link: Link = { client, upstream, stranded: false };
    this.#links.add(link);
    this.#pipe(link, client, upstream);
    this.#pipe(link, upstream, client);
    const end = (): void => {
      this.#links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  }

  #pipe(link: Link, from: Socket, to: Socket): void {
    let chain = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      if (this.#blackhole || link.stranded) return;
      const ms = this.#delay;
      if (ms === 0) {
        if (!to.destroyed) to.write(chunk);
        return;
      }
      chain = chain.then(() => new Promise<void>((resolve) => setTimeout(() => {
        if (!to.destroyed && !this.#blackhole && !link.stranded) to.write(chunk);
        resolve();
      }, ms)));
    });
  }
}
