import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decode,
  decodeText,
  encode,
  encodeBatch,
  encodeText,
  messageEncoder,
  MAX_DEPTH,
  peekPublication,
  scanText,
  ErrorCode,
  FrameType,
  ProtocolError,
  type Frame,
  type JsonValue,
} from '@rxmux/core/protocol';

// JSON values that survive a JSON round trip exactly (no -0, no undefined holes).
const json: fc.Arbitrary<JsonValue> = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as JsonValue);
const channel = fc.string({ minLength: 1, maxLength: 60, unit: 'grapheme' });
const uint = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const text = fc.string({ maxLength: 40 });
const bytes = fc.uint8Array({ maxLength: 512 });
const positive = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });

const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({ type: fc.constant('message' as const), channel, data: fc.oneof(json, bytes), id: fc.option(uint, { nil: undefined }) }),
  fc.record({ type: fc.constant('publication' as const), channel, data: fc.oneof(json, bytes), seq: fc.option(uint, { nil: undefined }) }),
  fc.record({
    type: fc.constant('hello' as const), version: uint, session: fc.option(text, { nil: undefined }), resumeToken: fc.option(text, { nil: undefined }),
    limits: fc.option(fc.record({ maxFrameBytes: positive, maxBatch: positive }), { nil: undefined }),
  }),
  fc.record({
    type: fc.constant('welcome' as const), version: uint, session: text, heartbeat: uint,
    resumeToken: fc.option(text, { nil: undefined }), resumed: fc.option(fc.boolean(), { nil: undefined }),
    received: fc.option(uint, { nil: undefined }),
    limits: fc.option(fc.record({ maxFrameBytes: positive, maxBatch: positive, rate: fc.double({ min: 0.001, max: 1e9, noNaN: true }), burst: positive }), { nil: undefined }),
  }),
  fc.record({ type: fc.constant('receipt' as const), received: uint }),
  fc.record({ type: fc.constant('subscribe' as const), channel, since: fc.option(uint, { nil: undefined }), epoch: fc.option(text, { nil: undefined }) }),
  fc.record({ type: fc.constant('unsubscribe' as const), channel }),
  fc.record({ type: fc.constant('subscribed' as const), channel, epoch: fc.option(text, { nil: undefined }), seq: fc.option(uint, { nil: undefined }) }),
  fc.record({ type: fc.constant('unsubscribed' as const), channel, code: fc.option(text, { nil: undefined }), reason: fc.option(text, { nil: undefined }) }),
  fc.record({
    type: fc.constant('error' as const), code: text, message: text,
    channel: fc.option(channel, { nil: undefined }), id: fc.option(uint, { nil: undefined }),
  }),
  fc.record({
    type: fc.constant('gap' as const), channel, epoch: text, seq: uint, reason: text, since: fc.option(uint, { nil: undefined }),
  }),
  fc.record({ type: fc.constant('ack' as const), id: uint }),
  fc.record({ type: fc.constant('request' as const), channel, id: uint, data: json }),
  fc.record({ type: fc.constant('response' as const), id: uint, data: json }),
  fc.record({ type: fc.constant('request-error' as const), id: uint, code: text, message: text }),
  fc.record({ type: fc.constant('cancel' as const), id: uint }),
  fc.record({ type: fc.constant('ping' as const), t: fc.option(uint, { nil: undefined }) }),
  fc.record({ type: fc.constant('pong' as const), t: fc.option(uint, { nil: undefined }) }),
  // v2: the pieces of a chunked transfer, the credit and the abort (PROTOCOL.md 15)
  bytes.chain((data) =>
    fc.record({
      type: fc.constant('transfer' as const), kind: fc.constantFrom('message' as const, 'publication' as const), channel,
      size: fc.integer({ min: data.length, max: 0xffff_ffff }), text: fc.option(fc.constant(true as const), { nil: undefined }),
      id: fc.option(uint, { nil: undefined }), data: fc.constant(data),
    }).map(({ kind, id, ...rest }) => ({ ...rest, kind, ...(id === undefined ? {} : kind === 'message' ? { id } : { seq: id }) })),
  ),
  fc.record({ type: fc.constant('chunk' as const), channel, offset: fc.nat({ max: 0xffff_ffff }), data: bytes }),
  fc.record({ type: fc.constant('chunk' as const), channel, offset: fc.nat({ max: 0xffff_ffff }), abandon: fc.constant(true as const), data: fc.constant(new Uint8Array(0)) }),
  fc.record({ type: fc.constant('credit' as const), bytes: uint }),
  fc.record({ type: fc.constant('abort' as const), channel, code: text, message: fc.option(text, { nil: undefined }) }),
);

