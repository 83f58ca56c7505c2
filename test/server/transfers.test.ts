/**
 * Chunked transfers on the real server, spoken raw (protocol v2, PROTOCOL.md
 * 15): negotiation, uploads put together and handled as one message, the
 * window both ways, downloads interleaved with other channels, a channel's
 * frames kept behind its transfer, and every bound a hostile client meets.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ErrorCode,
  pieceBytes,
  SUBPROTOCOL,
  TRANSFER_SUBPROTOCOL,
  transferSource,
  type Frame,
  type PeerLimits,
  type TransferHead,
  type TransferLimits,
} from '@rxmux/core/protocol';
import { DEFAULT_LIMITS, type Limits, type ServerOptions } from '@rxmux/server';
import { connect, start } from './helpers.js';
import type { TClient } from './tclient.js';

const KIB = 1024;
const CLIENT_LIMITS: PeerLimits & TransferLimits = { maxFrameBytes: 1024 * KIB, maxBatch: 1024, chunkBytes: 64 * KIB, window: 64 * KIB, maxMessageBytes: 8 * 1024 * KIB, maxTransfers: 4 };

/** The piece a v2 sender cuts for a server with the default limits (PROTOCOL.md 15.2: within its `maxFrameBytes`, less the longest header). */
const PIECE = pieceBytes(
  { maxFrameBytes: DEFAULT_LIMITS.maxFrameBytes, maxBatch: DEFAULT_LIMITS.maxBatch, chunkBytes: DEFAULT_LIMITS.chunkBytes, window: DEFAULT_LIMITS.transferWindow, maxMessageBytes: DEFAULT_LIMITS.maxMessageBytes, maxTransfers: DEFAULT_LIMITS.maxTransfers },
  CLIENT_LIMITS.chunkBytes,
);

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const bytesOf = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed) & 0xff);

/** A raw v2 client: offers rxmux.v2, says hello with its transfer limits. */
async function v2(url: string, limits: PeerLimits & TransferLimits = CLIENT_LIMITS): Promise<TClient> {
  const c = await connect(url, { protocols: [TRANSFER_SUBPROTOCOL, SUBPROTOCOL] });
  c.send({ type: 'hello', version: 2, limits });
  await c.waitFor('welcome');
  return c;
}

/** The pieces of a transfer, as a v2 sender cuts them. */
function pieces(head: TransferHead, payload: Uint8Array, piece = PIECE): Uint8Array[] {
  const source = transferSource(head, payload);
  const out: Uint8Array[] = [];
  for (let at = 0; at === 0 || at < payload.byteLength; at += piece) out.push(source.piece(at, Math.min(piece, payload.byteLength - at)));
  return out;
}

/**
 * Sends a transfer's pieces as a v2 sender does: never more than `window`
 * bytes past the credit received. `between(i)` runs after piece `i`.
 */
async function upload(c: TClient, head: TransferHead, payload: Uint8Array, between: (i: number) => void = () => undefined, window = 64 * KIB): Promise<void> {
  const piece = Math.min(PIECE, window);
  let credited = 0;
  let sent = 0;
  for (const [i, wire] of pieces(head, payload, piece).entries()) {
    const bytes = Math.min(piece, payload.byteLength - i * piece);
    while (sent + bytes - credited > window) credited += (await c.waitFor('credit')).bytes;
    c.send(wire);
    sent += bytes;
    between(i);
  }
}

/** Starts a server whose handler records every message it runs, in order. */
async function recording(options: ServerOptions = {}, limits: Partial<Limits> = {}) {
  const running = await start({ ...options, limits: { ratePerSecond: 1e6, rateBurst: 1e6, ...limits } });
  const handled: { channel: string; data: unknown }[] = [];
  running.server.handle('*', { onMessage: (ctx, data) => void handled.push({ channel: ctx.channel, data }) });
  return { ...running, handled };
}

/** Receives a transfer on `channel` as a v2 client would: pieces put together, each credited at once. */
async function download(c: TClient, channel: string): Promise<{ head: Extract<Frame, { type: 'transfer' }>; bytes: Uint8Array }> {
  const head = await c.waitForFrame<Extract<Frame, { type: 'transfer' }>>((f) => f.type === 'transfer' && f.channel === channel);
  const parts = [head.data];
  let received = head.data.byteLength;
  c.send({ type: 'credit', bytes: head.data.byteLength });
  while (received < head.size) {
    const chunk = await c.waitForFrame<Extract<Frame, { type: 'chunk' }>>((f) => f.type === 'chunk' && f.channel === channel);
    expect(chunk.offset).toBe(received);
    parts.push(chunk.data);
    received += chunk.data.byteLength;
    c.send({ type: 'credit', bytes: chunk.data.byteLength });
  }
  return { head, bytes: Buffer.concat(parts) };
}

