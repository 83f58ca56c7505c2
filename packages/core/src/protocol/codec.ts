/**
 * The one codec of protocols v1 and v2: encode, decode and validate every frame.
 *
 * It knows nothing about sockets. The client, the server and the DevTools
 * panel all import it (`@rxmux/core/protocol`, no rxjs inside).
 *
 * Decoding never throws: hostile input yields {@link ProtocolError} values in
 * the result; the frame size is checked against `maxFrameBytes` and its
 * nesting against {@link MAX_DEPTH} before any parsing happens, and the
 * envelope count against `maxBatch` before any is validated. Encoding
 * validates what it is asked to send (nesting included) and throws a
 * {@link ProtocolError} for a malformed frame (a bug in the caller).
 */
import { ErrorCode, ProtocolError } from './errors.js';
import { BINARY_HEADER_BYTES, decodeBinary, encodeBinary, encodeBinaryFrame } from './binary.js';
import {
  channelIdProblem,
  dataProblem,
  DEFAULT_DECODE_LIMITS,
  fieldProblem,
  isKnownChannel,
  MAX_CHANNEL_BYTES,
  single,
  type DecodeLimits,
  type DecodeResult,
  type FieldKind,
} from './fields.js';
import { FrameType, type BinaryCapableFrame, type Frame, type FrameTypeName, type JsonValue, type TransferPieceFrame } from './frames.js';
import { MAX_DEPTH, scanText, type TextShape } from './scan.js';

export { DEFAULT_DECODE_LIMITS, type DecodeLimits, type DecodeResult } from './fields.js';

interface FieldSpec {
  readonly name: string;
  readonly kind: FieldKind;
  readonly optional: boolean;
}

const req = (name: string, kind: FieldKind): FieldSpec => ({ name, kind, optional: false });
const opt = (name: string, kind: FieldKind): FieldSpec => ({ name, kind, optional: true });

/** The frame types that travel as text envelopes (`transfer` and `chunk` are binary only). */
type TextFrameTypeName = Exclude<FrameTypeName, TransferPieceFrame['type']>;

// Positional layout of every envelope after the type number. Optional fields
// come last; an absent optional field followed by a present one is sent as null.
const LAYOUT: Readonly<Record<TextFrameTypeName, readonly FieldSpec[]>> = {
  message: [req('channel', 'channel'), req('data', 'json'), opt('id', 'uint')],
  publication: [req('channel', 'channel'), req('data', 'json'), opt('seq', 'uint')],
  hello: [req('version', 'uint'), opt('session', 'string'), opt('resumeToken', 'string'), opt('limits', 'peer-limits'), opt('token', 'string')],
  welcome: [
    req('version', 'uint'),
    req('session', 'string'),
    req('heartbeat', 'uint'),
    opt('resumeToken', 'string'),
    opt('resumed', 'bool'),
    opt('received', 'uint'),
    opt('limits', 'server-limits'),
    opt('expiresIn', 'uint'),
  ],
  subscribe: [req('channel', 'channel'), opt('since', 'uint'), opt('epoch', 'string')],
  unsubscribe: [req('channel', 'channel')],
  subscribed: [req('channel', 'channel'), opt('epoch', 'string'), opt('seq', 'uint')],
  unsubscribed: [req('channel', 'channel'), opt('code', 'string'), opt('reason', 'string')],
  error: [req('code', 'string'), req('message', 'string'), opt('channel', 'channel'), opt('id', 'uint')],
  ack: [req('id', 'uint')],
  request: [req('channel', 'channel'), req('id', 'uint'), req('data', 'json')],
  response: [req('id', 'uint'), req('data', 'json')],
  'request-error': [req('id', 'uint'), req('code', 'string'), req('message', 'string')],
  cancel: [req('id', 'uint')],
  ping: [opt('t', 'uint')],
  pong: [opt('t', 'uint')],
  gap: [req('channel', 'channel'), req('epoch', 'string'), req('seq', 'uint'), req('reason', 'string'), opt('since', 'uint')],
  receipt: [req('received', 'uint')],
  refresh: [req('token', 'string')],
  refreshed: [opt('expiresIn', 'uint')],
  credit: [req('bytes', 'uint')],
  abort: [req('channel', 'channel'), req('code', 'string'), opt('message', 'string')],
};

