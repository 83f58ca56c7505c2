/**
 * The client's chunked transfers (protocol v2, PROTOCOL.md 15) against the
 * scripted FakeServer speaking v2: uploads cut into pieces under the
 * server's window, other channels going first, a channel's own order kept,
 * acks and receipts counting the whole message once, a resume re-sending a
 * message whose last piece was not written, downloads put together, the
 * server's refusals, and an old (v1) server.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { RemoteError, type DroppedMessage, type RxmuxError } from '@rxmux/core';
import { ErrorCode, type Frame } from '@rxmux/core/protocol';
import { FakeServer, marbles, runMarbles, type ScriptedConnection } from '@rxmux/core/testing';

const KIB = 1024;
const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const bytesOf = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed) & 0xff);
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** A connection to `server`, open (a subscribed `hold` channel keeps it wanted) and welcomed. */
async function opened(server: FakeServer, options: Parameters<FakeServer['connect']>[0] = {}): Promise<{ conn: ReturnType<FakeServer['connect']>; c: ScriptedConnection }> {
  const conn = server.connect(options);
  conn.channel('hold').subscribe();
  const c = await server.nextConnection();
  c.welcome();
  return { conn, c };
}

/** What the connection's frames say, pieces named by channel and offset (subscribes and credits left out). */
function story(c: ScriptedConnection): string[] {
  return c.frames.filter((f) => f.type !== 'subscribe' && f.type !== 'credit').map((f: Frame) => {
    if (f.type === 'transfer') return `transfer:${f.channel}:${f.size}`;
    if (f.type === 'chunk') return `chunk:${f.channel}:${f.offset}${f.abandon === true ? ':abandon' : ''}`;
    if (f.type === 'message') return `msg:${f.channel}:${f.data instanceof Uint8Array ? `bytes${f.data.length}` : JSON.stringify(f.data)}`;
    return f.type;
  });
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await tick();
  }
  throw new Error(`never: ${what}`);
}

