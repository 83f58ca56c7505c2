/**
 * The server core driven directly, with an in-memory transport: no `ws`, no
 * HTTP, no sockets. What an adapter for another WebSocket server relies on.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CloseCode, decode, encode, ErrorCode, type Frame } from '@rxmux/core/protocol';
import { createServerCore, DEFAULT_LIMITS, MemorySessionStore, type Awaitable, type Session, type ServerCore, type SessionStore, type SocketHandle, type Transport } from '../src/index.js';

/** A transport that records what the core writes; `close()` completes the handshake like a peer would. */
class MemoryTransport implements Transport {
  readonly sent: (string | Uint8Array)[] = [];
  closedWith: { code: number; reason: string } | undefined;
  terminated = false;
  pings = 0;
  bufferedAmount = 0;
  handle: SocketHandle | undefined;
  private taken = 0;

  send(data: string | Uint8Array, binary: boolean): void {
    // A lone publication is written from its shared UTF-8 buffer as a text message.
    this.sent.push(binary || typeof data === 'string' ? data : Buffer.from(data).toString('utf8'));
  }

  close(code: number, reason: string): void {
    this.closedWith = { code, reason };
    queueMicrotask(() => this.handle?.closed(code, reason));
  }

  terminate(): void {
    this.terminated = true;
    queueMicrotask(() => this.handle?.closed(CloseCode.Abnormal, ''));
  }

  ping(): void {
    this.pings++;
  }

  /** The frames written since the last call. */
  frames(): Frame[] {
    const fresh = this.sent.slice(this.taken);
    this.taken = this.sent.length;
    return fresh.flatMap((message) => decode(message, { maxFrameBytes: 1 << 30 }).frames);
  }
}

