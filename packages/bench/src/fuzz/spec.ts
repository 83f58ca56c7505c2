/**
 * The fuzz's oracle: PROTOCOL.md's codec rules written again from the text
 * (sections 2, 4, 5, 10, and 15.2 for the frames of version 2), deliberately
 * not importing the codec it judges. The fuzz's sockets speak v1, where the
 * v2 frames decode by their shape and are then unexpected (section 5).
 * Given the bytes of a WebSocket message it says which envelopes are frames
 * and which are refused with which code (a set, where the text allows more
 * than one reading); the session rules (14.2) live in `server-model.ts`, the
 * client's in `client-fuzz.ts`.
 */

/** Error codes of PROTOCOL.md section 8, as the text spells them. */
export const Code = {
  FrameTooBig: 'RXMUX_ERR_FRAME_TOO_BIG',
  MalformedJson: 'RXMUX_ERR_MALFORMED_JSON',
  TooDeep: 'RXMUX_ERR_TOO_DEEP',
  NotAnEnvelope: 'RXMUX_ERR_NOT_AN_ENVELOPE',
  UnknownType: 'RXMUX_ERR_UNKNOWN_TYPE',
  InvalidField: 'RXMUX_ERR_INVALID_FIELD',
  BatchTooLarge: 'RXMUX_ERR_BATCH_TOO_LARGE',
  InvalidBinaryHeader: 'RXMUX_ERR_INVALID_BINARY_HEADER',
  InvalidChannel: 'RXMUX_ERR_INVALID_CHANNEL',
  InvalidTransfer: 'RXMUX_ERR_INVALID_TRANSFER',
  UnexpectedFrame: 'RXMUX_ERR_UNEXPECTED_FRAME',
  UnsupportedProtocol: 'RXMUX_ERR_UNSUPPORTED_PROTOCOL',
  Forbidden: 'RXMUX_ERR_FORBIDDEN',
  NoHandler: 'RXMUX_ERR_NO_HANDLER',
  TooManyChannels: 'RXMUX_ERR_TOO_MANY_CHANNELS',
  RateLimited: 'RXMUX_ERR_RATE_LIMITED',
  Remote: 'RXMUX_ERR_REMOTE',
  Unauthorized: 'RXMUX_ERR_UNAUTHORIZED',
  NotFound: 'RXMUX_ERR_NOT_FOUND',
  MethodNotAllowed: 'RXMUX_ERR_METHOD_NOT_ALLOWED',
} as const;

/** The codec's codes (section 8, "where: codec"): what a malformed envelope is refused with. */
export const CODEC_CODES: ReadonlySet<string> = new Set([
  Code.FrameTooBig,
  Code.MalformedJson,
  Code.NotAnEnvelope,
  Code.UnknownType,
  Code.InvalidField,
  Code.BatchTooLarge,
  Code.InvalidBinaryHeader,
  Code.InvalidChannel,
  Code.InvalidTransfer,
  Code.TooDeep,
]);

/** Field kinds of section 2 and the two limits objects of section 5. */
type Kind = 'channel' | 'uint' | 'string' | 'bool' | 'json' | 'peer-limits' | 'server-limits';

interface Field {
  readonly name: string;
  readonly kind: Kind;
  readonly optional: boolean;
}

const r = (name: string, kind: Kind): Field => ({ name, kind, optional: false });
const o = (name: string, kind: Kind): Field => ({ name, kind, optional: true });

/** Section 5's table: type number → name and fields after it (`undefined`: binary only, so unknown as text). */
export const LAYOUTS: readonly ({ readonly name: string; readonly fields: readonly Field[] } | undefined)[] = [
  { name: 'message', fields: [r('channel', 'channel'), r('data', 'json'), o('id', 'uint')] },
  { name: 'publication', fields: [r('channel', 'channel'), r('data', 'json'), o('seq', 'uint')] },
  { name: 'hello', fields: [r('version', 'uint'), o('session', 'string'), o('resumeToken', 'string'), o('limits', 'peer-limits'), o('token', 'string')] },
  {
    name: 'welcome',
    fields: [r('version', 'uint'), r('session', 'string'), r('heartbeat', 'uint'), o('resumeToken', 'string'), o('resumed', 'bool'), o('received', 'uint'), o('limits', 'server-limits'), o('expiresIn', 'uint')],
  },
  { name: 'subscribe', fields: [r('channel', 'channel'), o('since', 'uint'), o('epoch', 'string')] },
  { name: 'unsubscribe', fields: [r('channel', 'channel')] },
  { name: 'subscribed', fields: [r('channel', 'channel'), o('epoch', 'string'), o('seq', 'uint')] },
  { name: 'unsubscribed', fields: [r('channel', 'channel'), o('code', 'string'), o('reason', 'string')] },
  { name: 'error', fields: [r('code', 'string'), r('message', 'string'), o('channel', 'channel'), o('id', 'uint')] },
  { name: 'ack', fields: [r('id', 'uint')] },
  { name: 'request', fields: [r('channel', 'channel'), r('id', 'uint'), r('data', 'json')] },
  { name: 'response', fields: [r('id', 'uint'), r('data', 'json')] },
  { name: 'request-error', fields: [r('id', 'uint'), r('code', 'string'), r('message', 'string')] },
  { name: 'cancel', fields: [r('id', 'uint')] },
  { name: 'ping', fields: [o('t', 'uint')] },
  { name: 'pong', fields: [o('t', 'uint')] },
  { name: 'gap', fields: [r('channel', 'channel'), r('epoch', 'string'), r('seq', 'uint'), r('reason', 'string'), o('since', 'uint')] },
  { name: 'receipt', fields: [r('received', 'uint')] },
  { name: 'refresh', fields: [r('token', 'string')] },
  { name: 'refreshed', fields: [o('expiresIn', 'uint')] },
  undefined, // 20 transfer: binary only
  undefined, // 21 chunk: binary only
  { name: 'credit', fields: [r('bytes', 'uint')] },
  { name: 'abort', fields: [r('channel', 'channel'), r('code', 'string'), o('message', 'string')] },
];