/** Required field count per type, computed once (decoding is a hot path). */
const REQUIRED: Readonly<Record<TextFrameTypeName, number>> = Object.fromEntries(
  Object.entries(LAYOUT).map(([name, fields]) => [name, fields.filter((f) => !f.optional).length]),
) as Record<TextFrameTypeName, number>;

function isTextType(name: FrameTypeName): name is TextFrameTypeName {
  return Object.hasOwn(LAYOUT, name);
}

const TYPE_NAMES: readonly FrameTypeName[] = (() => {
  const names: FrameTypeName[] = [];
  for (const [name, num] of Object.entries(FrameType)) names[num] = name as FrameTypeName;
  return names;
})();

function typeName(value: unknown): FrameTypeName | undefined {
  return typeof value === 'number' ? TYPE_NAMES[value] : undefined;
}

/** Validates one parsed envelope (`[type, ...fields]`) and builds its frame. */
function fromEnvelope(envelope: unknown, index: number | undefined): Frame | ProtocolError {
  if (!Array.isArray(envelope) || typeof envelope[0] !== 'number') {
    return new ProtocolError(ErrorCode.NotAnEnvelope, 'an envelope is an array whose first element is the frame type number', { index });
  }
  const fast = fastChannelFrame(envelope);
  if (fast !== undefined) return fast;
  const name = typeName(envelope[0]);
  if (name === undefined) {
    return new ProtocolError(ErrorCode.UnknownType, `unknown frame type ${String(envelope[0])}`, { index });
  }
  if (!isTextType(name)) {
    return new ProtocolError(ErrorCode.UnknownType, `${name} (${FrameType[name]}) travels only as a binary frame`, { index });
  }
  const layout = LAYOUT[name];
  const arity = envelope.length - 1;
  const required = REQUIRED[name];
  const channel = layout[0]?.kind === 'channel' && typeof envelope[1] === 'string' ? envelope[1] : undefined;
  if (arity < required || arity > layout.length) {
    return new ProtocolError(ErrorCode.InvalidField, `${name} takes ${required}..${layout.length} fields, got ${arity}`, { index, channel });
  }
  const frame: Record<string, unknown> = { type: name };
  for (let i = 0; i < arity; i++) {
    const spec = layout[i] as FieldSpec;
    const value: unknown = envelope[i + 1];
    if (spec.optional && value === null) continue;
    const problem = fieldProblem(spec.kind, value);
    if (problem !== undefined) {
      const code = spec.kind === 'channel' ? ErrorCode.InvalidChannel : ErrorCode.InvalidField;
      return new ProtocolError(code, `${name}.${spec.name} ${problem}`, { index, channel });
    }
    frame[spec.name] = value;
  }
  return frame as unknown as Frame;
}

/**
 * The two frames that carry the traffic, `message` and `publication`, built
 * with a fixed object shape when they are well-formed; anything unusual falls
 * through to the generic, table-driven path (which also words the errors).
 */
function fastChannelFrame(envelope: unknown[]): Frame | undefined {
  const type = envelope[0];
  if (type !== FrameType.message && type !== FrameType.publication) return undefined;
  const length = envelope.length;
  const channel = envelope[1];
  if ((length !== 3 && length !== 4) || typeof channel !== 'string' || !isKnownChannel(channel)) return undefined;
  const data = envelope[2] as JsonValue;
  if (dataProblem(data) !== undefined) return undefined; // the same check as the generic path, which words the error
  if (length === 3) return type === FrameType.message ? { type: 'message', channel, data } : { type: 'publication', channel, data };
  const n = envelope[3];
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) return undefined;
  return type === FrameType.message ? { type: 'message', channel, data, id: n } : { type: 'publication', channel, data, seq: n };
}

