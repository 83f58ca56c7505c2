/**
 * A TCP proxy on 127.0.0.1 that adds a fixed one-way latency to every byte,
 * both ways: each chunk leaves `oneWayMs` after it arrived, in order, never
 * waiting for the chunks before it to leave first (a link with that
 * propagation delay, not a serial queue). 50 ms each way is 100 ms of round
 * trip. The TCP handshake to the proxy itself is local; everything the
 * browser and the server say to each other (the HTTP upgrade, every frame,
 * the SSE request and events) crosses the delay.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class LatencyProxy {
  readonly #sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly oneWayMs: number,
  ) {}

  /** Starts a proxy (port 0) to `target` on 127.0.0.1. */
  static async start(target: number, oneWayMs: number): Promise<LatencyProxy> {
    const server = createServer();
    const proxy = new LatencyProxy(server, oneWayMs);
    server.on('connection', (client) => proxy.#accept(client, target));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #accept(client: Socket, target: number): void {
    const upstream = connect(target, '127.0.0.1');
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      this.#sockets.add(socket);
      socket.on('close', () => {
        this.#sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
      socket.on('error', () => undefined);
    }
    this.#delay(client, upstream);
    this.#delay(upstream, client);
  }

  /** Forwards `from` to `to`, each chunk `oneWayMs` after it arrived; the end of the stream too. */
  #delay(from: Socket, to: Socket): void {
    const queue: { readonly due: number; readonly chunk: Buffer | null }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const drain = (): void => {
      timer = undefined;
      const now = performance.now();
      while (queue.length > 0 && (queue[0]?.due ?? Infinity) <= now) {
        const { chunk } = queue.shift() as (typeof queue)[number];
        if (to.destroyed) return;
        if (chunk === null) to.end();
        else to.write(chunk);
      }
      const next = queue[0];
      if (next !== undefined) timer = setTimeout(drain, Math.max(0, next.due - now));
    };
    const push = (chunk: Buffer | null): void => {
      queue.push({ due: performance.now() + this.oneWayMs, chunk });
      timer ??= setTimeout(drain, this.oneWayMs);
    };
    from.on('data', (chunk: Buffer) => push(chunk));
    from.on('end', () => push(null));
  }
}
