/**
 * Binary frames (PROTOCOL.md 4, 15.2): a `message` or `publication` whose
 * data is bytes, after a compact header, and the two pieces of a chunked
 * transfer (v2), `transfer` and `chunk`. No base64, no copy of the payload
 * on decode.
 */
import { ErrorCode, ProtocolError } from './errors.js';
import { DEFAULT_DECODE_LIMITS, channelIdProblem, fieldProblem, single, type DecodeLimits, type DecodeResult } from './fields.js';
import { FrameType, type BinaryCapableFrame, type ChunkFrame, type Frame, type TransferFrame } from './frames.js';

/** Size of the binary header before the channel id: type, flags, channel length. */
export const BINARY_HEADER_BYTES = 3;

/** `message` / `publication`: the 8-byte id or seq follows the channel. */
const FLAG_NUMBER = 0b0000_0001;
/** `transfer`: the 8-byte id or seq follows the size. */
const TRANSFER_NUMBER = 0b0000_0001;
/** `transfer`: the payload is a publication (else a message). */
const TRANSFER_PUBLICATION = 0b0000_0010;
/** `transfer`: the payload is one UTF-8 text envelope (else raw bytes). */
const TRANSFER_TEXT = 0b0000_0100;
/** `chunk`: the sender abandons the transfer. */
const CHUNK_ABANDON = 0b0000_0001;

/** Largest transfer size or chunk offset (a u32 on the wire). */
export const MAX_TRANSFER_BYTES = 0xffff_ffff;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const utf8 = new TextEncoder();

/** A header `type | flags | L | channel` followed by `extra` bytes, then room for `payload` bytes; returns the frame and its view. */
function frameWithHeader(type: number, flags: number, channel: string, extra: number, payload: number): { readonly out: Uint8Array; readonly view: DataView; readonly at: number } {
  const id = utf8.encode(channel);
  const at = BINARY_HEADER_BYTES + id.length;
  const out = new Uint8Array(at + extra + payload);
  out[0] = type;
  out[1] = flags;
  out[2] = id.length;
  out.set(id, BINARY_HEADER_BYTES);
  return { out, view: new DataView(out.buffer, out.byteOffset, out.byteLength), at };
}

function checkChannel(type: string, channel: string): void {
  const problem = channelIdProblem(channel);
  if (problem !== undefined) throw new ProtocolError(ErrorCode.InvalidChannel, `${type}.channel ${problem}`);
}

function checkUint(name: string, value: number | undefined, max = Number.MAX_SAFE_INTEGER): void {
  if (value !== undefined && (fieldProblem('uint', value) !== undefined || value > max)) {
    throw new ProtocolError(ErrorCode.InvalidField, `${name} must be a non-negative integer of at most ${max}`);
  }
}

/**
 * Encodes a `message` or `publication` whose data is bytes as a binary frame:
 *
 * ```
 *  0        1        2        3 ............ 3+L      (+8)
 * +--------+--------+--------+---------------+--------------+-------------
 * | type   | flags  | L      | channel UTF-8 | [id or seq]  | payload ...
 * | u8     | u8     | u8     | L bytes       | f64 BE       | raw bytes
 * +--------+--------+--------+---------------+--------------+-------------
 * ```
 * `flags` bit 0 says the 8-byte number (the message `id` or the publication
 * `seq`) is present; other bits must be 0.
 */
export function encodeBinary(frame: BinaryCapableFrame & { readonly data: Uint8Array }): Uint8Array {
  checkChannel(frame.type, frame.channel);
  const num = frame.type === 'message' ? frame.id : frame.seq;
  checkUint(`${frame.type}.${frame.type === 'message' ? 'id' : 'seq'}`, num);
  const { out, view, at } = frameWithHeader(FrameType[frame.type], num === undefined ? 0 : FLAG_NUMBER, frame.channel, num === undefined ? 0 : 8, frame.data.byteLength);
  if (num !== undefined) view.setFloat64(at, num);
  out.set(frame.data, out.byteLength - frame.data.byteLength);
  return out;
}