/** A decoded frame: its type name and named fields (absent optionals left out). Binary data is a `Uint8Array`. */
export interface SpecFrame {
  readonly type: string;
  readonly [field: string]: unknown;
}

/** A refused envelope: the codes the text allows for it, and the channel its error names (when valid). */
export interface SpecError {
  readonly codes: readonly string[];
  readonly channel?: string;
}

/** What one WebSocket message decodes to, in order. */
export type SpecEnvelope = { readonly frame: SpecFrame } | { readonly error: SpecError };

/** Decode limits (section 10). */
export interface SpecLimits {
  readonly maxFrameBytes: number;
  readonly maxBatch: number;
}

export const SPEC_DEFAULT_LIMITS: SpecLimits = { maxFrameBytes: 1024 * 1024, maxBatch: 1024 };

const utf8 = new TextEncoder();

/** Section 2: a channel is a string of 1..255 UTF-8 bytes that is UTF-8 (no lone surrogate). */
export function channelOk(value: unknown): boolean {
  if (typeof value !== 'string' || value.length === 0) return false;
  if (!wellFormed(value)) return false;
  return utf8.encode(value).length <= 255;
}

/** Whether every surrogate of `s` is half of a pair (a string that is valid Unicode, so encodable as UTF-8). */
function wellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return false;
  }
  return true;
}

const uintOk = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Section 5: the transfer keys (15.1), all four or none. */
const TRANSFER_KEYS = ['chunkBytes', 'window', 'maxMessageBytes', 'maxTransfers'];

function limitsOk(v: unknown, base: readonly string[]): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const record = v as Record<string, unknown>;
  const keys = TRANSFER_KEYS.some((k) => k in record) ? [...base, ...TRANSFER_KEYS] : base;
  if (Object.keys(record).some((k) => !keys.includes(k))) return false;
  return keys.every((k) => {
    const n = record[k];
    // "each a positive number; integers but rate"
    return typeof n === 'number' && Number.isFinite(n) && n > 0 && (k === 'rate' || Number.isSafeInteger(n));
  });
}

function fieldOk(kind: Kind, v: unknown): boolean {
  switch (kind) {
    case 'channel':
      return channelOk(v);
    case 'uint':
      return uintOk(v);
    case 'string':
      return typeof v === 'string' && v.length <= 4096;
    case 'bool':
      return typeof v === 'boolean';
    case 'json':
      // Any JSON value. JSON.parse turns 1e400 into Infinity, which JSON cannot carry: the codec refuses a
      // top-level one (PROTOCOL.md does not say so; see RELIABILITY.md).
      return typeof v !== 'number' || Number.isFinite(v);
    case 'peer-limits':
      return limitsOk(v, ['maxFrameBytes', 'maxBatch']);
    case 'server-limits':
      return limitsOk(v, ['maxFrameBytes', 'maxBatch', 'rate', 'burst']);
  }
}

