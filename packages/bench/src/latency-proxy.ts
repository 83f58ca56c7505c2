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
    /** Forwards one direction of a link. */
    private readonly forward: (from: Socket, to: Socket) => void,
  ) {}

  /** Starts a proxy (port 0) to `target` on 127.0.0.1. */
  static async start(target: number, oneWayMs: number): Promise<LatencyProxy> {
    return LatencyProxy.#listen(target, (from, to) => delay(from, to, oneWayMs));
  }

  /**
   * Starts a proxy (port 0) to `target` on 127.0.0.1 that carries at most
   * `bytesPerSecond` each way instead (no added latency): it queues at most
   * 64 KiB and then stops reading, so a sender's backlog waits in the
   * kernel's socket buffers, as behind a slow uplink.
   */
  static async throttled(target: number, bytesPerSecond: number): Promise<LatencyProxy> {
    return LatencyProxy.#listen(target, (from, to) => throttle(from, to, bytesPerSecond));
  }

  static async #listen(target: number, forward: (from: Socket, to: Socket) => void): Promise<LatencyProxy> {
    const server = createServer();
    const proxy = new LatencyProxy(server, forward);
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
    this.forward(client, upstream);
    this.forward(upstream, client);
  }
}

/** Forwards `from` to `to`, each chunk `oneWayMs` after it arrived; the end of the stream too. */
function delay(from: Socket, to: Socket, oneWayMs: number): void {
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
    queue.push({ due: performance.now() + oneWayMs, chunk });
    timer ??= setTimeout(drain, oneWayMs);
  };
  from.on('data', (chunk: Buffer) => push(chunk));
  from.on('end', () => push(null));
}

/** Forwards `from` to `to` at most `rate` bytes per second; at 64 KiB queued it stops reading `from` until the queue drains. */
function throttle(from: Socket, to: Socket, rate: number): void {
  const HIGH = 64 * 1024;
  const queue: Buffer[] = [];
  let queued = 0;
  let last = performance.now();
  let budget = 0;
  let timer: NodeJS.Timeout | undefined;
  const pump = (): void => {
    timer = undefined;
    const now = performance.now();
    budget = Math.min(budget + ((now - last) * rate) / 1000, rate / 200); // at most 5 ms of burst
    last = now;
    while (queue.length > 0 && budget >= 1) {
      const head = queue[0] as Buffer;
      const n = Math.min(head.length, Math.floor(budget));
      to.write(head.subarray(0, n));
      budget -= n;
      queued -= n;
      if (n === head.length) queue.shift();
      else queue[0] = head.subarray(n);
    }
    if (queued < HIGH && from.isPaused()) from.resume();
    if (queue.length > 0) timer = setTimeout(pump, 1);
  };
  from.on('data', (chunk: Buffer) => {
    queue.push(chunk);
    queued += chunk.length;
    if (queued >= HIGH) from.pause();
    if (timer === undefined) {
      last = performance.now();
      pump();
    }
  });
}
