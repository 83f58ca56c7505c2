/**
 * Binary frames (PROTOCOL.md 4): a `message` or `publication` whose data is
 * bytes, after a compact header. No base64, no copy of the payload on decode.
 */
import { ErrorCode, ProtocolError } from './errors.js';
import { DEFAULT_DECODE_LIMITS, channelIdProblem, fieldProblem, single, type DecodeLimits, type DecodeResult } from './fields.js';
import { FrameType, type BinaryCapableFrame, type Frame } from './frames.js';

/** Size of the binary header before the channel id: type, flags, channel length. */
export const BINARY_HEADER_BYTES = 3;

const FLAG_NUMBER = 0b0000_0001;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const utf8 = new TextEncoder();

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
  const problem = channelIdProblem(frame.channel);
  if (problem !== undefined) throw new ProtocolError(ErrorCode.InvalidChannel, `${frame.type}.channel ${problem}`);
  const num = frame.type === 'message' ? frame.id : frame.seq;
  if (num !== undefined && fieldProblem('uint', num) !== undefined) {
    throw new ProtocolError(ErrorCode.InvalidField, `${frame.type}.${frame.type === 'message' ? 'id' : 'seq'} must be a non-negative safe integer`);
  }
  const channel = utf8.encode(frame.channel);
  const head = BINARY_HEADER_BYTES + channel.length + (num === undefined ? 0 : 8);
  const out = new Uint8Array(head + frame.data.byteLength);
  out[0] = FrameType[frame.type];
  out[1] = num === undefined ? 0 : FLAG_NUMBER;
  out[2] = channel.length;
  out.set(channel, BINARY_HEADER_BYTES);
  if (num !== undefined) {
    new DataView(out.buffer, out.byteOffset, out.byteLength).setFloat64(BINARY_HEADER_BYTES + channel.length, num);
  }
  out.set(frame.data, head);
  return out;
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
  const channelBytes = bytes[2] as number;
  if (type !== FrameType.message && type !== FrameType.publication) {
    return single(new ProtocolError(ErrorCode.UnknownType, `binary frame type ${type} is not message (0) or publication (1)`));
  }
  if ((flags & ~FLAG_NUMBER) !== 0) {
    return single(new ProtocolError(ErrorCode.InvalidBinaryHeader, `unknown binary flags 0x${flags.toString(16)}`));
  }
  const numBytes = flags & FLAG_NUMBER ? 8 : 0;
  const head = BINARY_HEADER_BYTES + channelBytes + numBytes;
  if (channelBytes === 0 || bytes.byteLength < head) {
    return single(new ProtocolError(ErrorCode.InvalidBinaryHeader, 'binary header is truncated or names an empty channel'));
  }
  let channel: string;
  try {
    channel = strictUtf8.decode(bytes.subarray(BINARY_HEADER_BYTES, BINARY_HEADER_BYTES + channelBytes));
  } catch {
    return single(new ProtocolError(ErrorCode.InvalidChannel, 'binary channel id is not valid UTF-8'));
  }
  let num: number | undefined;
  if (numBytes) {
    num = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getFloat64(BINARY_HEADER_BYTES + channelBytes);
    if (fieldProblem('uint', num) !== undefined) {
      return single(new ProtocolError(ErrorCode.InvalidField, 'binary id/seq must be a non-negative safe integer', { channel }));
    }
  }
  const data = bytes.subarray(head);
  const frame: Frame =
    type === FrameType.message
      ? num === undefined ? { type: 'message', channel, data } : { type: 'message', channel, data, id: num }
      : num === undefined ? { type: 'publication', channel, data } : { type: 'publication', channel, data, seq: num };
  return { frames: [frame], errors: [] };
}