/** The core flushes once per turn of the event loop (setImmediate): let a few pass (promise continuations first). */
async function turn(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

const cores: ServerCore<unknown>[] = [];
afterEach(async () => {
  await Promise.all(cores.splice(0).map((core) => core.close()));
});

function core<P>(options: Parameters<typeof createServerCore<P>>[0] = {}): ServerCore<P> {
  const created = createServerCore<P>(options);
  cores.push(created);
  return created;
}

/** Opens a socket on `core` and feeds it `frames` (one WebSocket message each). */
function open<P>(c: ServerCore<P>, principal: P): { transport: MemoryTransport; send(...frames: Frame[]): void; handle: SocketHandle } {
  const transport = new MemoryTransport();
  const handle = c.opened(transport, { principal });
  transport.handle = handle;
  return { transport, handle, send: (...frames) => frames.forEach((f) => handle.message(encode(f))) };
}

describe('the server core with an in-memory transport', () => {
  it('answers hello with welcome: a session id, the heartbeat, the limits; ping with pong', async () => {
    const c = core({ heartbeat: { interval: 1234, timeout: 5000 }, limits: { maxBatch: 64 } });
    const a = open(c, null);
    a.send({ type: 'hello', version: 1 }, { type: 'ping', t: 7 });
    await turn();
    const [welcome, pong, ...rest] = a.transport.frames();
    expect(welcome).toMatchObject({ type: 'welcome', version: 1, heartbeat: 1234, received: 0, limits: { maxBatch: 64 } });
    expect(welcome?.type === 'welcome' && Buffer.from(welcome.session, 'base64url').length).toBe(16);
    expect(pong).toEqual({ type: 'pong', t: 7 });
    expect(rest).toEqual([]);
    expect(a.transport.sent).toHaveLength(1); // both in one batch: one write per turn
    expect(c.metrics()).toMatchObject({ connections: 1, messagesIn: 2, framesOut: 2, messagesOut: 1 });
  });

  it('subscribes and delivers publications in order, one shared encoding for every socket', async () => {
    const c = core();
    const [a, b] = [open(c, null), open(c, null)];
    for (const s of [a, b]) s.send({ type: 'hello', version: 1 }, { type: 'subscribe', channel: 'news' });
    await turn();
    const subscribed = a.transport.frames()[1];
    expect(subscribed).toMatchObject({ type: 'subscribed', channel: 'news', seq: 0 });
    b.transport.frames();
    await c.publish('news', { n: 1 });
    await c.publish('news', 'two');
    await turn();
    const epoch = subscribed?.type === 'subscribed' ? subscribed.epoch : '';
    expect(a.transport.frames()).toEqual([
      { type: 'publication', channel: 'news', data: { n: 1 }, seq: 1 },
      { type: 'publication', channel: 'news', data: 'two', seq: 2 },
    ]);
    expect(b.transport.frames()).toHaveLength(2);
    expect((await c.presence('news')).map((m) => m.transport)).toEqual(['ws', 'ws']);
    // a resume from seq 1 in that epoch replays seq 2 after subscribed
    const again = open(c, null);
    again.send({ type: 'hello', version: 1 }, { type: 'subscribe', channel: 'news', since: 1, epoch });
    await turn();
    expect(again.transport.frames().slice(1)).toEqual([
      { type: 'subscribed', channel: 'news', epoch, seq: 2 },
      { type: 'publication', channel: 'news', data: 'two', seq: 2 },
    ]);
  });

  it('runs a message handler once per id and acks after it; a duplicate gets the same ack without running it', async () => {
    const c = core();
    const seen: unknown[] = [];
    c.handle('log', { onMessage: (_ctx, data) => void seen.push(data) });
    const a = open(c, null);
    a.send({ type: 'hello', version: 1 }, { type: 'message', channel: 'log', data: 'x', id: 1 }, { type: 'message', channel: 'log', data: 'x', id: 1 });
    await turn();
    expect(a.transport.frames().slice(1)).toEqual([{ type: 'ack', id: 1 }, { type: 'ack', id: 1 }, { type: 'receipt', received: 2 }]);
    expect(seen).toEqual(['x']);
  });

  it('answers a request with its reply, a coded failure with a request-error, and a re-sent id from the reply cache', async () => {
    const c = core();
    let runs = 0;
    c.handle('calc', {
      onRequest: (ctx, data) => {
        runs++;
        if (data === 'fail') {
          ctx.fail('APP_ERR_NOPE', 'no');
          return undefined;
        }
        return (data as number) * 2;
      },
    });
    const a = open(c, null);
    a.send({ type: 'hello', version: 1 }, { type: 'request', channel: 'calc', id: 1, data: 21 }, { type: 'request', channel: 'calc', id: 2, data: 'fail' }, { type: 'request', channel: 'calc', id: 1, data: 21 });
    await turn();
    expect(a.transport.frames().slice(1)).toEqual([
      { type: 'response', id: 1, data: 42 },
      { type: 'request-error', id: 2, code: 'APP_ERR_NOPE', message: 'no' },
      { type: 'response', id: 1, data: 42 },
    ]);
    expect(runs).toBe(2);
  });

  it('handler contexts: plain fields, and methods that work when destructured (made on first read)', async () => {
    const c = core<{ user: string }>();
    const seen: unknown[] = [];
    c.handle('room', {
      onSubscribe: ({ send, channel }) => send(`welcome to ${channel}`),
      onMessage: ({ publish, id, principal }, data) => {
        seen.push({ id, principal });
        publish(data);
      },
      onRequest: async ({ reply, id, channel, session, signal }, data) => {
        seen.push({ id, channel, session: typeof session, aborted: signal.aborted });
        await new Promise((resolve) => setImmediate(resolve));
        reply({ echo: data as string }); // answers: the promise resolves (undefined) after it
      },
    });
    const a = open(c, { user: 'ada' });
    a.send({ type: 'hello', version: 1 }, { type: 'subscribe', channel: 'room' });
    await turn();
    expect(a.transport.frames()).toContainEqual({ type: 'publication', channel: 'room', data: 'welcome to room' });
    a.send({ type: 'message', channel: 'room', data: 'hi', id: 4 }, { type: 'request', channel: 'room', id: 5, data: 'x' });
    await turn();
    expect(a.transport.frames()).toEqual(
      expect.arrayContaining([
        { type: 'ack', id: 4 },
        { type: 'publication', channel: 'room', data: 'hi', seq: 1 },
        { type: 'response', id: 5, data: { echo: 'x' } },
      ]),
    );
    expect(seen).toEqual([
      { id: 4, principal: { user: 'ada' } },
      { id: 5, channel: 'room', session: 'string', aborted: false },
    ]);
  });

  it('receipts: plain messages are counted, the receipt rides with the next write, and a resuming welcome carries the count', async () => {
    const c = core();
    c.handle('log', { onMessage: () => undefined });
    const a = open(c, null);
    a.send({ type: 'hello', version: 1 }, { type: 'message', channel: 'log', data: 1 }, { type: 'message', channel: 'log', data: 2 }, { type: 'ping', t: 1 });
    await turn();
    const [welcome, ...after] = a.transport.frames();
    expect(after).toEqual([{ type: 'pong', t: 1 }, { type: 'receipt', received: 2 }]);
    a.handle.closed(CloseCode.Abnormal, ''); // the socket drops: the session is kept for a resume
    expect(c.metrics().detachedSessions).toBe(1);
    const b = open(c, null);
    b.send({ type: 'hello', version: 1, session: welcome?.type === 'welcome' ? welcome.session : '' });
    await turn();
    expect(b.transport.frames()).toEqual([expect.objectContaining({ type: 'welcome', resumed: true, received: 2 })]);
  });

  it('reports the close code the server chose to onClose, not what the socket saw (1006)', async () => {
    const closes: [number, string][] = [];
    const c = core({ limits: { ratePerSecond: 1, rateBurst: 32 }, hooks: { onClose: (_info, code, reason) => void closes.push([code, reason]) } });
    const a = open(c, null);
    a.send({ type: 'hello', version: 1 });
    a.handle.message(JSON.stringify(Array.from({ length: 32 }, (_, i) => [14, i]))); // 32 envelopes, 31 tokens left
    await turn();
    expect(a.transport.closedWith).toEqual({ code: CloseCode.PolicyViolation, reason: 'rate limit exceeded' });
    expect(a.transport.frames().slice(1)).toEqual([expect.objectContaining({ type: 'error', code: ErrorCode.RateLimited })]);
    a.handle.closed(CloseCode.Abnormal, ''); // the peer never answered the close frame
    const b = open(c, null);
    b.send({ type: 'hello', version: 1 });
    b.handle.closed(CloseCode.Normal, 'bye');
    expect(closes).toEqual([
      [CloseCode.PolicyViolation, 'rate limit exceeded'],
      [CloseCode.Normal, 'bye'],
    ]);
    expect(c.metrics()).toMatchObject({ connections: 0, rateLimited: 1, detachedSessions: 1 }); // the 1000 close ended its session
  });

  it('holds the frames behind a hello while an asynchronous session store answers, then runs them in order', async () => {
    const memory = new MemorySessionStore<null>(DEFAULT_LIMITS);
    let answer: (() => void) | undefined;
    const slow: SessionStore<null> = {
      open: (name, principal, socket) => new Promise((resolve) => (answer = () => resolve(memory.open(name, principal, socket)))),
      detach: (session, socket, keep) => memory.detach(session, socket, keep),
      get detachedCount() {
        return memory.detachedCount;
      },
      close: () => memory.close(),
    };
    const c = core({ sessions: slow });
    const a = open(c, null);
    a.send({ type: 'hello', version: 1 }, { type: 'ping', t: 1 }, { type: 'subscribe', channel: 'x' });
    await turn();
    expect(a.transport.frames()).toEqual([]);
    answer?.();
    await turn();
    expect(a.transport.frames().map((f) => f.type)).toEqual(['welcome', 'pong', 'subscribed']);
  });

  it('keeps frame order and dedupe when the session answers its lookups asynchronously (a store like Redis)', async () => {
    const memory = new MemorySessionStore<null>(DEFAULT_LIMITS);
    /** A value a turn later, as from a round trip. */
    const later = async <T>(value: Awaitable<T>): Promise<T> => {
      const answer = await value;
      await new Promise((resolve) => setImmediate(resolve));
      return answer;
    };
    /** The memory session, with the lookups a remote store makes answered a turn later. */
    const remote = (session: Session<null>): Session<null> => ({
      id: session.id,
      principal: session.principal,
      get received() {
        return session.received;
      },
      requests: session.requests,
      take: () => session.take(),
      seen: (id) => later(session.seen(id)),
      started: (id) => session.started(id),
      finished: (id, answer) => session.finished(id, answer),
      reply: (id) => later(session.reply(id)),
      requestStarted: (id) => session.requestStarted(id),
      replied: (id, answer) => session.replied(id, answer),
      cancel: (id) => session.cancel(id),
      send: (envelope) => session.send(envelope),
      drain: () => later(session.drain()),
    });
    const store: SessionStore<null> = {
      open: async (name, principal, socket) => {
        const { session, resumed } = await later(memory.open(name, principal, socket));
        return { session: remote(session), resumed };
      },
      detach: (session, socket, keep) => memory.detach(session, socket, keep),
      get detachedCount() {
        return memory.detachedCount;
      },
      close: () => memory.close(),
    };
    const c = core({ sessions: store });
    let runs = 0;
    c.handle('svc', {
      onMessage: () => {
        runs++;
      },
      onRequest: () => ++runs,
    });
    const a = open(c, null);
    a.send(
      { type: 'hello', version: 1 },
      { type: 'message', channel: 'svc', data: 1, id: 1 },
      { type: 'request', channel: 'svc', id: 9, data: null },
      { type: 'message', channel: 'svc', data: 1, id: 1 },
      { type: 'request', channel: 'svc', id: 9, data: null },
      { type: 'ping', t: 3 },
    );
    const frames: Frame[] = [];
    for (let turns = 0; turns < 50 && !frames.some((f) => f.type === 'pong'); turns++) {
      await turn();
      frames.push(...a.transport.frames());
    }
    // The lookups spread the answers over several turns, so receipts ride with several writes.
    expect(frames.filter((f) => f.type !== 'receipt').map((f) => (f.type === 'welcome' ? 'welcome' : f))).toEqual([
      'welcome',
      { type: 'ack', id: 1 },
      { type: 'response', id: 9, data: 2 },
      { type: 'ack', id: 1 },
      { type: 'response', id: 9, data: 2 },
      { type: 'pong', t: 3 },
    ]);
    expect(frames.filter((f) => f.type === 'receipt').at(-1)).toEqual({ type: 'receipt', received: 2 });
    expect(runs).toBe(2);
  });

  it('a client within its rate is never cut for what waits behind an asynchronous step, on a transport that cannot pause reading', async () => {
    let release: (() => void) | undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    // An asynchronous authorize (a database, say) for the subscribe: everything behind it waits in the inbox.
    const c = core({ authorize: async (_principal, _channel, action) => (action === 'subscribe' ? held.then(() => true) : true) });
    const handled: number[] = [];
    c.handle('slow', { onMessage: (_ctx, data) => void handled.push((data as { n: number }).n) });
    const a = open(c, null); // MemoryTransport has no pause(): every message reaches the inbox
    a.send({ type: 'hello', version: 1 });
    await turn();
    a.send({ type: 'subscribe', channel: 'slow' });
    const pad = 'p'.repeat(40 * 1024); // 3 tokens each at 16 KiB a token: 40 of them are 120 of the burst's 200, and 1.6 MB
    for (let n = 0; n < 40; n++) a.send({ type: 'message', channel: 'slow', data: { n, pad }, id: n + 1 });
    await turn();
    expect(handled).toEqual([]); // they did wait
    release?.();
    for (let i = 0; i < 20 && handled.length < 40; i++) await turn();
    expect(handled).toEqual(Array.from({ length: 40 }, (_, n) => n));
    expect(a.transport.closedWith).toBeUndefined();
  });

  it("counts a socket under its address and principal until it closes: admitted at once or after its hello's token, refused by its principal's cap, or closed before its verdict", async () => {
    const c = core<string>({ limits: { maxConnectionsPerPrincipal: 1 } });
    const connect = (address: string, verify?: (token: string | undefined) => Promise<{ principal: string } | undefined>): MemoryTransport => {
      const transport = new MemoryTransport();
      transport.handle = c.opened(transport, verify === undefined ? { principal: 'ann', address } : { verify, address });
      return transport;
    };
    const counted = (): unknown => ({ addresses: c.metrics().addresses, principals: c.metrics().principals });
    const connections = (n: number): { connections: number; streams: number; polls: number; requests: number } => ({ connections: n, streams: 0, polls: 0, requests: 0 });
    const ann = connect('10.0.0.1');
    expect(counted()).toEqual({ addresses: { '10.0.0.1': connections(1) }, principals: 1 });
    const refused = connect('10.0.0.2'); // ann holds her cap: refused, and its address counted until it closes
    expect(refused.closedWith).toEqual({ code: CloseCode.TryAgainLater, reason: 'too many connections for this principal' });
    expect(counted()).toEqual({ addresses: { '10.0.0.1': connections(1), '10.0.0.2': connections(1) }, principals: 1 });
    await turn();
    expect(counted()).toEqual({ addresses: { '10.0.0.1': connections(1) }, principals: 1 });
    const bob = connect('10.0.0.3', (token) => Promise.resolve(token === undefined ? undefined : { principal: token }));
    expect(counted()).toEqual({ addresses: { '10.0.0.1': connections(1), '10.0.0.3': connections(1) }, principals: 1 }); // no principal before the verdict
    bob.handle?.message(encode({ type: 'hello', version: 1, token: 'bob' }));
    await turn();
    expect(bob.frames()).toEqual([expect.objectContaining({ type: 'welcome' })]);
    expect(counted()).toEqual({ addresses: { '10.0.0.1': connections(1), '10.0.0.3': connections(1) }, principals: 2 });
    const silent = connect('10.0.0.3', () => new Promise(() => undefined));
    expect(counted()).toEqual({ addresses: { '10.0.0.1': connections(1), '10.0.0.3': connections(2) }, principals: 2 });
    silent.handle?.closed(CloseCode.Abnormal, ''); // gone before its hello
    ann.handle?.closed(CloseCode.Normal, '');
    bob.handle?.closed(CloseCode.Normal, '');
    bob.handle?.closed(CloseCode.Normal, ''); // a second close gives nothing back twice
    expect(counted()).toEqual({ addresses: {}, principals: 0 });
  });

  it('closes every socket with 1001 on close(), after flushing what is queued', async () => {
    const c = createServerCore();
    const a = open(c, null);
    a.send({ type: 'hello', version: 1 }, { type: 'subscribe', channel: 'n' });
    await turn();
    a.transport.frames();
    void c.publish('n', 'last words');
    await c.close();
    expect(a.transport.frames()).toEqual([expect.objectContaining({ type: 'publication', data: 'last words' })]);
    expect(a.transport.closedWith).toEqual({ code: CloseCode.GoingAway, reason: 'going away' });
    expect(c.state).toBe('closed');
    expect(() => c.publish('n', 1)).toThrow(expect.objectContaining({ code: ErrorCode.ConnectionClosed }));
  });
});