/** One envelope (an already parsed value), section 2 and 5; the `index` is its place in a batch. */
function envelope(value: unknown): SpecEnvelope {
  if (!Array.isArray(value) || typeof value[0] !== 'number') return { error: { codes: [Code.NotAnEnvelope] } };
  const type: number = value[0];
  const layout = Number.isInteger(type) && type >= 0 ? LAYOUTS[type] : undefined;
  if (layout === undefined) return { error: { codes: [Code.UnknownType] } };
  const fields = layout.fields;
  // The error names the channel when the layout starts with one and it is a valid id (14.2).
  const first: unknown = value[1];
  const channel = fields[0]?.kind === 'channel' && typeof first === 'string' && channelOk(first) ? first : undefined;
  const refuse = (code: string): SpecEnvelope => ({ error: { codes: [code], ...(channel === undefined ? {} : { channel }) } });
  const arity = value.length - 1;
  const required = fields.filter((f) => !f.optional).length;
  if (arity < required || arity > fields.length) return refuse(Code.InvalidField);
  const frame: Record<string, unknown> = { type: layout.name };
  for (let i = 0; i < arity; i++) {
    const spec = fields[i] as Field;
    const v: unknown = value[i + 1];
    if (spec.optional && v === null) continue; // null in an optional slot means absent
    if (!fieldOk(spec.kind, v)) return refuse(spec.kind === 'channel' ? Code.InvalidChannel : Code.InvalidField);
    frame[spec.name] = v;
  }
  return { frame: frame as SpecFrame };
}

/** Section 10's `MAX_DEPTH`: nesting of arrays and objects in a text frame, the envelope and the batch included. */
export const SPEC_MAX_DEPTH = 64;

const JSON_SPACE = new Set([' ', '\n', '\r', '\t']);

/**
 * Section 10's scan, from its words: "brackets outside strings, no parsing"
 * give the nesting depth; "a batch (the text opens with `[[`)" counts its
 * envelopes as the "commas at depth 1". The text leaves some inputs open
 * (more closing brackets than opening ones, an unterminated string, white
 * space between the two `[`): for those `settled` is false and either
 * reading passes.
 */
