/**
 * Chunked transfers (protocol v2, PROTOCOL.md 15): the codec of their frames,
 * and the one chunker / reassembler / window both ends use.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decode,
  encode,
  encodeChunk,
  encodeText,
  ErrorCode,
  pieceBytes,
  ProtocolError,
  TransferReceiver,
  TransferSender,
  transferSource,
  type Frame,
  type ReceiverLimits,
  type Reception,
  type TransferHead,
} from '@rxmux/core/protocol';

const LIMITS: ReceiverLimits = { chunkBytes: 1024, window: 4096, maxMessageBytes: 1 << 20, maxTransfers: 2, timeoutMs: 1_000 };
const utf8 = new TextEncoder();

/** The frame a piece's wire decodes to. */
function frameOf(wire: Uint8Array): Frame {
  const { frames, errors } = decode(wire, { maxFrameBytes: Number.POSITIVE_INFINITY });
  expect(errors).toEqual([]);
  return frames[0] as Frame;
}

function pieceFrame(wire: Uint8Array): Extract<Frame, { type: 'transfer' | 'chunk' }> {
  const frame = frameOf(wire);
  if (frame.type !== 'transfer' && frame.type !== 'chunk') throw new Error(`not a piece: ${frame.type}`);
  return frame;
}

function payload(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 7) & 0xff;
  return out;
}

describe('transfer frames on the wire', () => {
  it('a transfer frame is the channel header, a u32 size, the optional f64 id or seq, then the first piece', () => {
    const wire = encode({ type: 'transfer', kind: 'message', channel: 'up', size: 70_000, id: 7, data: new Uint8Array([1, 2, 3]) }) as Uint8Array;
    expect(Array.from(wire.subarray(0, 5))).toEqual([20, 0b001, 2, 0x75, 0x70]);
    expect(new DataView(wire.buffer, wire.byteOffset).getUint32(5)).toBe(70_000);
    expect(new DataView(wire.buffer, wire.byteOffset).getFloat64(9)).toBe(7);
    expect(Array.from(wire.subarray(17))).toEqual([1, 2, 3]);
    const text = encode({ type: 'transfer', kind: 'publication', channel: 'p', size: 9, text: true, data: new Uint8Array(0) }) as Uint8Array;
    expect(Array.from(text)).toEqual([20, 0b110, 1, 0x70, 0, 0, 0, 9]);
  });

  it('a chunk frame is the channel header and a u32 offset; an abandoning chunk has flag bit 0 and no data', () => {
    expect(Array.from(encode({ type: 'chunk', channel: 'up', offset: 258, data: new Uint8Array([9]) }) as Uint8Array)).toEqual([21, 0, 2, 0x75, 0x70, 0, 0, 1, 2, 9]);
    expect(Array.from(encodeChunk({ type: 'chunk', channel: 'up', offset: 1, abandon: true, data: new Uint8Array(0) }))).toEqual([21, 1, 2, 0x75, 0x70, 0, 0, 0, 1]);
  });

  it('credit and abort are text envelopes; transfer and chunk never are', () => {
    expect(encodeText({ type: 'credit', bytes: 65_536 })).toBe('[22,65536]');
    expect(encodeText({ type: 'abort', channel: 'up', code: ErrorCode.FrameTooBig })).toBe('[23,"up","RXMUX_ERR_FRAME_TOO_BIG"]');
    expect(() => encodeText({ type: 'chunk', channel: 'up', offset: 0, data: new Uint8Array(1) })).toThrow(ProtocolError);
    expect(decode('[20,"up",1]').errors.map((e) => e.code)).toEqual([ErrorCode.UnknownType]);
  });

  it('refuses bad headers with a typed error', () => {
    const cases: [number[], string][] = [
      [[20, 0, 1, 0x61, 0, 0], ErrorCode.InvalidBinaryHeader], // size truncated
      [[20, 0b1000, 1, 0x61, 0, 0, 0, 1], ErrorCode.InvalidBinaryHeader], // unknown flag
      [[20, 0, 1, 0x61, 0, 0, 0, 1, 5, 6], ErrorCode.InvalidTransfer], // first piece larger than the size
      [[21, 0b10, 1, 0x61, 0, 0, 0, 0], ErrorCode.InvalidBinaryHeader],
      [[21, 1, 1, 0x61, 0, 0, 0, 0, 7], ErrorCode.InvalidBinaryHeader], // abandoning with data
      [[21, 0, 0, 0, 0, 0, 0], ErrorCode.InvalidBinaryHeader], // empty channel
      [[22, 0, 1, 0x61], ErrorCode.UnknownType],
    ];
    for (const [bytes, code] of cases) expect(decode(new Uint8Array(bytes)).errors.map((e) => e.code), String(bytes)).toEqual([code]);
  });

  it('property: bytes that look like pieces never make decode throw', () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 1, 20, 21), fc.uint8Array({ maxLength: 40 }), (type, rest) => {
        const result = decode(new Uint8Array([type, ...rest]));
        expect(result.frames.length + result.errors.length).toBe(1);
        for (const e of result.errors) expect(e).toBeInstanceOf(ProtocolError);
      }),
      { numRuns: 5_000 },
    );
  });
});