describe('negotiation', () => {
  it('selects rxmux.v2 when offered; the welcome says version 2 and the transfer limits', async () => {
    const { url } = await start();
    const c = await connect(url, { protocols: [TRANSFER_SUBPROTOCOL, SUBPROTOCOL] });
    expect(c.ws.protocol).toBe(TRANSFER_SUBPROTOCOL);
    c.send({ type: 'hello', version: 2, limits: CLIENT_LIMITS });
    expect(await c.waitFor('welcome')).toMatchObject({ version: 2, limits: { chunkBytes: 64 * KIB, window: 64 * KIB, maxMessageBytes: 8 * 1024 * KIB, maxTransfers: 4 } });
  });

  it('an old client (rxmux.v1 only) gets v1: no transfer keys, whole frames', async () => {
    const { url } = await start();
    const c = await connect(url);
    expect(c.ws.protocol).toBe(SUBPROTOCOL);
    c.send({ type: 'hello', version: 1 });
    const welcome = await c.waitFor('welcome');
    expect(welcome.version).toBe(1);
    expect(welcome.limits).not.toHaveProperty('chunkBytes');
    c.send({ type: 'credit', bytes: 10 });
    expect(await c.waitFor('error')).toMatchObject({ code: ErrorCode.UnexpectedFrame });
  });

  it('a server with transfers: false selects rxmux.v1, and refuses a hello of version 2 with 4406', async () => {
    const { url } = await start({ transfers: false });
    const c = await connect(url, { protocols: [TRANSFER_SUBPROTOCOL, SUBPROTOCOL] });
    expect(c.ws.protocol).toBe(SUBPROTOCOL);
    c.send({ type: 'hello', version: 2, limits: CLIENT_LIMITS });
    expect((await c.waitForClose()).code).toBe(4406);
  });
});

describe('uploads (client to server)', () => {
  it('a 1 MiB upload is put together exactly, handled once, acked, counted once; a small message sent meanwhile is handled first', async () => {
    const { url, handled } = await recording();
    const c = await v2(url);
    const payload = bytesOf(1024 * KIB);
    await upload(c, { kind: 'message', channel: 'upload', id: 7 }, payload, (i) => {
      if (i === 3) c.send({ type: 'message', channel: 'chat', data: 'hi' });
    });
    expect(await c.waitFor('ack')).toEqual({ type: 'ack', id: 7 });
    expect(handled.map((h) => h.channel)).toEqual(['chat', 'upload']);
    expect(sha(handled[1]?.data as Uint8Array)).toBe(sha(payload));
    expect((await c.waitForFrame((f) => f.type === 'receipt' && f.received === 2))).toBeDefined();
  });

  it('a large JSON message travels as a text transfer and reaches the handler as JSON', async () => {
    const { url, handled } = await recording({}, { maxFrameBytes: 1024 * KIB }); // JSON is parsed whole: no larger than maxFrameBytes (64 KiB by default)
    const c = await v2(url);
    const data = { rows: Array.from({ length: 5_000 }, (_, i) => ({ i, name: `row-${i}` })) };
    const envelope = new TextEncoder().encode(JSON.stringify([0, 'json', data]));
    await upload(c, { kind: 'message', channel: 'json', text: true }, envelope);
    await c.waitForFrame((f) => f.type === 'receipt' && f.received === 1);
    expect(handled).toEqual([{ channel: 'json', data }]);
  });

  it('sending past the window is a flow-control violation: error, close 1008', async () => {
    const { url } = await recording();
    const c = await v2(url);
    for (const wire of pieces({ kind: 'message', channel: 'flood' }, bytesOf(512 * KIB))) c.send(wire);
    expect(await c.waitForFrame((f) => f.type === 'error' && f.code === ErrorCode.FlowControl)).toBeDefined();
    expect((await c.waitForClose()).code).toBe(1008);
  });

  it('an abandoned upload is no message: not handled, not counted', async () => {
    const { url, handled } = await recording();
    const c = await v2(url);
    const [first] = pieces({ kind: 'message', channel: 'gone', id: 3 }, bytesOf(200 * KIB));
    c.send(first as Uint8Array);
    c.send({ type: 'chunk', channel: 'gone', offset: PIECE, abandon: true, data: new Uint8Array(0) });
    c.send({ type: 'message', channel: 'after', data: 1 });
    await c.waitForFrame((f) => f.type === 'receipt' && f.received === 1);
    expect(handled).toEqual([{ channel: 'after', data: 1 }]);
  });
});