/** Drops keys whose value is undefined: absent and undefined are the same on the wire. */
function normalize(frame: Frame): Record<string, unknown> {
  return Object.fromEntries(Object.entries(frame).filter(([, v]) => v !== undefined));
}

describe('one validation for both decode paths (issue 9.5)', () => {
  it('1e400 (Infinity after JSON.parse) is refused on a known channel exactly as on a new one', () => {
    const first = decodeText('[0,"inf-known",1e400]');
    const again = decodeText('[0,"inf-known",1e400]'); // the channel is known now: the fast path runs
    expect(first.errors.map((e) => e.code)).toEqual([ErrorCode.InvalidField]);
    expect(again.frames).toEqual([]);
    expect(again.errors.map((e) => [e.code, e.message])).toEqual(first.errors.map((e) => [e.code, e.message]));
    expect(decodeText('[1,"inf-known",-1e400,3]').errors.map((e) => e.code)).toEqual([ErrorCode.InvalidField]);
  });

  it('property: a message or publication decodes the same whether its channel is new or already known', () => {
    let n = 0;
    fc.assert(
      fc.property(fc.constantFrom(0, 1), fc.oneof(fc.json(), fc.constantFrom('1e400', '-1e999', '1e308', 'NaN')), fc.option(uint, { nil: undefined }), (type, data, num) => {
        const ch = `fresh-${n++}`;
        const wire = `[${type},${JSON.stringify(ch)},${data}${num === undefined ? '' : `,${num}`}]`;
        const seen = (r: ReturnType<typeof decodeText>): unknown => ({ frames: r.frames, errors: r.errors.map((e) => [e.code, e.message]) });
        expect(seen(decodeText(wire))).toEqual(seen(decodeText(wire)));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('peekPublication', () => {
  it('reads channel and seq from either end of a text publication, and from a binary header', () => {
    expect(peekPublication('[1,"v",{"big":"x"},42]')).toEqual({ channel: 'v', seq: 42 });
    expect(peekPublication('[1,"a\\"b",[1,2,3]]')).toEqual({ channel: 'a"b', seq: undefined });
    expect(peekPublication('[1,"v","ends in 7]"]')).toEqual({ channel: 'v', seq: undefined });
    expect(peekPublication('[0,"v",1,2]')).toBeUndefined();
    expect(peekPublication('[[1,"v",1,2]]')).toBeUndefined();
    expect(peekPublication(encode({ type: 'publication', channel: 'bin', data: new Uint8Array(10_000), seq: 9 }))).toEqual({ channel: 'bin', seq: 9 });
    expect(peekPublication(new Uint8Array([1, 0]))).toBeUndefined();
  });

  it('property: agrees with decode for every publication', () => {
    fc.assert(
      fc.property(channel, fc.oneof(json, bytes), fc.option(uint, { nil: undefined }), (ch, data, seq) => {
        const wire = encode({ type: 'publication', channel: ch, data, ...(seq === undefined ? {} : { seq }) });
        const peeked = peekPublication(wire);
        if (typeof wire === 'string' && typeof data === 'number' && seq === undefined) return; // `[1,"c",5]`: a bare number reads as a seq; never a big frame
        expect(peeked).toEqual({ channel: ch, seq });
      }),
      { numRuns: 1000 },
    );
  });
});

describe('limits fields', () => {
  it('refuse unknown keys, missing keys and non-positive values', () => {
    for (const bad of ['{"maxFrameBytes":1}', '{"maxFrameBytes":0,"maxBatch":1}', '{"maxFrameBytes":1,"maxBatch":1,"x":1}', '[1,2]', '7']) {
      expect(decodeText(`[2,1,null,null,${bad}]`).errors.map((e) => e.code)).toEqual([ErrorCode.InvalidField]);
    }
    expect(decodeText('[2,1,null,null,{"maxFrameBytes":1024,"maxBatch":8}]').frames).toEqual([
      { type: 'hello', version: 1, limits: { maxFrameBytes: 1024, maxBatch: 8 } },
    ]);
  });
});

describe('codec round trip (property)', () => {
  it('decode(encode(frame)) equals frame for every frame type, binary included', () => {
    fc.assert(
      fc.property(frameArb, (frame) => {
        const wire = encode(frame);
        const { frames, errors } = decode(wire);
        expect(errors).toEqual([]);
        expect(frames).toHaveLength(1);
        const back = frames[0] as Frame;
        if ('data' in frame && frame.data instanceof Uint8Array) {
          expect(typeof wire).not.toBe('string');
          expect(Array.from((back as { data: Uint8Array }).data)).toEqual(Array.from(frame.data));
          expect({ ...normalize(back), data: null }).toEqual({ ...normalize(frame), data: null });
        } else {
          expect(typeof wire).toBe('string');
          expect(normalize(back)).toEqual(normalize(frame));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('a batch decodes to its frames in order', () => {
    const textFrames = frameArb.filter((f) => !('data' in f && f.data instanceof Uint8Array));
    fc.assert(
      fc.property(fc.array(textFrames, { minLength: 1, maxLength: 20 }), (frames) => {
        const { frames: back, errors } = decodeText(encodeBatch(frames.map(encodeText)));
        expect(errors).toEqual([]);
        expect(back.map(normalize)).toEqual(frames.map(normalize));
      }),
    );
  });

  it('decoding arbitrary bytes never throws and returns typed errors', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (input) => {
        const result = decode(input);
        for (const e of result.errors) expect(e).toBeInstanceOf(ProtocolError);
        expect(result.frames.length + result.errors.length).toBeGreaterThan(0);
      }),
      { numRuns: 3000 },
    );
  });

  it('decoding arbitrary strings and arbitrary JSON never throws', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.json(), json.map((v) => JSON.stringify(v))), (input) => {
        const result = decode(input);
        for (const e of result.errors) {
          expect(e).toBeInstanceOf(ProtocolError);
          expect(e.code).toMatch(/^RXMUX_ERR_/);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('envelope-shaped junk (valid type numbers, random fields) never throws', () => {
    fc.assert(
      fc.property(fc.integer({ min: -2, max: 24 }), fc.array(json, { maxLength: 6 }), (type, fields) => {
        const result = decodeText(JSON.stringify([type, ...fields]));
        expect(result.frames.length + result.errors.length).toBe(1);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('codec wire format', () => {
  it('keeps the envelope small: message overhead is 7 bytes plus the channel id', () => {
    const data = { bpm: 72 };
    const wire = encodeText({ type: 'message', channel: 'player-1', data });
    expect(wire).toBe('[0,"player-1",{"bpm":72}]');
    expect(wire.length - JSON.stringify(data).length - 'player-1'.length).toBe(7);
  });

  it('writes null for an absent optional field followed by a present one', () => {
    expect(encodeText({ type: 'subscribe', channel: 'c', epoch: 'e1' })).toBe('[4,"c",null,"e1"]');
    expect(decodeText('[4,"c",null,"e1"]').frames).toEqual([{ type: 'subscribe', channel: 'c', epoch: 'e1' }]);
  });

  it('encodes binary with a 3-byte header plus the channel id, no base64', () => {
    const wire = encode({ type: 'message', channel: 'mic', data: new Uint8Array([1, 2, 3]) }) as Uint8Array;
    expect(Array.from(wire)).toEqual([FrameType.message, 0, 3, 0x6d, 0x69, 0x63, 1, 2, 3]);
    const withId = encode({ type: 'message', channel: 'mic', data: new Uint8Array([9]), id: 5 }) as Uint8Array;
    expect(withId.length).toBe(3 + 3 + 8 + 1);
  });

  it('decodes ArrayBuffer and typed-array views alike', () => {
    const wire = encode({ type: 'publication', channel: 'a', data: new Uint8Array([7]), seq: 3 }) as Uint8Array;
    const copy = wire.slice();
    expect(decode(copy.buffer).frames).toEqual(decode(wire).frames);
    expect(decode(new DataView(copy.buffer)).frames[0]).toMatchObject({ type: 'publication', channel: 'a', seq: 3 });
  });
});

describe('codec errors', () => {
  const code = (input: unknown, limits?: Parameters<typeof decode>[1]): string | undefined =>
    decode(input, limits).errors[0]?.code;

  it('names each kind of bad input', () => {
    expect(code('{')).toBe(ErrorCode.MalformedJson);
    expect(code('{}')).toBe(ErrorCode.NotAnEnvelope);
    expect(code('[]')).toBe(ErrorCode.NotAnEnvelope);
    expect(code('["m","c",1]')).toBe(ErrorCode.NotAnEnvelope);
    expect(code('[99,"c"]')).toBe(ErrorCode.UnknownType);
    expect(code('[0,"c"]')).toBe(ErrorCode.InvalidField);
    expect(code('[0,"",1]')).toBe(ErrorCode.InvalidChannel);
    expect(code('[0,"c",1,-1]')).toBe(ErrorCode.InvalidField);
    expect(code('[9,1.5]')).toBe(ErrorCode.InvalidField);
    expect(code('x'.repeat(11), { maxFrameBytes: 10 })).toBe(ErrorCode.FrameTooBig);
    expect(code(new Uint8Array(11), { maxFrameBytes: 10 })).toBe(ErrorCode.FrameTooBig);
    expect(code(new Uint8Array([0, 0]))).toBe(ErrorCode.InvalidBinaryHeader);
    expect(code(new Uint8Array([0, 0, 5, 1]))).toBe(ErrorCode.InvalidBinaryHeader);
    expect(code(new Uint8Array([0, 2, 1, 65]))).toBe(ErrorCode.InvalidBinaryHeader);
    expect(code(new Uint8Array([7, 0, 1, 65]))).toBe(ErrorCode.UnknownType);
    expect(code(new Uint8Array([0, 0, 1, 0xff]))).toBe(ErrorCode.InvalidChannel);
    expect(code(42)).toBe(ErrorCode.NotAnEnvelope);
    expect(code(`[${'[0,"c",1],'.repeat(5)}[0,"c",1]]`, { maxBatch: 5 })).toBe(ErrorCode.BatchTooLarge);
  });

  it('keeps the good envelopes of a batch and reports the bad ones by index', () => {
    const { frames, errors } = decodeText('[[0,"a",1],[99],[0,"b",2]]');
    expect(frames.map((f) => (f as { channel: string }).channel)).toEqual(['a', 'b']);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: ErrorCode.UnknownType, index: 1 });
  });

  it('refuses deeply nested JSON before parsing it, and counts a batch by scanning', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    expect(() => decodeText(deep)).not.toThrow();
    expect(decodeText(deep).errors.map((e) => e.code)).toEqual([ErrorCode.TooDeep]);
    expect(scanText(deep)).toEqual({ envelopes: 1, depth: MAX_DEPTH + 1 }); // stopped at the first level too deep
    const atLimit = `[0,"a",${'['.repeat(MAX_DEPTH - 1)}${']'.repeat(MAX_DEPTH - 1)}]`;
    expect(scanText(atLimit).depth).toBe(MAX_DEPTH);
    expect(decodeText(atLimit).frames).toHaveLength(1);
    expect(decodeText(`[0,"a",${'{"k":'.repeat(MAX_DEPTH)}1${'}'.repeat(MAX_DEPTH)}]`).errors[0]?.code).toBe(ErrorCode.TooDeep);
    // brackets inside strings (escaped quotes included) are not nesting
    expect(scanText(JSON.stringify([[0, 'a', '[[[\\'], [14], [0, 'b', 'x\\"[,']]))).toEqual({ envelopes: 3, depth: 2 });
    expect(scanText(' [ [14] , [15] ] ')).toEqual({ envelopes: 2, depth: 2 });
    expect(decodeText(JSON.stringify(Array.from({ length: 1025 }, () => [14]))).errors.map((e) => e.code)).toEqual([ErrorCode.BatchTooLarge]);
  });

  it('property: the scan counts the envelopes of every batch the codec writes', () => {
    fc.assert(
      fc.property(fc.array(frameArb.filter((f) => f.type !== 'transfer' && f.type !== 'chunk' && (!(f.type === 'message' || f.type === 'publication') || !(f.data instanceof Uint8Array))), { minLength: 2, maxLength: 20 }), (frames) => {
        const text = encodeBatch(frames.map((f) => encodeText(f)));
        expect(scanText(text).envelopes).toBe(frames.length);
        expect(scanText(text).depth).toBeLessThanOrEqual(MAX_DEPTH);
      }),
    );
  });

  it('refuses to encode data nested deeper than a receiver accepts (the envelope and a batch included)', () => {
    const nested = (n: number): JsonValue => (n === 0 ? 1 : [nested(n - 1)]);
    expect(() => encodeText({ type: 'message', channel: 'a', data: nested(MAX_DEPTH - 2) })).not.toThrow();
    expect(() => encodeText({ type: 'message', channel: 'a', data: nested(MAX_DEPTH - 1) })).toThrow(ProtocolError);
    expect(() => messageEncoder('a')(nested(MAX_DEPTH - 2))).not.toThrow();
    expect(() => messageEncoder('a')(nested(MAX_DEPTH - 1))).toThrow(ProtocolError);
    const sent = encodeBatch([encodeText({ type: 'message', channel: 'a', data: nested(MAX_DEPTH - 2) }), encodeText({ type: 'ping' })]);
    expect(decodeText(sent).frames).toHaveLength(2);
  });

  it('refuses to encode invalid frames with a clear error', () => {
    expect(() => encode({ type: 'message', channel: '', data: 1 })).toThrow(/channel id must not be empty/);
    expect(() => encode({ type: 'message', channel: 'x'.repeat(256), data: 1 })).toThrow(ProtocolError);
    expect(() => encode({ type: 'ack', id: -1 })).toThrow(/non-negative safe integer/);
    expect(() => encodeText({ type: 'message', channel: 'c', data: new Uint8Array(1) })).toThrow(/only in binary message/);
    expect(() => encode({ type: 'message', channel: 'c', data: undefined as unknown as JsonValue })).toThrow(/required/);
  });
});

describe('codec edge cases found in review', () => {
  it('rejects lone surrogates in channel ids (binary would re-encode them)', () => {
    expect(() => encode({ type: 'message', channel: 'a\ud800', data: 1 })).toThrow(/lone surrogate/);
    expect(decodeText('[0,"a\\ud800",1]').errors[0]?.code).toBe(ErrorCode.InvalidChannel);
    expect(() => encode({ type: 'message', channel: '🎾', data: 1 })).not.toThrow();
  });

  it('refuses NaN, ArrayBuffer and cycles with a ProtocolError, not a silent null or a TypeError', () => {
    expect(() => encode({ type: 'message', channel: 'c', data: Number.NaN })).toThrow(ProtocolError);
    expect(() => encode({ type: 'message', channel: 'c', data: new ArrayBuffer(2) as unknown as JsonValue })).toThrow(/Uint8Array/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => encode({ type: 'message', channel: 'c', data: cyclic as JsonValue })).toThrow(ProtocolError);
    expect(() => encode({ type: 'toString' } as unknown as Frame)).toThrow(ProtocolError);
    expect(() => encodeBatch([])).toThrow(ProtocolError);
  });
});

describe('messageEncoder (the fast path of channel.send)', () => {
  it('produces exactly what encodeText produces, for any channel, data and id', () => {
    fc.assert(
      fc.property(channel, json, fc.option(uint, { nil: undefined }), (ch, data, id) => {
        const frame = { type: 'message' as const, channel: ch, data, ...(id === undefined ? {} : { id }) };
        expect(messageEncoder(ch)(data, id)).toBe(encodeText(frame));
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects what encodeText rejects, with a ProtocolError', () => {
    const send = messageEncoder('c');
    expect(() => send(Number.NaN)).toThrow(ProtocolError);
    expect(() => send(undefined as unknown as JsonValue)).toThrow(ProtocolError);
    expect(() => send(new Uint8Array(1) as unknown as JsonValue)).toThrow(/binary/);
    expect(() => send(1, -1)).toThrow(ProtocolError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => send(cyclic as JsonValue)).toThrow(ProtocolError);
    expect(() => messageEncoder('')).toThrow(ProtocolError);
  });
});