/** A sender and a receiver joined by an ordered pipe; credits come back when `creditNow` says so. */
function pipe(sender: TransferSender<string>, receiver: TransferReceiver) {
  const done: string[] = [];
  const wholes: Frame[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const order: string[] = [];
  const pump = (creditNow: () => boolean): void => {
    for (let guard = 0; guard < 100_000; guard++) {
      const piece = sender.next();
      if (piece === undefined) {
        const owed = receiver.takeCredit();
        if (owed === 0) return;
        inFlight -= owed;
        sender.credit(owed);
        continue;
      }
      inFlight += piece.bytes;
      maxInFlight = Math.max(maxInFlight, inFlight);
      order.push(piece.channel);
      if (piece.done !== undefined) done.push(piece.done);
      const r: Reception = receiver.take(pieceFrame(piece.wire), 0);
      if (r !== undefined && 'whole' in r) wholes.push(r.whole);
      else if (r !== undefined) throw new Error(`unexpected ${JSON.stringify(r)}`);
      if (creditNow()) {
        const owed = receiver.takeCredit();
        inFlight -= owed;
        sender.credit(owed);
      }
    }
    throw new Error('the pipe did not settle');
  };
  return { pump, done, wholes, order, get maxInFlight() { return maxInFlight; } };
}

describe('TransferSender and TransferReceiver (the one chunker, window and reassembler)', () => {
  it('property: every payload arrives whole and exact, never more than the window in flight, channels taking turns', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ size: fc.integer({ min: 0, max: 20_000 }), text: fc.boolean(), id: fc.option(fc.nat({ max: 1e6 }), { nil: undefined }) }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1024, max: 8192 }),
        fc.integer({ min: 1024, max: 16_384 }),
        fc.integer({ min: 1, max: 3 }),
        fc.infiniteStream(fc.boolean()),
        (specs, chunkBytes, window, maxTransfers, coin) => {
          const peer = { maxFrameBytes: 1 << 20, maxBatch: 64, chunkBytes, window, maxMessageBytes: 1 << 20, maxTransfers };
          const sender = new TransferSender<string>(pieceBytes(peer, chunkBytes), window, maxTransfers);
          const receiver = new TransferReceiver('message', { ...peer, timeoutMs: 1_000 });
          const expected = new Map<string, Frame>();
          specs.forEach(({ size, text, id }, i) => {
            const channel = `ch-${i}`;
            const head: TransferHead = { kind: 'message', channel, ...(text ? { text: true as const } : {}), ...(id === undefined ? {} : { id }) };
            let bytes: Uint8Array;
            let frame: Frame;
            if (text) {
              const data = 'x'.repeat(size);
              frame = { type: 'message', channel, data, ...(id === undefined ? {} : { id }) };
              bytes = utf8.encode(encodeText(frame));
            } else {
              bytes = payload(size, i);
              frame = { type: 'message', channel, data: bytes, ...(id === undefined ? {} : { id }) };
            }
            expected.set(channel, frame);
            sender.start(transferSource(head, bytes), channel);
          });
          const p = pipe(sender, receiver);
          const it = coin[Symbol.iterator]();
          p.pump(() => it.next().value as boolean);
          expect(sender.size).toBe(0);
          expect(p.maxInFlight).toBeLessThanOrEqual(window);
          expect(p.done.sort()).toEqual([...expected.keys()].sort());
          for (const whole of p.wholes) {
            const want = expected.get((whole as { channel: string }).channel) as Frame;
            if (want.type === 'message' && want.data instanceof Uint8Array) {
              expect(Array.from((whole as { data: Uint8Array }).data)).toEqual(Array.from(want.data));
              expect({ ...whole, data: null }).toEqual({ ...want, data: null });
            } else {
              expect(whole).toEqual(want);
            }
          }
          expect(p.wholes).toHaveLength(expected.size);
          // Round-robin: the transfers on the wire take turns, none sends twice before the others sent once.
          const k = Math.min(maxTransfers, specs.length);
          if (specs.slice(0, k).every((s) => s.size > 3 * chunkBytes)) {
            expect(new Set(p.order.slice(0, k)).size).toBe(k);
            expect(p.order.slice(k, 2 * k)).toEqual(p.order.slice(0, k));
          }
          expect(receiver.size).toBe(0);
          expect(receiver.heldBytes).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('sends nothing beyond the window until credit comes, and credit never grows it beyond the window', () => {
    const sender = new TransferSender<string>(1024, 2048, 4);
    sender.start(transferSource({ kind: 'message', channel: 'a' }, payload(10_000, 1)), 'a');
    expect(sender.next()?.bytes).toBe(1024);
    expect(sender.next()?.bytes).toBe(1024);
    expect(sender.next()).toBeUndefined();
    sender.credit(10_000_000);
    expect(sender.available).toBe(2048);
  });

  it('waits with transfers beyond maxTransfers, and starts them as others finish', () => {
    const sender = new TransferSender<string>(1024, 1 << 20, 1);
    sender.start(transferSource({ kind: 'message', channel: 'a' }, payload(2048, 1)), 'a');
    sender.start(transferSource({ kind: 'message', channel: 'b' }, payload(10, 2)), 'b');
    expect([sender.next()?.channel, sender.next()?.done, sender.next()?.done]).toEqual(['a', 'a', 'b']);
    expect(() => {
      sender.start(transferSource({ kind: 'message', channel: 'c' }, payload(10, 2)), 'c');
      sender.start(transferSource({ kind: 'message', channel: 'c' }, payload(10, 2)), 'c2');
    }).toThrow(ProtocolError);
  });

  it('drop: abandons a transfer that started (an abandoning chunk), or withdraws one that did not', () => {
    const sender = new TransferSender<string>(1024, 1 << 20, 1);
    sender.start(transferSource({ kind: 'message', channel: 'a' }, payload(4096, 1)), 'a');
    sender.start(transferSource({ kind: 'message', channel: 'b' }, payload(4096, 1)), 'b');
    sender.next();
    const dropped = sender.drop('a');
    expect(dropped?.token).toBe('a');
    expect(pieceFrame(dropped?.abandon as Uint8Array)).toMatchObject({ type: 'chunk', channel: 'a', offset: 1024, abandon: true });
    expect(sender.drop('b')).toEqual({ token: 'b', abandon: undefined });
    expect(sender.drop('a')).toBeUndefined();
    expect(sender.size).toBe(0);
  });
});

