/**
 * What the fuzz sends (fast-check arbitraries): valid client frames on the
 * fuzz server's channels, mutations of them (text, structure, binary
 * header), random bytes and token soup, frames in invalid orders, and the
 * server's own frames for the hostile server of the client fuzz.
 */
import fc from 'fast-check';
import type { WsMessage } from './server-model.js';

/** The channels one worker uses (its relay channels are its own, so workers do not hear each other). */
export function channelsOf(worker: number): readonly string[] {
  return [
    `relay-w${worker}-a`,
    `relay-w${worker}-b`,
    `plain-w${worker}`,
    `deny-w${worker}`,
    'echo',
    'fail',
    '$rxmux.ticket',
    '$rxmux.other',
    `ü-w${worker}-é`,
    `r${'x'.repeat(254)}`, // 255 bytes: the longest valid id
    `${'é'.repeat(127)}w${worker}`, // 255 bytes of two-byte characters
  ];
}

/** JSON values, including the awkward ones (deep, wide, unicode, numbers at the edges). */
export const jsonData: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 6 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }), weight: 2 },
  { arbitrary: fc.constantFrom(0, -1, 1.5, 2 ** 53, -(2 ** 53), 1e308, Number.MIN_VALUE, null, true, '', '\u0000', '\u2028', '😀'), weight: 2 },
  { arbitrary: fc.nat(4000).map((n) => 'x'.repeat(n)), weight: 1 },
);

/** Ids and numbers for uint fields: small (to collide on purpose: duplicate ids), large, and at the edges. */
const uint: fc.Arbitrary<number> = fc.oneof(
  { arbitrary: fc.nat(40), weight: 4 },
  { arbitrary: fc.nat(), weight: 2 },
  { arbitrary: fc.constantFrom(2 ** 53 - 1, 2 ** 32, 0), weight: 1 },
);

/** Epochs: plausible base64url ones and odd strings. */
const epoch: fc.Arbitrary<string> = fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{12}$/), fc.string({ maxLength: 20 }));

/** One valid client envelope (as the array to send), on the worker's channels. */
export function clientEnvelope(worker: number, epochs: () => ReadonlyMap<string, string>): fc.Arbitrary<readonly unknown[]> {
  const channel = fc.constantFrom(...channelsOf(worker));
  return fc.oneof(
    { arbitrary: fc.tuple(channel, jsonData, fc.option(uint, { nil: undefined })).map(([c, d, id]) => (id === undefined ? [0, c, d] : [0, c, d, id])), weight: 6 },
    {
      arbitrary: fc.tuple(channel, fc.option(uint, { nil: undefined }), fc.option(epoch, { nil: undefined }), fc.boolean()).map(([c, since, e, real]) => {
        // Sometimes the epoch the server really announced for the channel, so the replay path runs.
        const known = real ? epochs().get(c) : undefined;
        const ep = known ?? e;
        if (since === undefined) return ep === undefined ? [4, c] : [4, c, null, ep];
        return ep === undefined ? [4, c, since] : [4, c, since, ep];
      }),
      weight: 5,
    },
    { arbitrary: channel.map((c) => [5, c]), weight: 2 },
    { arbitrary: fc.tuple(channel, uint, jsonData).map(([c, id, d]) => [10, c, id, d]), weight: 3 },
    { arbitrary: uint.map((id) => [13, id]), weight: 1 },
    { arbitrary: fc.option(uint, { nil: undefined }).map((t) => (t === undefined ? [14] : [14, t])), weight: 2 },
    { arbitrary: fc.option(uint, { nil: undefined }).map((t) => (t === undefined ? [15] : [15, t])), weight: 1 },
    { arbitrary: fc.constantFrom([2, 1], [2, 1, 'some-session'], [2, 1, null, null, { maxFrameBytes: 2048, maxBatch: 8 }]), weight: 1 },
    { arbitrary: fc.string({ maxLength: 30 }).map((t) => [18, t]), weight: 1 },
    { arbitrary: serverEnvelope(channel), weight: 2 },
  );
}