describe('a hostile client: bounded, refused, documented', () => {
  it('transfers it never finishes: at most maxTransfers are kept, the rest aborted; stalled ones time out', async () => {
    const { url, server } = await recording({ heartbeat: { interval: 50, timeout: 60_000 } }, { maxTransfers: 2, transferTimeoutMs: 200 });
    const c = await v2(url);
    for (let i = 0; i < 10; i++) {
      const [first] = pieces({ kind: 'message', channel: `t-${i}` }, bytesOf(1024 * KIB), 4 * KIB);
      c.send(first as Uint8Array);
    }
    const aborts: string[] = [];
    for (let i = 0; i < 8; i++) aborts.push((await c.waitFor('abort')).code);
    expect(aborts).toEqual(Array(8).fill(ErrorCode.TooManyTransfers));
    // The two kept ones stall: refused on a heartbeat tick after transferTimeoutMs.
    const stale = [await c.waitFor('abort', 5_000), await c.waitFor('abort', 5_000)];
    expect(stale.map((a) => [a.channel, a.code]).sort()).toEqual([['t-0', ErrorCode.TransferTimeout], ['t-1', ErrorCode.TransferTimeout]]);
    expect(server.metrics().connections).toBe(1); // the connection goes on
  });

  it('a transfer larger than maxMessageBytes is refused before a byte is kept; sent to its end, it is a refused message answered by id', async () => {
    const { url, handled } = await recording({}, { maxMessageBytes: 100 * KIB });
    const c = await v2(url);
    // Sent to its end regardless (a sender whose last piece left before the abort arrived).
    await upload(c, { kind: 'message', channel: 'big', id: 11 }, bytesOf(200 * KIB));
    expect(await c.waitFor('abort')).toMatchObject({ channel: 'big', code: ErrorCode.FrameTooBig });
    expect(await c.waitFor('error')).toMatchObject({ code: ErrorCode.FrameTooBig, channel: 'big', id: 11 });
    await c.waitForFrame((f) => f.type === 'receipt' && f.received === 1);
    expect(handled).toEqual([]);
  });

  it('a text (JSON) transfer larger than maxFrameBytes is refused at its first piece and never parsed (JSON is parsed whole); bytes of that size still go', async () => {
    const { url, handled } = await recording({}, { maxFrameBytes: 128 * KIB });
    const c = await v2(url);
    const wide = new TextEncoder().encode(`[0,"wide",[${Array.from({ length: 100_000 }, () => '[]').join(',')}]]`); // ~300 KiB of arrays: dear to parse
    expect(wide.byteLength).toBeGreaterThan(128 * KIB);
    const parses: number[] = [];
    const parse = JSON.parse;
    JSON.parse = ((text: string, reviver?: (this: unknown, key: string, value: unknown) => unknown) => {
      if (text.length > 128 * KIB) parses.push(text.length);
      return parse(text, reviver) as unknown;
    }) as typeof JSON.parse;
    try {
      await upload(c, { kind: 'message', channel: 'wide', text: true }, wide);
      expect(await c.waitFor('abort')).toMatchObject({ channel: 'wide', code: ErrorCode.FrameTooBig });
      const other = await v2(url); // a fresh window: the refused transfer's credit is still owed on the first socket
      await upload(other, { kind: 'message', channel: 'bytes' }, bytesOf(300 * KIB));
      await other.waitForFrame((f) => f.type === 'receipt' && f.received === 1);
    } finally {
      JSON.parse = parse;
    }
    expect(parses).toEqual([]);
    expect(handled.map((h) => h.channel)).toEqual(['bytes']);
  });

  it('a chunk with no transfer, or at the wrong offset, gets RXMUX_ERR_INVALID_TRANSFER; the connection goes on', async () => {
    const { url, handled } = await recording();
    const c = await v2(url);
    c.send({ type: 'chunk', channel: 'nowhere', offset: 0, data: new Uint8Array(10) });
    expect(await c.waitFor('error')).toMatchObject({ code: ErrorCode.InvalidTransfer, channel: 'nowhere' });
    const wires = pieces({ kind: 'message', channel: 'skewed' }, bytesOf(100 * KIB), 10 * KIB);
    c.send(wires[0] as Uint8Array);
    c.send(wires[2] as Uint8Array);
    expect(await c.waitFor('abort')).toMatchObject({ channel: 'skewed', code: ErrorCode.InvalidTransfer });
    c.send({ type: 'message', channel: 'fine', data: 2 });
    await c.waitForFrame((f) => f.type === 'receipt' && f.received === 1);
    expect(handled).toEqual([{ channel: 'fine', data: 2 }]);
  });
});

