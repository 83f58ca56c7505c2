import { describe, expect, it } from 'vitest';
import { ErrorCode, type Frame } from '@rxmux/core/protocol';
import { connect, start } from './helpers.js';

/** A small seeded PRNG (mulberry32) so every run sends the same bytes. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const isError = (f: Frame): boolean => f.type === 'error';

describe('bad input never crashes the server and gets its documented answer', () => {
  it('closes 4400 on a first frame other than hello (PROTOCOL.md 5.2), after an UNEXPECTED_FRAME error; a pong is allowed', async () => {
    const { url } = await start();
    const c = await connect(url);
    c.send({ type: 'pong', t: 5 }); // a pong is allowed in any state: no error
    c.send({ type: 'subscribe', channel: 'a' });
    c.send({ type: 'ping', t: 1 });
    expect(await c.waitFor('error')).toMatchObject({ code: ErrorCode.UnexpectedFrame });
    expect(await c.waitForClose()).toEqual({ code: 4400, reason: 'hello expected' });
    expect(c.queue.filter((f) => f.type === 'subscribed' || f.type === 'pong' || f.type === 'error')).toEqual([]);
  });

  it('answers a second hello with UNEXPECTED_FRAME and ignores it', async () => {
    const { url } = await start();
    const c = await connect(url);
    await c.hello();
    c.send({ type: 'hello', version: 1 });
    expect(await c.waitFor('error')).toMatchObject({ code: ErrorCode.UnexpectedFrame });
    await c.expectNoFrame((f) => f.type === 'welcome' || f.type === 'error');
    c.send({ type: 'ping', t: 2 });
    expect(await c.waitFor('pong')).toEqual({ type: 'pong', t: 2 });
  });

  it('answers each malformed text frame with the codec error code', async () => {
    const { server, client } = await start({ limits: { rateBurst: 1000 } });
    server.handle('*', { onMessage: (ctx, data) => ctx.publish(data) });
    const c = await client();
    const cases: [string, string][] = [
      ['[0,"a",{"b":', ErrorCode.MalformedJson], // truncated
      ['not json at all', ErrorCode.MalformedJson],
      ['{"type":"message"}', ErrorCode.NotAnEnvelope],
      ['[]', ErrorCode.NotAnEnvelope],
      ['[99,"x"]', ErrorCode.UnknownType],
      ['[4]', ErrorCode.InvalidField],
      ['[4,""]', ErrorCode.InvalidChannel],
      [`[4,"${'c'.repeat(300)}"]`, ErrorCode.InvalidChannel],
      ['[0,"a",1,-5]', ErrorCode.InvalidField],
      ['[9,1]', ErrorCode.UnexpectedFrame], // an ack for an id the server never sent
      ['[3,1,"s",0]', ErrorCode.UnexpectedFrame], // a server-only frame
      ['[1,"a",1]', ErrorCode.UnexpectedFrame],
      [`[${'['.repeat(30_000)}${']'.repeat(30_000)}]`, ErrorCode.TooDeep], // deeply nested (60 KB, under maxFrameBytes): refused before it is parsed
      [`[0,"a",${'{"a":'.repeat(64)}1${'}'.repeat(64)}]`, ErrorCode.TooDeep],
      [JSON.stringify(Array.from({ length: 2000 }, () => [14])), ErrorCode.BatchTooLarge],
    ];
    for (const [text, code] of cases) {
      c.send(text);
      const error = await c.waitForFrame(isError);
      expect({ text: text.slice(0, 40), code: error.type === 'error' && error.code }).toEqual({ text: text.slice(0, 40), code });
    }
    // Nested data as deep as a frame may carry: delivered to the handler, published and received.
    c.send({ type: 'subscribe', channel: 'deep' });
    await c.waitFor('subscribed');
    const deepest = `${'['.repeat(61)}${']'.repeat(61)}`; // 61 + the envelope + the batch a publication may travel in
    c.send(`[0,"deep",${deepest},1]`);
    expect(await c.waitForFrame((f) => (f.type === 'ack' || f.type === 'error') && f.id === 1)).toEqual({ type: 'ack', id: 1 });
    expect(await c.waitFor('publication')).toMatchObject({ channel: 'deep', seq: 1 });
    c.send({ type: 'ping', t: 9 });
    expect(await c.waitFor('pong')).toEqual({ type: 'pong', t: 9 });
  });

  it('answers bad batch members one by one and runs the good ones', async () => {
    const { client } = await start();
    const c = await client();
    c.send('[[14,1],[99],[4,""],[14,2]]');
    const pongs = [await c.waitFor('pong'), await c.waitFor('pong')];
    expect(pongs.map((p) => p.t)).toEqual([1, 2]);
    const errors = [await c.waitForFrame(isError), await c.waitForFrame(isError)];
    expect(errors.map((e) => e.type === 'error' && e.code)).toEqual([ErrorCode.UnknownType, ErrorCode.InvalidChannel]);
  });

  it('answers malformed binary frames with an error frame', async () => {
    const { client } = await start();
    const c = await client();
    const cases: [number[], string][] = [
      [[0], ErrorCode.InvalidBinaryHeader],
      [[7, 0, 1, 97], ErrorCode.UnknownType],
      [[0, 0x80, 1, 97], ErrorCode.InvalidBinaryHeader],
      [[0, 0, 9, 97], ErrorCode.InvalidBinaryHeader],
      [[0, 0, 1, 0xff, 1], ErrorCode.InvalidChannel],
      [[0, 1, 1, 97, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], ErrorCode.InvalidField],
    ];
    for (const [bytes, code] of cases) {
      c.send(new Uint8Array(bytes));
      expect(await c.waitForFrame(isError)).toMatchObject({ code });
    }
  });

  it('survives random bytes and random text; every answer is an error frame, and others are unaffected', async () => {
    const errors: unknown[] = [];
    const { client } = await start({ limits: { rateBurst: 10_000 }, hooks: { onError: (e) => void errors.push(e) } });
    const fuzz = await client();
    const good = await client();
    const random = prng(42);
    let sent = 0;
    for (let i = 0; i < 200; i++) {
      const length = 1 + Math.floor(random() * 64);
      const bytes = Uint8Array.from({ length }, () => Math.floor(random() * 256));
      if (i % 2 === 0) fuzz.ws.send(bytes, { binary: true });
      else fuzz.ws.send(Array.from(bytes, (b) => String.fromCharCode(32 + (b % 95))).join(''));
      sent++;
    }
    fuzz.send({ type: 'ping', t: 77 });
    await fuzz.waitForFrame((f) => f.type === 'pong' && f.t === 77);
    expect(fuzz.queue.length).toBeGreaterThan(sent / 2);
    expect(fuzz.queue.every((f) => f.type === 'error' || f.type === 'pong')).toBe(true);
    good.send({ type: 'ping', t: 1 });
    await good.waitFor('pong');
    expect(errors).toEqual([]);
  });

  it('closes 4406 on hello with an unsupported version', async () => {
    const { url } = await start();
    const c = await connect(url);
    c.send({ type: 'hello', version: 2 });
    expect(await c.waitFor('error')).toMatchObject({ code: ErrorCode.UnsupportedProtocol });
    expect((await c.waitForClose()).code).toBe(4406);
  });

  it('closes 1009 on a huge frame and keeps serving', async () => {
    const { url, client } = await start();
    const c = await client();
    c.ws.send(Buffer.alloc(2 * 1024 * 1024, 0x20), { binary: false });
    expect((await c.waitForClose()).code).toBe(1009);
    const again = await connect(url);
    await again.hello();
  });
});