/** A valid envelope of the server's direction (sent by a client: UNEXPECTED_FRAME; by the hostile server: to a client). */
export function serverEnvelope(channel: fc.Arbitrary<string>): fc.Arbitrary<readonly unknown[]> {
  const code = fc.constantFrom('RXMUX_ERR_FORBIDDEN', 'RXMUX_ERR_REMOTE', 'RXMUX_ERR_NO_HANDLER', 'X_CUSTOM', '');
  return fc.oneof(
    fc.tuple(channel, jsonData, fc.option(uint, { nil: undefined })).map(([c, d, seq]) => (seq === undefined ? [1, c, d] : [1, c, d, seq])),
    fc.tuple(fc.string({ maxLength: 10 }), uint).map(([s, h]) => [3, 1, s, h]),
    fc.tuple(channel, epoch, uint).map(([c, e, s]) => [6, c, e, s]),
    fc.tuple(channel, code).map(([c, k]) => [7, c, k, 'reason']),
    fc.tuple(code, fc.string({ maxLength: 20 }), fc.option(channel, { nil: undefined })).map(([k, m, c]) => (c === undefined ? [8, k, m] : [8, k, m, c])),
    uint.map((id) => [9, id]),
    fc.tuple(uint, jsonData).map(([id, d]) => [11, id, d]),
    fc.tuple(uint, code).map(([id, k]) => [12, id, k, 'failed']),
    fc.tuple(channel, epoch, uint, fc.constantFrom('history', 'epoch', 'too-big', 'other'), fc.option(uint, { nil: undefined })).map(([c, e, s, r, since]) =>
      since === undefined ? [16, c, e, s, r] : [16, c, e, s, r, since],
    ),
    uint.map((n) => [17, n]),
    fc.constant([19]),
  );
}

/** Section 4's encoding, written from the text: type, flags (bit 0: an 8-byte id/seq follows), L, channel, [f64 BE], payload. */
export function binaryFrame(type: number, channel: string, num: number | undefined, payload: Uint8Array): Uint8Array {
  const ch = Buffer.from(channel, 'utf8');
  const out = Buffer.alloc(3 + ch.length + (num === undefined ? 0 : 8) + payload.byteLength);
  out[0] = type;
  out[1] = num === undefined ? 0 : 1;
  out[2] = ch.length & 0xff;
  ch.copy(out, 3);
  if (num !== undefined) out.writeDoubleBE(num, 3 + ch.length);
  Buffer.from(payload).copy(out, 3 + ch.length + (num === undefined ? 0 : 8));
  return new Uint8Array(out);
}

/** A binary message from the client (valid), on the worker's channels. */
export function binaryMessage(worker: number): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.constantFrom(...channelsOf(worker)), fc.option(uint, { nil: undefined }), fc.uint8Array({ maxLength: 64 }))
    .map(([c, id, payload]) => binaryFrame(0, c, id, payload));
}

const text = (t: string): WsMessage => ({ kind: 'text', text: t });

/** One valid WebSocket message: an envelope, a batch of them, or a binary frame. */
export function validMessage(worker: number, epochs: () => ReadonlyMap<string, string>): fc.Arbitrary<WsMessage> {
  const env = clientEnvelope(worker, epochs);
  return fc.oneof(
    { arbitrary: env.map((e) => text(JSON.stringify(e))), weight: 6 },
    { arbitrary: fc.array(env, { minLength: 2, maxLength: 8 }).map((b) => text(JSON.stringify(b))), weight: 3 },
    { arbitrary: binaryMessage(worker).map((bytes): WsMessage => ({ kind: 'binary', bytes })), weight: 1 },
  );
}

/** JSON fragments a mutation inserts. */
const TOKENS = ['[', ']', '{', '}', ',', ':', '"', '\\', 'null', 'true', '-', '0', '1e400', '-0', '1.5', '9007199254740993', '"\\ud800"', '"\\u0000"', '[]', '{}', ' ', '\n', 'é', '😀'];