/**
 * Encodes the first piece of a chunked transfer (v2, PROTOCOL.md 15.2):
 *
 * ```
 *  0        1        2        3 ............ 3+L        +4          (+8)
 * +--------+--------+--------+---------------+----------+-----------+-------------
 * | 20     | flags  | L      | channel UTF-8 | size     | [id/seq]  | first piece
 * | u8     | u8     | u8     | L bytes       | u32 BE   | f64 BE    | raw bytes
 * +--------+--------+--------+---------------+----------+-----------+-------------
 * ```
 * `flags`: bit 0 the 8-byte id (message) or seq (publication) is present,
 * bit 1 the payload is a publication (else a message), bit 2 the payload is
 * one UTF-8 text envelope (its id or seq is given here too); others 0.
 */
export function encodeTransfer(frame: TransferFrame): Uint8Array {
  checkChannel('transfer', frame.channel);
  const num = frame.kind === 'message' ? frame.id : frame.seq;
  checkUint('transfer.size', frame.size, MAX_TRANSFER_BYTES);
  checkUint(`transfer.${frame.kind === 'message' ? 'id' : 'seq'}`, num);
  if (frame.data.byteLength > frame.size) throw new ProtocolError(ErrorCode.InvalidField, 'transfer.data is larger than transfer.size');
  const flags = (num === undefined ? 0 : TRANSFER_NUMBER) | (frame.kind === 'publication' ? TRANSFER_PUBLICATION : 0) | (frame.text === true ? TRANSFER_TEXT : 0);
  const { out, view, at } = frameWithHeader(FrameType.transfer, flags, frame.channel, 4 + (num === undefined ? 0 : 8), frame.data.byteLength);
  view.setUint32(at, frame.size);
  if (num !== undefined) view.setFloat64(at + 4, num);
  out.set(frame.data, out.byteLength - frame.data.byteLength);
  return out;
}

/**
 * Encodes a further piece of a transfer (v2, PROTOCOL.md 15.2), or its
 * abandonment (`abandon`, no data):
 *
 * ```
 *  0        1        2        3 ............ 3+L        +4
 * +--------+--------+--------+---------------+----------+-------------
 * | 21     | flags  | L      | channel UTF-8 | offset   | piece
 * | u8     | u8     | u8     | L bytes       | u32 BE   | raw bytes
 * +--------+--------+--------+---------------+----------+-------------
 * ```
 * `flags`: bit 0 abandon; others 0.
 */
export function encodeChunk(frame: ChunkFrame): Uint8Array {
  checkChannel('chunk', frame.channel);
  checkUint('chunk.offset', frame.offset, MAX_TRANSFER_BYTES);
  if (frame.abandon === true && frame.data.byteLength > 0) throw new ProtocolError(ErrorCode.InvalidField, 'an abandoning chunk carries no data');
  const { out, view, at } = frameWithHeader(FrameType.chunk, frame.abandon === true ? CHUNK_ABANDON : 0, frame.channel, 4, frame.data.byteLength);
  view.setUint32(at, frame.offset);
  out.set(frame.data, out.byteLength - frame.data.byteLength);
  return out;
}

/** Encodes a binary-only frame: a bytes `message` / `publication`, a `transfer` or a `chunk`. */
export function encodeBinaryFrame(frame: (BinaryCapableFrame & { readonly data: Uint8Array }) | TransferFrame | ChunkFrame): Uint8Array {
  return frame.type === 'transfer' ? encodeTransfer(frame) : frame.type === 'chunk' ? encodeChunk(frame) : encodeBinary(frame);
}

/** Reads the channel id at byte 3; an error when it is empty, truncated or not UTF-8. */
function readChannel(bytes: Uint8Array, after: number): { readonly channel: string; readonly at: number } | ProtocolError {
  const length = bytes[2] as number;
  const at = BINARY_HEADER_BYTES + length;
  if (length === 0 || bytes.byteLength < at + after) {
    return new ProtocolError(ErrorCode.InvalidBinaryHeader, 'binary header is truncated or names an empty channel');
  }
  try {
    return { channel: strictUtf8.decode(bytes.subarray(BINARY_HEADER_BYTES, at)), at };
  } catch {
    return new ProtocolError(ErrorCode.InvalidChannel, 'binary channel id is not valid UTF-8');
  }
}

