/**
 * One frame as the debug tap reports it: the core's tap, and the DevTools
 * extension decoding a page without the tap (its debugger capture, a HAR
 * file), build the same {@link DebugFrameEvent} here. No rxjs.
 * @packageDocumentation
 */
import type { Frame } from '../protocol/frames.js';
import type { DebugBinary, DebugFrameEvent, DebugTransport } from './events.js';

/** Bytes of a binary payload a debug event keeps, as hex. */
export const BINARY_HEAD_BYTES = 64;

/** Lowercase hex of the first `max` bytes. */
export function hexHead(bytes: Uint8Array, max = BINARY_HEAD_BYTES): string {
  let out = '';
  const end = Math.min(bytes.length, max);
  for (let i = 0; i < end; i++) out += (bytes[i] as number).toString(16).padStart(2, '0');
  return out;
}

/** A binary payload's length and first bytes. */
export function binarySummary(bytes: Uint8Array): DebugBinary {
  return { length: bytes.length, head: hexHead(bytes) };
}

/** A URL without query string or fragment: those may carry credentials, which never appear in a debug event. */
export function stripQuery(url: string): string {
  const cut = url.search(/[?#]/);
  return cut === -1 ? url : url.slice(0, cut);
}

/**
 * The debug event of one decoded frame. `channelOf` names the channel of a
 * frame that carries only an id (a response, request-error, ack or cancel),
 * when the caller knows it. Credentials (`hello.resumeToken`, the session id
 * of `hello` and `welcome`) are left out on purpose.
 */
export function frameEvent(
  conn: string,
  dir: 'in' | 'out',
  at: number,
  frame: Frame,
  bytes: number,
  transport: DebugTransport,
  channelOf: (id: number) => string | undefined = () => undefined,
): DebugFrameEvent {
  const base = { type: 'frame', conn, at, dir, transport, frame: frame.type, bytes } as const;
  const byId = (id: number): { channel?: string } => {
    const channel = channelOf(id);
    return channel === undefined ? {} : { channel };
  };
  switch (frame.type) {
    case 'message':
    case 'publication': {
      const num = frame.type === 'message' ? (frame.id === undefined ? {} : { id: frame.id }) : frame.seq === undefined ? {} : { seq: frame.seq };
      return frame.data instanceof Uint8Array
        ? { ...base, channel: frame.channel, binary: binarySummary(frame.data), ...num }
        : { ...base, channel: frame.channel, data: frame.data, ...num };
    }
    case 'subscribe':
      return { ...base, channel: frame.channel, ...(frame.since === undefined ? {} : { seq: frame.since }), ...(frame.epoch === undefined ? {} : { epoch: frame.epoch }) };
    case 'subscribed':
      return { ...base, channel: frame.channel, ...(frame.seq === undefined ? {} : { seq: frame.seq }), ...(frame.epoch === undefined ? {} : { epoch: frame.epoch }) };
    case 'unsubscribe':
      return { ...base, channel: frame.channel };
    case 'unsubscribed':
      return { ...base, channel: frame.channel, ...(frame.code === undefined ? {} : { code: frame.code }) };
    case 'error':
      return {
        ...base,
        code: frame.code,
        ...(frame.channel === undefined ? (frame.id === undefined ? {} : byId(frame.id)) : { channel: frame.channel }),
        ...(frame.id === undefined ? {} : { id: frame.id }),
      };
    case 'ack':
    case 'cancel':
      return { ...base, ...byId(frame.id), id: frame.id };
    case 'request':
      return { ...base, channel: frame.channel, id: frame.id, data: frame.data };
    case 'response':
      return { ...base, ...byId(frame.id), id: frame.id, data: frame.data };
    case 'request-error':
      return { ...base, ...byId(frame.id), id: frame.id, code: frame.code };
    case 'gap':
      return { ...base, channel: frame.channel, seq: frame.seq, epoch: frame.epoch, code: frame.reason };
    case 'receipt':
      return { ...base, data: { received: frame.received } };
    case 'refreshed':
      return frame.expiresIn === undefined ? base : { ...base, data: { expiresIn: frame.expiresIn } };
    case 'transfer':
      return { ...base, channel: frame.channel, transfer: { received: frame.data.byteLength, size: frame.size }, ...(frame.id === undefined ? {} : { id: frame.id }), ...(frame.seq === undefined ? {} : { seq: frame.seq }) };
    case 'chunk':
      return { ...base, channel: frame.channel, transfer: { received: frame.offset + frame.data.byteLength, size: 0, ...(frame.abandon === true ? { abandoned: true as const } : {}) } };
    case 'credit':
      return { ...base, data: { bytes: frame.bytes } };
    case 'abort':
      return { ...base, channel: frame.channel, code: frame.code };
    case 'refresh': // the token is a credential: never in a debug event
    case 'hello':
    case 'welcome':
    case 'ping':
    case 'pong':
      return base;
  }
}