describe('downloads (server to client)', () => {
  it('a large publication comes in pieces the window allows; another channel publication overtakes it; the pieces add up exactly', async () => {
    const { url, server } = await recording();
    const c = await v2(url, { ...CLIENT_LIMITS, window: 64 * KIB });
    for (const channel of ['video', 'chat']) {
      c.send({ type: 'subscribe', channel });
      await c.waitFor('subscribed');
    }
    const payload = bytesOf(1024 * KIB, 5);
    await server.publish('video', payload);
    const first = await c.waitFor('transfer');
    expect(first).toMatchObject({ channel: 'video', kind: 'publication', size: payload.byteLength, seq: 1 });
    // Without credit the server sends nothing more of it.
    await c.expectNoFrame((f) => f.type === 'chunk', 200);
    await server.publish('chat', 'small');
    expect(await c.waitFor('publication')).toMatchObject({ channel: 'chat', data: 'small' });
    c.queue.unshift(first);
    const { bytes } = await download(c, 'video');
    expect(sha(bytes)).toBe(sha(payload));
  });

  it("a channel's frames wait behind its transfer: a small publication after a large one arrives after its last piece", async () => {
    const { url, server } = await recording();
    const c = await v2(url);
    c.send({ type: 'subscribe', channel: 'feed' });
    await c.waitFor('subscribed');
    const big = 'x'.repeat(300 * KIB);
    await server.publish('feed', big);
    await server.publish('feed', 'next');
    const { head, bytes } = await download(c, 'feed');
    expect(await c.waitFor('publication')).toMatchObject({ data: 'next', seq: 2 });
    expect(head).toMatchObject({ text: true, seq: 1 });
    expect(JSON.parse(new TextDecoder().decode(bytes))).toEqual([1, 'feed', big, 1]);
    const raw = c.raw.map((m) => (typeof m === 'string' ? m : 'piece'));
    const lastPiece = raw.lastIndexOf('piece');
    const next = raw.findIndex((m) => m.includes('"next"'));
    expect(next).toBeGreaterThan(lastPiece);
  });

  it('an old client gets a gap too-big for a publication over its maxFrameBytes; a v2 client gets it in pieces', async () => {
    const { url, server } = await recording();
    const old = await connect(url);
    old.send({ type: 'hello', version: 1 });
    await old.waitFor('welcome');
    const fresh = await v2(url);
    for (const c of [old, fresh]) {
      c.send({ type: 'subscribe', channel: 'media' });
      await c.waitFor('subscribed');
    }
    const payload = bytesOf(3 * 1024 * KIB);
    await server.publish('media', payload);
    expect(await old.waitFor('gap')).toMatchObject({ reason: 'too-big', seq: 1 });
    expect(sha((await download(fresh, 'media')).bytes)).toBe(sha(payload));
  });

  it('transfers after an idle spell and one after another on the same socket (the state is made per transfer, let go in between): downloads, then an upload', async () => {
    const { url, server, handled } = await recording();
    const c = await v2(url);
    c.send({ type: 'subscribe', channel: 'media' });
    await c.waitFor('subscribed');
    await server.publish('media', 'small first');
    expect(await c.waitFor('publication')).toMatchObject({ data: 'small first', seq: 1 });
    for (const seed of [1, 2]) {
      const payload = bytesOf(300 * KIB, seed);
      await server.publish('media', payload);
      const { head, bytes } = await download(c, 'media');
      expect(head.seq).toBe(seed + 1);
      expect(sha(bytes)).toBe(sha(payload));
    }
    const up = bytesOf(200 * KIB, 3);
    await upload(c, { kind: 'message', channel: 'upload', id: 9 }, up);
    expect(await c.waitFor('ack')).toEqual({ type: 'ack', id: 9 });
    expect(sha(handled[0]?.data as Uint8Array)).toBe(sha(up));
  });

  it('a client that refuses a download (abort) gets an abandoning chunk, and its channel goes on', async () => {
    const { url, server } = await recording();
    const c = await v2(url);
    c.send({ type: 'subscribe', channel: 'media' });
    await c.waitFor('subscribed');
    await server.publish('media', bytesOf(512 * KIB));
    await c.waitFor('transfer');
    c.send({ type: 'credit', bytes: 64 * KIB });
    await c.waitFor('chunk');
    c.send({ type: 'abort', channel: 'media', code: ErrorCode.FrameTooBig });
    expect(await c.waitForFrame((f) => f.type === 'chunk' && f.abandon === true)).toMatchObject({ channel: 'media', offset: 128 * KIB });
    await server.publish('media', 'after');
    expect(await c.waitFor('publication')).toMatchObject({ data: 'after', seq: 2 });
  });

  it('a client that stops crediting is a slow consumer once transferTimeoutMs passed', async () => {
    const { url, server } = await recording({ heartbeat: { interval: 50, timeout: 60_000 } }, { transferTimeoutMs: 200 });
    const c = await v2(url);
    c.send({ type: 'subscribe', channel: 'media' });
    await c.waitFor('subscribed');
    await server.publish('media', bytesOf(512 * KIB));
    await c.waitFor('transfer');
    expect(await c.waitForClose(5_000)).toEqual({ code: 1008, reason: 'slow consumer' });
  });
});