describe('uploads', () => {
  it('a large sendBinary travels in pieces the window allows; a small send on another channel goes first; the server gets the exact bytes once', async () => {
    const server = new FakeServer({ transfers: { autoCredit: false } });
    const { conn, c } = await opened(server);
    const payload = bytesOf(300 * KIB);
    conn.channel('up').sendBinary(payload);
    await until(() => c.frames.length >= 2, 'the first piece');
    conn.channel('chat').send('hi');
    await until(() => story(c).includes('msg:chat:"hi"'), 'the chat message');
    // One window (64 KiB) went out; nothing more until the server credits.
    expect(story(c)).toEqual(['hello', 'transfer:up:307200', 'msg:chat:"hi"']);
    for (let i = 0; i < 10 && !story(c).includes('msg:up:bytes307200'); i++) {
      c.credit();
      await tick();
    }
    expect(story(c)).toEqual(['hello', 'transfer:up:307200', 'msg:chat:"hi"', 'chunk:up:65536', 'chunk:up:131072', 'chunk:up:196608', 'chunk:up:262144', 'msg:up:bytes307200']);
    const whole = await c.nextMessage('up');
    expect(sha(whole.data as Uint8Array)).toBe(sha(payload));
    conn.close();
  });

  it("a channel's later sends wait behind its transfer (its order kept); a large JSON message travels as text", async () => {
    const server = new FakeServer({ transfers: true });
    const { conn, c } = await opened(server);
    const rows = Array.from({ length: 4_000 }, (_, i) => ({ i, name: `row-${i}` }));
    conn.channel('up').send({ rows });
    conn.channel('up').send('after');
    conn.channel('other').send('meanwhile');
    await until(() => story(c).includes('msg:up:"after"'), 'the later send');
    const names = story(c);
    expect(names.indexOf('msg:other:"meanwhile"')).toBeLessThan(names.findIndex((n) => n.startsWith('msg:up:{')));
    expect(names.findIndex((n) => n.startsWith('msg:up:{'))).toBeLessThan(names.indexOf('msg:up:"after"'));
    expect((await c.nextMessage('up')).data).toEqual({ rows });
    conn.close();
  });

  it('an acked chunked message is acked once, whole; receipts count it once, in the order the server took it', async () => {
    const server = new FakeServer({ transfers: true, receipts: true });
    const { conn, c } = await opened(server, { reconnect: { initialDelay: 1 } });
    const acked = lastValueFrom(conn.channel('up').sendBinary(bytesOf(200 * KIB), { ack: true }));
    conn.channel('chat').send('hi');
    const message = await c.nextMessage('up');
    c.ack(message);
    expect(await acked).toEqual({ id: message.id });
    c.receipt();
    await until(() => c.frames.filter((f) => f.type === 'message').length === 2, 'both messages');
    // The connection holds nothing back any more: nothing to re-send after a drop.
    c.drop();
    const next = await server.nextConnection();
    next.welcome();
    await tick();
    expect(story(next).filter((n) => n.startsWith('msg') || n.startsWith('transfer'))).toEqual([]);
    conn.close();
  });

  it('resume: a message whose last piece was not written goes again whole, from byte 0, after the small frames that overtook it', async () => {
    const server = new FakeServer({ transfers: { autoCredit: false }, receipts: true });
    const { conn, c: first } = await opened(server, { reconnect: { initialDelay: 1 } });
    const payload = bytesOf(200 * KIB, 9);
    conn.channel('up').sendBinary(payload);
    conn.channel('chat').send('hi');
    await until(() => story(first).includes('msg:chat:"hi"'), 'the chat message');
    expect(story(first)).toEqual(['hello', 'msg:chat:"hi"', 'transfer:up:204800']); // sent in one turn: the small frame first
    first.drop(); // the upload was cut after its first piece
    const second = await server.nextConnection();
    second.welcome({ resumed: true, received: 1 }); // the server took the chat message
    for (let i = 0; i < 10 && !story(second).includes('msg:up:bytes204800'); i++) {
      await tick();
      second.credit();
    }
    expect(story(second).filter((n) => !n.startsWith('chunk'))).toEqual(['hello', 'transfer:up:204800', 'msg:up:bytes204800']);
    expect(sha((await second.nextMessage('up')).data as Uint8Array)).toBe(sha(payload));
    conn.close();
  });

  it("the server's abort fails an unfinished upload: its ack errors with the code, a plain one is reported; the channel goes on", async () => {
    const server = new FakeServer({ transfers: { autoCredit: false } });
    const { conn, c } = await opened(server);
    const errors: RxmuxError[] = [];
    conn.errors$.subscribe((e) => errors.push(e));
    const acked = lastValueFrom(conn.channel('a').sendBinary(bytesOf(200 * KIB), { ack: true }));
    conn.channel('b').sendBinary(bytesOf(200 * KIB));
    await until(() => story(c).filter((n) => n.startsWith('transfer')).length === 1, 'a piece');
    c.send({ type: 'abort', channel: 'a', code: ErrorCode.FrameTooBig, message: 'too big' });
    await expect(acked).rejects.toMatchObject({ code: ErrorCode.FrameTooBig });
    await until(() => story(c).includes('chunk:a:65536:abandon'), 'the abandoning chunk');
    c.credit();
    await until(() => story(c).includes('transfer:b:204800'), 'b starts');
    c.send({ type: 'abort', channel: 'b', code: ErrorCode.TooManyTransfers });
    await until(() => errors.length === 1, 'b reported');
    expect(errors[0]).toBeInstanceOf(RemoteError);
    expect(errors[0]).toMatchObject({ code: ErrorCode.TooManyTransfers, channel: 'b' });
    conn.channel('a').send('still here');
    await until(() => story(c).includes('msg:a:"still here"'), 'the channel goes on');
    conn.close();
  });

  it('an ack timeout while the pieces are on the wire abandons the transfer (no message)', async () => {
    const server = new FakeServer({ transfers: { autoCredit: false } });
    const { conn, c } = await opened(server);
    const acked = lastValueFrom(conn.channel('up').sendBinary(bytesOf(200 * KIB), { ack: true, timeout: 20 }));
    await expect(acked).rejects.toMatchObject({ code: ErrorCode.AckTimeout });
    await until(() => story(c).includes('chunk:up:65536:abandon'), 'the abandoning chunk');
    expect(story(c).some((n) => n.startsWith('msg:up'))).toBe(false);
    conn.close();
  });
});