function readNumber(view: DataView, at: number, channel: string): number | ProtocolError {
  const num = view.getFloat64(at);
  return fieldProblem('uint', num) === undefined ? num : new ProtocolError(ErrorCode.InvalidField, 'binary id/seq must be a non-negative safe integer', { channel });
}

/** Decodes a binary WebSocket message (header + raw bytes). The payload is a view, not a copy. */
export function decodeBinary(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): DecodeResult {
  const maxBytes = limits.maxFrameBytes ?? DEFAULT_DECODE_LIMITS.maxFrameBytes;
  if (bytes.byteLength > maxBytes) {
    return single(new ProtocolError(ErrorCode.FrameTooBig, `frame of ${bytes.byteLength} bytes exceeds ${maxBytes}`));
  }
  if (bytes.byteLength < BINARY_HEADER_BYTES) {
    return single(new ProtocolError(ErrorCode.InvalidBinaryHeader, `binary frame of ${bytes.byteLength} bytes is shorter than its header`));
  }
  const type = bytes[0] as number;
  const flags = bytes[1] as number;
  const known = type === FrameType.message || type === FrameType.publication ? FLAG_NUMBER
    : type === FrameType.transfer ? TRANSFER_NUMBER | TRANSFER_PUBLICATION | TRANSFER_TEXT
    : type === FrameType.chunk ? CHUNK_ABANDON
    : undefined;
  if (known === undefined) {
    return single(new ProtocolError(ErrorCode.UnknownType, `binary frame type ${type} is not message (0), publication (1), transfer (20) or chunk (21)`));
  }
  if ((flags & ~known) !== 0) {
    return single(new ProtocolError(ErrorCode.InvalidBinaryHeader, `unknown binary flags 0x${flags.toString(16)}`));
  }
  const numbered = (type === FrameType.chunk ? 0 : flags & FLAG_NUMBER) !== 0;
  const fixed = (type === FrameType.transfer || type === FrameType.chunk ? 4 : 0) + (numbered ? 8 : 0);
  const head = readChannel(bytes, fixed);
  if (head instanceof ProtocolError) return single(head);
  const { channel, at } = head;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = bytes.subarray(at + fixed);
  let frame: Frame;
  if (type === FrameType.message || type === FrameType.publication) {
    const num = numbered ? readNumber(view, at, channel) : undefined;
    if (num instanceof ProtocolError) return single(num);
    frame =
      type === FrameType.message
        ? num === undefined ? { type: 'message', channel, data } : { type: 'message', channel, data, id: num }
        : num === undefined ? { type: 'publication', channel, data } : { type: 'publication', channel, data, seq: num };
  } else if (type === FrameType.chunk) {
    const offset = view.getUint32(at);
    if ((flags & CHUNK_ABANDON) !== 0) {
      if (data.byteLength > 0) return single(new ProtocolError(ErrorCode.InvalidBinaryHeader, 'an abandoning chunk carries no data', { channel }));
      frame = { type: 'chunk', channel, offset, abandon: true, data };
    } else {
      frame = { type: 'chunk', channel, offset, data };
    }
  } else {
    const size = view.getUint32(at);
    const kind = (flags & TRANSFER_PUBLICATION) !== 0 ? 'publication' : 'message';
    const text = (flags & TRANSFER_TEXT) !== 0;
    if (data.byteLength > size) return single(new ProtocolError(ErrorCode.InvalidTransfer, `transfer of ${size} bytes starts with a piece of ${data.byteLength}`, { channel }));
    const num = numbered ? readNumber(view, at + 4, channel) : undefined;
    if (num instanceof ProtocolError) return single(num);
    frame = {
      type: 'transfer',
      kind,
      channel,
      size,
      ...(text ? { text: true as const } : {}),
      ...(num === undefined ? {} : kind === 'message' ? { id: num } : { seq: num }),
      data,
    };
  }
  return { frames: [frame], errors: [] };
}