export function specScan(text: string): { readonly depth: number; readonly envelopes: number; readonly batch: boolean; readonly settled: boolean } {
  let i = 0;
  while (i < text.length && JSON_SPACE.has(text[i] as string)) i++;
  let j = i + 1;
  while (j < text.length && JSON_SPACE.has(text[j] as string)) j++;
  const batch = text[i] === '[' && text[j] === '[';
  let settled = !batch || j === i + 1;
  let depth = 0;
  let deepest = 0;
  let commas = 0;
  let inString = false;
  for (let k = i; k < text.length; k++) {
    const c = text[k];
    if (inString) {
      if (c === '\\') k++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') deepest = Math.max(deepest, ++depth);
    else if (c === ']' || c === '}') {
      if (--depth < 0) settled = false;
    } else if (c === ',' && depth === 1) commas++;
  }
  if (inString) settled = false;
  return { depth: deepest, envelopes: batch ? commas + 1 : 1, batch, settled };
}

/** Section 10, text: size, the scan (depth, batch size), JSON, envelope or batch, then each envelope. */
export function specDecodeText(text: string, limits: SpecLimits = SPEC_DEFAULT_LIMITS): SpecEnvelope[] {
  if (text.length > limits.maxFrameBytes) return [{ error: { codes: [Code.FrameTooBig] } }];
  const scan = specScan(text);
  const parsedOutcome = parseText(text, limits);
  // What the scan refuses is refused whole, before parsing; where the text leaves the scan open, the parse's outcome passes too.
  const scanned = scan.depth > SPEC_MAX_DEPTH ? Code.TooDeep : scan.batch && scan.envelopes > limits.maxBatch ? Code.BatchTooLarge : undefined;
  if (scanned === undefined) {
    if (scan.settled) return parsedOutcome;
    const first = parsedOutcome[0];
    // Unsettled and not refused by this reading: a stricter reading may still refuse it whole.
    return parsedOutcome.length === 1 && first !== undefined && 'error' in first ? [{ error: { codes: [...first.error.codes, Code.TooDeep, Code.BatchTooLarge], ...(first.error.channel === undefined ? {} : { channel: first.error.channel }) } }] : parsedOutcome;
  }
  if (scan.settled) return [{ error: { codes: [scanned] } }];
  const first = parsedOutcome[0];
  return parsedOutcome.length === 1 && first !== undefined && 'error' in first ? [{ error: { codes: [scanned, ...first.error.codes] } }] : [{ error: { codes: [scanned] } }];
}

/** Section 10 after the scan: JSON, then one envelope or a batch. */
function parseText(text: string, limits: SpecLimits): SpecEnvelope[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [{ error: { codes: [Code.MalformedJson] } }];
  }
  if (!Array.isArray(parsed) || parsed.length === 0) return [{ error: { codes: [Code.NotAnEnvelope] } }];
  if (!Array.isArray(parsed[0])) return [envelope(parsed)];
  if (parsed.length > limits.maxBatch) return [{ error: { codes: [Code.BatchTooLarge] } }];
  return parsed.map(envelope);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Section 4 and 15.2, binary. The text lists the checks in this order: type,
 * flags, L (0, or a frame shorter than its header), channel UTF-8, id/seq; a
 * `transfer` whose first piece is longer than its size is an invalid
 * transfer, an abandoning `chunk` with data a bad header. A frame too short
 * to hold the three header bytes is "shorter than its header" whatever its
 * first byte: either code is a reading of the text.
 */
export function specDecodeBinary(bytes: Uint8Array, limits: SpecLimits = SPEC_DEFAULT_LIMITS): SpecEnvelope[] {
  if (bytes.byteLength > limits.maxFrameBytes) return [{ error: { codes: [Code.FrameTooBig] } }];
  const type = bytes[0];
  /** Flag bits each type allows: message/publication bit 0 (id/seq); transfer bits 0-2 (id/seq, publication, text); chunk bit 0 (abandon). */
  const allowed = type === 0 || type === 1 ? 1 : type === 20 ? 7 : type === 21 ? 1 : undefined;
  if (bytes.byteLength < 3) {
    return [{ error: { codes: allowed === undefined && type !== undefined ? [Code.InvalidBinaryHeader, Code.UnknownType] : [Code.InvalidBinaryHeader] } }];
  }
  if (allowed === undefined) return [{ error: { codes: [Code.UnknownType] } }];
  const flags = bytes[1] as number;
  if ((flags & ~allowed) !== 0) return [{ error: { codes: [Code.InvalidBinaryHeader] } }];
  const length = bytes[2] as number;
  const numBytes = type !== 21 && (flags & 1) !== 0 ? 8 : 0;
  const fixed = (type === 20 || type === 21 ? 4 : 0) + numBytes;
  if (length === 0 || bytes.byteLength < 3 + length + fixed) return [{ error: { codes: [Code.InvalidBinaryHeader] } }];
  let channel: string;
  try {
    channel = strictUtf8.decode(bytes.subarray(3, 3 + length));
  } catch {
    return [{ error: { codes: [Code.InvalidChannel] } }];
  }
  if (!channelOk(channel)) return [{ error: { codes: [Code.InvalidChannel] } }];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = bytes.subarray(3 + length + fixed);
  if (type === 21) {
    const abandon = (flags & 1) !== 0;
    if (abandon && data.byteLength > 0) return [{ error: { codes: [Code.InvalidBinaryHeader], channel } }];
    return [{ frame: { type: 'chunk', channel, offset: view.getUint32(3 + length), ...(abandon ? { abandon: true } : {}), data } }];
  }
  const frame: Record<string, unknown> =
    type === 20
      ? { type: 'transfer', kind: (flags & 2) !== 0 ? 'publication' : 'message', channel, size: view.getUint32(3 + length), ...((flags & 4) !== 0 ? { text: true } : {}), data }
      : { type: type === 0 ? 'message' : 'publication', channel, data };
  if (type === 20 && data.byteLength > (frame.size as number)) return [{ error: { codes: [Code.InvalidTransfer], channel } }];
  if (numBytes > 0) {
    const n = view.getFloat64(3 + length + (type === 20 ? 4 : 0));
    if (!uintOk(n)) return [{ error: { codes: [Code.InvalidField], channel } }];
    frame[type === 0 || frame.kind === 'message' ? 'id' : 'seq'] = n;
  }
  return [{ frame: frame as SpecFrame }];
}

/** Decodes what a socket delivered (a string for text, bytes for binary). */
export function specDecode(message: string | Uint8Array, limits: SpecLimits = SPEC_DEFAULT_LIMITS): SpecEnvelope[] {
  return typeof message === 'string' ? specDecodeText(message, limits) : specDecodeBinary(message, limits);
}

/** Section 9: the close codes a client never retries. Every other code is retried. */
export const FATAL_CLOSE_CODES: ReadonlySet<number> = new Set([1002, 1003, 1007, 1010, 4400, 4401, 4403, 4406]);

/** The frames a client may send (section 5's direction column); the server refuses the others with UNEXPECTED_FRAME. */
export const CLIENT_FRAMES: ReadonlySet<string> = new Set(['message', 'hello', 'subscribe', 'unsubscribe', 'request', 'cancel', 'ping', 'pong', 'refresh']);

/** The frames of version 2 (section 4, types 20 to 23): unexpected on a socket that negotiated `rxmux.v1`. */
export const V2_FRAMES: ReadonlySet<string> = new Set(['transfer', 'chunk', 'credit', 'abort']);

/** The frames a server may send; a client drops the others. */
export const SERVER_FRAMES: ReadonlySet<string> = new Set([
  'publication',
  'welcome',
  'subscribed',
  'unsubscribed',
  'error',
  'ack',
  'response',
  'request-error',
  'ping',
  'pong',
  'gap',
  'receipt',
  'refreshed',
]);

/** Whether a UTF-8 byte sequence is well-formed (what ws checks before a text frame reaches the server: else 1007). */
export function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}