/** A text mutation: delete, insert, duplicate, truncate, replace a number or a string. */
function mutateText(t: string): fc.Arbitrary<string> {
  const at = fc.nat(Math.max(0, t.length));
  return fc.oneof(
    fc.tuple(at, fc.nat(8)).map(([i, n]) => t.slice(0, i) + t.slice(i + n)),
    fc.tuple(at, fc.constantFrom(...TOKENS)).map(([i, tok]) => t.slice(0, i) + tok + t.slice(i)),
    fc.tuple(at, fc.nat(12)).map(([i, n]) => t.slice(0, i) + t.slice(i, i + n) + t.slice(i)),
    at.map((i) => t.slice(0, i)),
    fc.constantFrom('-1', '1.5', '1e400', '"7"', 'null', '9007199254740992', '-0', '[1]').map((n) => t.replace(/-?\d+(\.\d+)?/, n)),
    fc.constantFrom('""', '"\\ud800x"', '1', 'null', '[]', `"${'c'.repeat(300)}"`).map((s) => t.replace(/"(?:[^"\\]|\\.)*"/, s)),
  );
}

/** A structure mutation of a parsed envelope: its type, its arity, one field. */
function mutateEnvelope(e: readonly unknown[]): fc.Arbitrary<unknown> {
  const i = fc.nat(Math.max(0, e.length - 1));
  const odd = fc.oneof(fc.constantFrom(-1, 1.5, '', null, [], {}, '0', true, 2 ** 53, 'x'.repeat(300), '\ud800'), jsonData);
  return fc.oneof(
    fc.oneof(fc.integer({ min: -2, max: 25 }), fc.constantFrom(1.5, '0', null, -0)).map((type) => [type, ...e.slice(1)]),
    odd.map((v) => [...e, v]),
    fc.constant(e.slice(0, -1)),
    fc.tuple(i, odd).map(([k, v]) => e.map((x, j) => (j === k ? v : x))),
    fc.constant([e]), // a batch of one
    fc.constant({ type: e[0] }),
  );
}

/** A binary mutation: a flipped bit, a header byte, truncation, or a hostile channel. */
function mutateBytes(b: Uint8Array): fc.Arbitrary<Uint8Array> {
  const at = fc.nat(Math.max(0, b.length - 1));
  const copy = (): Buffer => Buffer.from(b);
  return fc.oneof(
    fc.tuple(at, fc.nat(7)).map(([i, bit]) => {
      const c = copy();
      if (i < c.length) c[i] = (c[i] as number) ^ (1 << bit);
      return new Uint8Array(c);
    }),
    fc.tuple(fc.nat(2), fc.nat(255)).map(([i, v]) => {
      const c = copy();
      if (i < c.length) c[i] = v;
      return new Uint8Array(c);
    }),
    at.map((i) => b.subarray(0, i)),
    fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xef, 0xbb, 0xbf], [0xef, 0xbb, 0xbf, 0x61], [0x61, 0x00]).map((channel) =>
      new Uint8Array(Buffer.concat([Buffer.from([0, 0, channel.length]), Buffer.from(channel), Buffer.from('payload')])),
    ),
    fc.constantFrom(Number.NaN, -1, 1.5, 2 ** 53, Number.POSITIVE_INFINITY, -0).map((n) => {
      const c = Buffer.concat([Buffer.from([0, 1, 1, 0x61]), Buffer.alloc(8), Buffer.from('x')]);
      c.writeDoubleBE(n, 4);
      return new Uint8Array(c);
    }),
  );
}

/** A mutation of a valid message. */
export function mutatedMessage(worker: number, epochs: () => ReadonlyMap<string, string>): fc.Arbitrary<WsMessage> {
  return validMessage(worker, epochs).chain((m): fc.Arbitrary<WsMessage> => {
    if (m.kind !== 'text') return mutateBytes(m.bytes).map((bytes): WsMessage => ({ kind: 'binary', bytes }));
    const parsed = JSON.parse(m.text) as unknown[];
    return fc.oneof(
      { arbitrary: mutateText(m.text).map(text), weight: 3 },
      { arbitrary: mutateEnvelope(parsed).map((v) => text(JSON.stringify(v))), weight: 2 },
      { arbitrary: mutateText(m.text).chain(mutateText).map(text), weight: 1 },
    );
  });
}