/** Builds the envelope array of a text frame, validating every field. Throws on invalid frames. */
function toEnvelope(frame: Frame): unknown[] {
  const type: FrameTypeName = frame.type;
  const layout = Object.hasOwn(LAYOUT, type) ? LAYOUT[type as TextFrameTypeName] : undefined;
  if (layout === undefined) {
    const hint = Object.hasOwn(FrameType, type) ? ' (it travels only as a binary frame: use encode())' : '';
    throw new ProtocolError(ErrorCode.UnknownType, `unknown text frame type ${JSON.stringify(type)}${hint}`);
  }
  const fields = frame as unknown as Record<string, unknown>;
  const envelope: unknown[] = [FrameType[frame.type]];
  let last = 1;
  for (const spec of layout) {
    const value = fields[spec.name];
    if (value === undefined || (spec.optional && value === null)) {
      if (!spec.optional) throw new ProtocolError(ErrorCode.InvalidField, `${frame.type}.${spec.name} is required`);
      envelope.push(null);
      continue;
    }
    const problem = fieldProblem(spec.kind, value);
    if (problem !== undefined) {
      const code = spec.kind === 'channel' ? ErrorCode.InvalidChannel : ErrorCode.InvalidField;
      throw new ProtocolError(code, `${frame.type}.${spec.name} ${problem}`);
    }
    if (value instanceof Uint8Array) {
      const hint = frame.type === 'message' || frame.type === 'publication' ? ' (use encode() or encodeBinary())' : '';
      throw new ProtocolError(ErrorCode.InvalidField, `${frame.type}.${spec.name}: bytes travel only in binary message and publication frames${hint}`);
    }
    envelope.push(value);
    last = envelope.length;
  }
  envelope.length = last; // trailing absent optionals are omitted
  return envelope;
}

/**
 * Encodes a frame as one text envelope (a JSON string). Throws a
 * {@link ProtocolError} when the frame is invalid or carries bytes.
 *
 * @example
 * encodeText({ type: 'message', channel: 'player-1', data: { bpm: 72 } });
 * // '[0,"player-1",{"bpm":72}]'
 */