describe('TransferReceiver bounds: a clear refusal, never unbounded memory', () => {
  const start = (channel: string, size: number, data = new Uint8Array(0), id?: number): Frame =>
    ({ type: 'transfer', kind: 'message', channel, size, data, ...(id === undefined ? {} : { id }) });
  const take = (r: TransferReceiver, frame: Frame, now = 0): Reception => r.take(frame as Extract<Frame, { type: 'transfer' | 'chunk' }>, now);
  const abortCode = (r: Reception): string | undefined => (r !== undefined && 'abort' in r ? r.abort.code : undefined);

  it('refuses a transfer larger than maxMessageBytes before keeping a byte; its last byte makes it a refused message', () => {
    const r = new TransferReceiver('message', { ...LIMITS, maxMessageBytes: 100 });
    expect(abortCode(take(r, start('a', 101, new Uint8Array(50), 9)))).toBe(ErrorCode.FrameTooBig);
    expect(r.heldBytes).toBe(0);
    expect(take(r, { type: 'chunk', channel: 'a', offset: 50, data: new Uint8Array(51) })).toEqual({
      refused: { channel: 'a', code: ErrorCode.FrameTooBig, message: expect.any(String) as string, id: 9 },
    });
    expect(r.size).toBe(0);
    expect(r.takeCredit()).toBe(101);
  });

  it('refuses transfers beyond maxTransfers; an abandoned one is no message', () => {
    const r = new TransferReceiver('message', LIMITS);
    expect(take(r, start('a', 10, new Uint8Array(1)))).toBeUndefined();
    expect(take(r, start('b', 10, new Uint8Array(1)))).toBeUndefined();
    expect(abortCode(take(r, start('c', 10, new Uint8Array(1))))).toBe(ErrorCode.TooManyTransfers);
    expect(take(r, { type: 'chunk', channel: 'c', offset: 1, abandon: true, data: new Uint8Array(0) })).toBeUndefined();
    expect(take(r, { type: 'chunk', channel: 'a', offset: 1, abandon: true, data: new Uint8Array(0) })).toBeUndefined();
    expect(r.size).toBe(1);
    expect(r.heldBytes).toBe(1);
  });

  it('reports pieces that belong to nothing, refuses broken sequences, refuses the wrong kind', () => {
    const r = new TransferReceiver('message', LIMITS);
    const stray = take(r, { type: 'chunk', channel: 'x', offset: 0, data: new Uint8Array(3) });
    expect(stray !== undefined && 'error' in stray && stray.error.code).toBe(ErrorCode.InvalidTransfer);
    take(r, start('a', 10, new Uint8Array(2)));
    expect(abortCode(take(r, { type: 'chunk', channel: 'a', offset: 5, data: new Uint8Array(1) }))).toBe(ErrorCode.InvalidTransfer);
    expect(abortCode(take(r, { type: 'transfer', kind: 'publication', channel: 'p', size: 10, data: new Uint8Array(0) }))).toBe(ErrorCode.InvalidTransfer);
    take(r, start('b', 4, new Uint8Array(2)));
    expect(abortCode(take(r, { type: 'chunk', channel: 'b', offset: 2, data: new Uint8Array(3) }))).toBe(ErrorCode.InvalidTransfer);
  });

  it('a hostile peer opening transfers it never finishes: bounded in number and bytes, and timed out', () => {
    const r = new TransferReceiver('message', LIMITS);
    let aborted = 0;
    for (let i = 0; i < 1_000; i++) {
      const got = take(r, start(`h-${i}`, 1 << 20, new Uint8Array(100)), i);
      if (abortCode(got) !== undefined) aborted++;
      r.takeCredit();
      expect(r.size).toBeLessThanOrEqual(2 * LIMITS.maxTransfers);
      expect(r.heldBytes).toBeLessThanOrEqual(LIMITS.maxTransfers * 100);
    }
    expect(aborted).toBe(1_000 - LIMITS.maxTransfers);
    const expired = r.expire(10_000);
    expect(expired.map(abortCode)).toEqual([ErrorCode.TransferTimeout, ErrorCode.TransferTimeout]);
    expect(r.heldBytes).toBe(0);
    r.expire(20_000);
    expect(r.size).toBe(0);
  });

  it('a text transfer must be one envelope of its kind, channel and id', () => {
    const r = new TransferReceiver('message', LIMITS);
    const bytes = utf8.encode(encodeText({ type: 'message', channel: 'other', data: 1 }));
    const got = take(r, { type: 'transfer', kind: 'message', channel: 't', size: bytes.length, text: true, data: bytes });
    expect(got !== undefined && 'refused' in got && got.refused.code).toBe(ErrorCode.InvalidTransfer);
    const ok = utf8.encode(encodeText({ type: 'message', channel: 't', data: { a: 1 }, id: 4 }));
    expect(take(r, { type: 'transfer', kind: 'message', channel: 't', size: ok.length, text: true, id: 4, data: ok })).toEqual({
      whole: { type: 'message', channel: 't', data: { a: 1 }, id: 4 },
    });
  });

  it('a sender past its window is a flow-control violation', () => {
    const r = new TransferReceiver('message', LIMITS);
    take(r, start('a', 10_000, new Uint8Array(4096)));
    const got = take(r, { type: 'chunk', channel: 'a', offset: 4096, data: new Uint8Array(1) });
    expect(got !== undefined && 'violation' in got && got.violation.code).toBe(ErrorCode.FlowControl);
  });
});