/**
 * Frames at the nesting limit (section 10: 64 levels with the envelope and
 * the batch): data nested around it, alone or in a batch, malformed deep
 * text, brackets inside strings (not counted), and batches around
 * `maxBatch` (counted before parsing).
 */
export const deepOrWide: fc.Arbitrary<WsMessage> = fc.oneof(
  fc.tuple(fc.integer({ min: 55, max: 70 }), fc.constantFrom('[]', '{}', '[{'), fc.boolean(), fc.constantFrom('relay-w99-deep', 'plain', 'echo')).map(([d, kind, batch, channel]) => {
    const open = kind === '[]' ? '['.repeat(d) : kind === '{}' ? '{"a":'.repeat(d) : Array.from({ length: d }, (_, i) => (i % 2 === 0 ? '[' : '{"k":')).join('');
    const close = kind === '[]' ? ']'.repeat(d) : kind === '{}' ? '1'.concat('}'.repeat(d)) : Array.from({ length: d }, (_, i) => (i % 2 === 0 ? ']' : '}')).reverse().join('');
    const data = kind === '[]' ? `${open}${close}` : kind === '{}' ? `${open}${close}` : `${open}1${close}`;
    const envelope = channel === 'echo' ? `[10,"echo",7,${data}]` : `[0,"${channel}",${data}]`;
    return text(batch ? `[[14,1],${envelope}]` : envelope);
  }),
  fc.integer({ min: 60, max: 200 }).map((d) => text('['.repeat(d))),
  fc.integer({ min: 60, max: 120 }).map((d) => text(`[0,"plain","${'['.repeat(d)}\\"${'{'.repeat(d)}"]`)),
  fc.integer({ min: 1000, max: 1050 }).map((n) => text(`[${Array.from({ length: n }, () => '[14]').join(',')}]`)),
  fc.integer({ min: 1000, max: 1050 }).map((n) => text(`[[14]${',"x"'.repeat(n - 1)}]`)),
);

/** Random input: strings, bytes as binary or as a text frame (not always UTF-8), JSON token soup. */
export const randomMessage: fc.Arbitrary<WsMessage> = fc.oneof(
  { arbitrary: deepOrWide, weight: 1 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 200 }).map(text), weight: 3 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map(text), weight: 2 },
  { arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes): WsMessage => ({ kind: 'binary', bytes })), weight: 3 },
  { arbitrary: fc.uint8Array({ maxLength: 100 }).map((bytes): WsMessage => ({ kind: 'raw-text', bytes })), weight: 1 },
  { arbitrary: fc.array(fc.constantFrom(...TOKENS, '4', '"a"', '2', '14', '0'), { maxLength: 30 }).map((t) => text(t.join(''))), weight: 4 },
);

/** Frames in orders the protocol forbids, from a fresh socket: hello missing, late, twice, of another version. */
export function orderCase(worker: number, epochs: () => ReadonlyMap<string, string>): fc.Arbitrary<WsMessage[]> {
  const hello = fc.constantFrom('[2,1]', '[2,0]', '[2,2]', '[2,1,null,null,null,"token"]', '[[15],[2,1]]', '[[2,1],[2,1]]', '[[14,1],[2,1]]', '[15]');
  return fc.array(
    fc.oneof(
      { arbitrary: hello.map(text), weight: 3 },
      { arbitrary: validMessage(worker, epochs), weight: 4 },
      { arbitrary: randomMessage, weight: 1 },
    ),
    { minLength: 1, maxLength: 5 },
  );
}

/** A frame over the server's `maxFrameBytes` (built when sent: fast-check keeps only its size). */
export const oversize: fc.Arbitrary<{ readonly oversize: number; readonly binary: boolean }> = fc.record({ oversize: fc.integer({ min: 1, max: 64 }), binary: fc.boolean() });