describe('the offline buffer and an old (v1) server', () => {
  it('an upload waiting for credit holds nothing in the offline buffer: 50 small sends on other channels past a 10-message buffer, none dropped', async () => {
    const server = new FakeServer({ transfers: { autoCredit: false } });
    const { conn, c } = await opened(server, { buffer: { maxMessages: 10 } });
    const dropped: DroppedMessage[] = [];
    conn.dropped$.subscribe((d) => dropped.push(d));
    conn.channel('up').sendBinary(bytesOf(1024 * KIB)); // 16 windows: it waits for credit after the first
    await until(() => story(c).includes('transfer:up:1048576'), 'the first piece');
    for (let i = 0; i < 50; i++) conn.channel(`chat-${i % 5}`).send(i);
    await until(() => story(c).filter((n) => n.startsWith('msg:chat')).length === 50, 'every small send');
    expect(dropped).toEqual([]);
    expect(story(c).filter((n) => n.startsWith('chunk') || n.startsWith('msg:up'))).toEqual([]); // still waiting for credit
    conn.close();
  });

  it('a large payload sent offline counts its full size against maxBytes; one larger is refused at once', () => {
    const server = new FakeServer({ transfers: true });
    const conn = server.connect({ buffer: { maxBytes: 256 * KIB } });
    expect(() => conn.channel('up').sendBinary(bytesOf(300 * KIB))).toThrow(/exceeds maxBytes/);
    conn.channel('up').sendBinary(bytesOf(200 * KIB));
    conn.close();
  });

  it("on v2, bytes may exceed the server's maxFrameBytes (in pieces), JSON may not: the server parses it whole, so it is refused at once", async () => {
    const server = new FakeServer({ transfers: true });
    const conn = server.connect();
    conn.channel('hold').subscribe();
    const c = await server.nextConnection();
    c.welcome({ limits: { maxFrameBytes: 64 * KIB, maxBatch: 1024, rate: 1e6, burst: 1e6 } });
    const rows = Array.from({ length: 4_000 }, (_, i) => ({ i, name: `row-${i}` })); // ~100 KiB of JSON
    expect(() => conn.channel('up').send({ rows })).toThrow(/larger than the server takes/);
    conn.channel('up').sendBinary(bytesOf(100 * KIB));
    expect(sha((await c.nextMessage('up')).data as Uint8Array)).toBe(sha(bytesOf(100 * KIB)));
    conn.close();
  });

  it("connected to a v1 server, a payload over its maxFrameBytes is refused at once; one buffered offline is dropped as 'too-big' at the welcome", async () => {
    const server = new FakeServer();
    const conn = server.connect({ maxFrameBytes: 64 * KIB, buffer: { maxBytes: 1024 * KIB } });
    const dropped: DroppedMessage[] = [];
    conn.dropped$.subscribe((d) => dropped.push(d));
    conn.channel('up').sendBinary(bytesOf(100 * KIB)); // offline: it may go in pieces later
    const c = await server.nextConnection();
    c.welcome(); // v1: whole frames only
    expect(dropped.map((d) => [d.channel, d.reason])).toEqual([['up', 'too-big']]);
    expect(() => conn.channel('up').sendBinary(bytesOf(100 * KIB))).toThrow(/larger than the server takes/);
    conn.channel('up').sendBinary(bytesOf(10 * KIB));
    await until(() => story(c).includes('msg:up:bytes10240'), 'a small one');
    conn.close();
  });
});

describe('downloads', () => {
  it('a large binary publication is put together and emitted once, exact; the client credits as it takes the pieces', async () => {
    const server = new FakeServer({ transfers: true });
    const conn = server.connect();
    const video = conn.channel('video');
    const got = firstValueFrom(video.binary$);
    const c = await server.nextConnection();
    c.welcome();
    c.subscribed(await c.nextSubscribe('video'), { epoch: 'e', seq: 0 });
    const payload = bytesOf(500 * KIB, 3);
    c.publishBinary('video', payload, { seq: 1 });
    expect(sha(await got)).toBe(sha(payload));
    const credits = c.frames.flatMap((f) => (f.type === 'credit' ? [f.bytes] : []));
    expect(credits.reduce((n, b) => n + b, 0)).toBe(payload.byteLength);
    conn.close();
  });

  it('a large JSON publication arrives as its value, in seq order with the small ones after it', async () => {
    const server = new FakeServer({ transfers: true });
    const conn = server.connect();
    const feed = conn.channel<unknown>('feed');
    const values = lastValueFrom(feed.pipe(take(2), toArray()));
    const c = await server.nextConnection();
    c.welcome();
    c.subscribed(await c.nextSubscribe('feed'), { epoch: 'e', seq: 0 });
    const big = { text: 'x'.repeat(200 * KIB) };
    c.publish('feed', big, { seq: 1 });
    await tick(); // the pieces need the client's credit: the next publication is sent after them, as the server keeps a channel's order
    await until(() => c.frames.some((f) => f.type === 'credit'), 'credits');
    await new Promise((resolve) => setTimeout(resolve, 20));
    c.publish('feed', 'next', { seq: 2 });
    expect(await values).toEqual([big, 'next']);
    conn.close();
  });
});