export function encodeText(frame: Frame): string {
  const envelope = toEnvelope(frame);
  let text: string;
  try {
    text = JSON.stringify(envelope);
  } catch (err) {
    // A cycle or a nested BigInt deep inside the data.
    throw new ProtocolError(ErrorCode.InvalidField, `${frame.type}.data is not serializable as JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  return notTooDeep(text, frame.type, 0);
}

/**
 * `text` (an envelope, or data about to be spliced into `enclosing` levels
 * of envelope) when it nests within {@link MAX_DEPTH} with one more level for
 * a batch; otherwise throws the `ProtocolError` an encoder gives, since a
 * receiver would refuse the frame. Short text cannot nest that deep and is
 * not scanned.
 */
function notTooDeep(text: string, type: string, enclosing: number): string {
  const room = MAX_DEPTH - 1 - enclosing; // one level is kept for the batch the frame may travel in
  if (text.length > 2 * room && scanText(text, room).depth > room) {
    throw new ProtocolError(ErrorCode.InvalidField, `${type}.data nests deeper than the protocol allows (${MAX_DEPTH} levels with the envelope and the batch)`);
  }
  return text;
}

/**
 * A fast encoder of `message` frames for one channel: the envelope prefix is
 * built (and the channel id validated) once, so each call costs one
 * `JSON.stringify` of the data. The output is exactly what {@link encodeText}
 * gives for the same frame, and the data is validated the same way.
 *
 * @example
 * const send = messageEncoder('player-1');
 * send({ bpm: 72 });      // '[0,"player-1",{"bpm":72}]'
 * send({ bpm: 73 }, 5);   // '[0,"player-1",{"bpm":73},5]'
 */
export function messageEncoder(channel: string): (data: JsonValue, id?: number) => string {
  const problem = channelIdProblem(channel);
  if (problem !== undefined) throw new ProtocolError(ErrorCode.InvalidChannel, `message.channel ${problem}`);
  const prefix = `[${FrameType.message},${JSON.stringify(channel)},`;
  return (data, id) => {
    if (dataProblem(data) !== undefined || data instanceof Uint8Array) {
      return encodeText({ type: 'message', channel, data, ...(id === undefined ? {} : { id }) }); // throws the precise error
    }
    if (id !== undefined && fieldProblem('uint', id) !== undefined) throw new ProtocolError(ErrorCode.InvalidField, 'message.id must be a non-negative safe integer');
    let json: string | undefined;
    try {
      json = JSON.stringify(data);
    } catch (err) {
      throw new ProtocolError(ErrorCode.InvalidField, `message.data is not serializable as JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    // JSON.stringify returns undefined (despite its type) for values JSON cannot hold; dataProblem refused those already.
    notTooDeep(json, 'message', 1);
    return id === undefined ? `${prefix}${json}]` : `${prefix}${json},${id}]`;
  };
}

/**
 * Joins already-encoded envelopes into one WebSocket message. One envelope
 * travels as itself; several travel as a batch `[e1,e2,...]`, so a publish can
 * be serialized once and batched into many connections' writes.
 */
export function encodeBatch(envelopes: readonly string[]): string {
  if (envelopes.length === 0) throw new ProtocolError(ErrorCode.InvalidField, 'a batch needs at least one envelope');
  if (envelopes.length === 1) return envelopes[0] as string;
  return `[${envelopes.join(',')}]`;
}

/** Whether a frame carries bytes and therefore travels as a binary WebSocket message. */
export function isBinaryFrame(frame: Frame): frame is BinaryCapableFrame & { readonly data: Uint8Array } {
  return (frame.type === 'message' || frame.type === 'publication') && frame.data instanceof Uint8Array;
}

/**
 * Encodes any frame: binary when its data is a `Uint8Array` (and always for
 * `transfer` and `chunk`), a text envelope otherwise.
 * Throws a {@link ProtocolError} for an invalid frame.
 */
export function encode(frame: Frame): string | Uint8Array {
  if (frame.type === 'transfer' || frame.type === 'chunk') return encodeBinaryFrame(frame);
  return isBinaryFrame(frame) ? encodeBinary(frame) : encodeText(frame);
}

/**
 * Decodes a text WebSocket message: one envelope or a batch of envelopes.
 * `shape` is the {@link scanText} result when the caller scanned the frame
 * already (a server charges a batch's envelopes before parsing it); without
 * it the frame is scanned here.
 */
export function decodeText(text: string, limits: DecodeLimits = DEFAULT_DECODE_LIMITS, shape?: TextShape): DecodeResult {
  const maxBytes = limits.maxFrameBytes ?? DEFAULT_DECODE_LIMITS.maxFrameBytes;
  if (typeof text !== 'string') return single(new ProtocolError(ErrorCode.NotAnEnvelope, 'text frame must be a string'));
  if (text.length > maxBytes) {
    return single(new ProtocolError(ErrorCode.FrameTooBig, `frame of ${text.length} characters exceeds ${maxBytes}`));
  }
  const { depth, envelopes } = shape ?? scanText(text);
  if (depth > MAX_DEPTH) return single(new ProtocolError(ErrorCode.TooDeep, `frame nests deeper than ${MAX_DEPTH} levels`));
  const maxBatch = limits.maxBatch ?? DEFAULT_DECODE_LIMITS.maxBatch;
  if (envelopes > maxBatch) return single(new ProtocolError(ErrorCode.BatchTooLarge, `batch of ${envelopes} envelopes exceeds ${maxBatch}`));
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return single(new ProtocolError(ErrorCode.MalformedJson, `frame is not valid JSON: ${err instanceof Error ? err.message : String(err)}`));
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    return single(new ProtocolError(ErrorCode.NotAnEnvelope, 'frame must be an envelope array or a batch of them'));
  }
  if (!Array.isArray(parsed[0])) {
    const frame = fromEnvelope(parsed, undefined);
    return frame instanceof ProtocolError ? single(frame) : { frames: [frame], errors: [] };
  }
  if (parsed.length > maxBatch) {
    return single(new ProtocolError(ErrorCode.BatchTooLarge, `batch of ${parsed.length} envelopes exceeds ${maxBatch}`));
  }
  const frames: Frame[] = [];
  const errors: ProtocolError[] = [];
  for (let i = 0; i < parsed.length; i++) {
    const frame = fromEnvelope(parsed[i], i);
    if (frame instanceof ProtocolError) errors.push(frame);
    else frames.push(frame);
  }
  return { frames, errors };
}

/**
 * Decodes whatever a WebSocket delivered: a string (text frame), or an
 * `ArrayBuffer` / typed array (binary frame). Never throws.
 */
export function decode(input: unknown, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): DecodeResult {
  if (typeof input === 'string') return decodeText(input, limits);
  if (input instanceof Uint8Array) return decodeBinary(input, limits);
  if (input instanceof ArrayBuffer) return decodeBinary(new Uint8Array(input), limits);
  if (ArrayBuffer.isView(input)) return decodeBinary(new Uint8Array(input.buffer, input.byteOffset, input.byteLength), limits);
  return single(new ProtocolError(ErrorCode.NotAnEnvelope, `cannot decode a ${input === null ? 'null' : typeof input} frame`));
}

/** Longest binary header: type, flags, length, a 255-byte channel id, an 8-byte seq. */
const MAX_BINARY_HEADER = BINARY_HEADER_BYTES + MAX_CHANNEL_BYTES + 8;

/**
 * The channel and seq of a `publication` frame, read without decoding its
 * data: what a receiver needs to skip a frame it refused as too big (the
 * seq moves on instead of being replayed forever). Text: the envelope
 * `[1,"<channel>",<data>,<seq>]` read from its two ends; binary: the header.
 * Returns `undefined` for anything else (a batch, a message, garbage).
 */
export function peekPublication(input: unknown): { readonly channel: string; readonly seq: number | undefined } | undefined {
  if (typeof input === 'string') {
    if (!input.startsWith(`[${FrameType.publication},"`)) return undefined;
    let end = 4;
    while (end < input.length && input[end] !== '"') end += input[end] === '\\' ? 2 : 1;
    if (input[end + 1] !== ',' || end - 4 > MAX_CHANNEL_BYTES * 6) return undefined;
    let channel: unknown;
    try {
      channel = JSON.parse(input.slice(3, end + 1));
    } catch {
      return undefined;
    }
    if (channelIdProblem(channel) !== undefined) return undefined;
    // A trailing `,<digits>]` can only be the seq: data ending in a digit would be a bare number, not a big frame.
    const tail = /,(\d{1,16})\]$/.exec(input.slice(-20));
    const seq = tail === null ? undefined : Number(tail[1]);
    return { channel: channel as string, seq: seq !== undefined && Number.isSafeInteger(seq) ? seq : undefined };
  }
  const bytes = input instanceof Uint8Array ? input : input instanceof ArrayBuffer ? new Uint8Array(input) : undefined;
  if (bytes?.[0] !== FrameType.publication) return undefined;
  const [frame] = decodeBinary(bytes.subarray(0, MAX_BINARY_HEADER), { maxFrameBytes: MAX_BINARY_HEADER }).frames;
  return frame?.type === 'publication' ? { channel: frame.channel, seq: frame.seq } : undefined;
}

/** Checks a frame as {@link encode} would, returning the problem instead of throwing. */
export function validateFrame(frame: Frame): ProtocolError | undefined {
  try {
    encode(frame);
    return undefined;
  } catch (err) {
    return err instanceof ProtocolError ? err : new ProtocolError(ErrorCode.InvalidField, String(err));
  }
}

/** Re-export for callers that only need to check JSON payload shape. */
export type { JsonValue };