describe('property: downloads put together', () => {
  it('any mix of large and small publications on a few channels, any piece size and window: each channel emits exactly what was published, in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ channel: fc.constantFrom('a', 'b', 'c'), size: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 1025, max: 40_000 })), text: fc.boolean() }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1024, max: 16 * KIB }),
        fc.integer({ min: 1024, max: 16 * KIB }),
        fc.integer({ min: 1, max: 3 }),
        async (publications, chunkBytes, window, maxTransfers) => {
          const server = new FakeServer({ transfers: { chunkBytes } });
          const conn = server.connect({ transfers: { chunkBytes, window, maxTransfers } });
          const got = new Map<string, unknown[]>();
          const channels = ['a', 'b', 'c'].map((id) => {
            const ch = conn.channel<unknown>(id);
            ch.subscribe((v) => got.set(id, [...(got.get(id) ?? []), v]));
            ch.binary$.subscribe((v) => got.set(id, [...(got.get(id) ?? []), sha(v)]));
            return id;
          });
          const c = await server.nextConnection();
          c.welcome();
          for (const id of channels) c.subscribed(await c.nextSubscribe(id), { epoch: 'e', seq: 0 });
          const want = new Map<string, unknown[]>();
          const seqs = new Map<string, number>();
          for (const [i, p] of publications.entries()) {
            const seq = (seqs.get(p.channel) ?? 0) + 1;
            seqs.set(p.channel, seq);
            const bytes = bytesOf(p.size, i);
            const value = p.text ? { i, text: 'x'.repeat(p.size) } : sha(bytes);
            want.set(p.channel, [...(want.get(p.channel) ?? []), value]);
            if (p.text) c.publish(p.channel, { i, text: 'x'.repeat(p.size) }, { seq });
            else c.publishBinary(p.channel, bytes, { seq });
          }
          const count = (m: Map<string, unknown[]>): number => [...m.values()].reduce((n, v) => n + v.length, 0);
          await until(() => count(got) === publications.length, 'every publication');
          expect(got).toEqual(want);
          conn.close();
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('marbles: status and interleaving on virtual time', () => {
  const toEqual = (actual: unknown, expected: unknown): void => expect(actual).toEqual(expected);
  it('the upload holds neither the status nor another channel: pieces leave as credit comes, the chat at once', () => {
    runMarbles(toEqual, ({ expectStatus, later }) => {
      const server = new FakeServer({ transfers: { autoCredit: false }, autoWelcome: { after: 5 } });
      const conn = server.connect({ linger: 10 });
      conn.channel('up').sendBinary(bytesOf(150 * KIB)); // buffered until the welcome, then one window's worth
      later(() => conn.channel('chat').send('hi'), 6);
      later(() => expect(story(server.last)).toEqual(['hello', 'transfer:up:153600', 'msg:chat:"hi"']), 7);
      later(() => server.last.credit(), 8);
      later(() => server.last.credit(), 9);
      later(() => expect(story(server.last)).toEqual(['hello', 'transfer:up:153600', 'msg:chat:"hi"', 'chunk:up:65536', 'chunk:up:131072', 'msg:up:bytes153600']), 10);
      later(() => conn.close(), 20);
      // Send-only: the socket is wanted while the upload is unfinished, then lingers 10 ms.
      expectStatus(conn, marbles([[0, 'C'], [5, 'o'], [19, 'c'], [20, '|']]));
    });
  });
});
