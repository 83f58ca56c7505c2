/**
 * What every field of protocols v1 and v2 may hold (PROTOCOL.md 2, 5, 15.2): channel ids,
 * data, numbers, strings, limits objects, and the decode limits. One
 * validation for the decoders and the encoders, text and binary alike.
 */
import { ProtocolError } from './errors.js';
import type { Frame } from './frames.js';

/** Limits applied before and while decoding. */
export interface DecodeLimits {
  /** Largest frame accepted, in bytes (text: in UTF-16 code units, a lower bound on bytes). Default 1 MiB. */
  readonly maxFrameBytes?: number;
  /** Most envelopes accepted in one batch. Default 1024. */
  readonly maxBatch?: number;
}

/** Default decode limits. */
export const DEFAULT_DECODE_LIMITS: Required<DecodeLimits> = { maxFrameBytes: 1024 * 1024, maxBatch: 1024 };

/** What {@link decode} returns: the valid frames, in order, and one error per rejected envelope. */
export interface DecodeResult {
  readonly frames: Frame[];
  readonly errors: ProtocolError[];
}

/** A decode result of one error. @internal */
export function single(error: ProtocolError): DecodeResult {
  return { frames: [], errors: [error] };
}

/** Longest channel id, in UTF-8 bytes (it must fit the binary header's length byte). */
export const MAX_CHANNEL_BYTES = 255;

/** @internal */
export type FieldKind = 'channel' | 'uint' | 'string' | 'bool' | 'json' | 'peer-limits' | 'server-limits';
/** Longest string field (codes, messages, session ids) accepted, in characters. */
const MAX_STRING = 4096;

const utf8 = new TextEncoder();
// In `u` mode a surrogate pair is one code point, so this matches only unpaired halves.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Channel ids already validated: a frame on a known channel skips the checks (decoding is a hot path). */
const knownChannels = new Set<string>();

/** Whether `channel` was validated already (the decoders' fast path). @internal */
export function isKnownChannel(channel: string): boolean {
  return knownChannels.has(channel);
}
const KNOWN_CHANNELS_MAX = 4096;

/** Whether `s` fits {@link MAX_CHANNEL_BYTES} in UTF-8; only long ids pay for an encode. */
function fitsChannelBytes(s: string): boolean {
  // A UTF-16 code unit takes at most 3 UTF-8 bytes.
  return s.length * 3 <= MAX_CHANNEL_BYTES || (s.length <= MAX_CHANNEL_BYTES && utf8.encode(s).length <= MAX_CHANNEL_BYTES);
}

/**
 * Checks a channel id: a non-empty string of at most {@link MAX_CHANNEL_BYTES} UTF-8 bytes.
 * @returns an error message, or `undefined` when the id is valid.
 */
export function channelIdProblem(channel: unknown): string | undefined {
  if (typeof channel !== 'string') return `channel id must be a string, got ${typeof channel}`;
  if (knownChannels.has(channel)) return undefined;
  if (channel.length === 0) return 'channel id must not be empty';
  if (LONE_SURROGATE.test(channel)) return 'channel id must be well-formed Unicode (it has a lone surrogate)';
  if (!fitsChannelBytes(channel)) {
    return `channel id must be at most ${MAX_CHANNEL_BYTES} UTF-8 bytes`;
  }
  if (knownChannels.size >= KNOWN_CHANNELS_MAX) knownChannels.clear(); // bounded, whatever the input
  knownChannels.add(channel);
  return undefined;
}

/**
 * Checks a `data` value: anything JSON can carry, or a `Uint8Array` (bytes
 * travel in binary frames). The one check of both decode paths and of the
 * encoders. `JSON.parse` yields `Infinity` for `1e400`, which JSON cannot carry
 * back: refused like `NaN`.
 */
export function dataProblem(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : 'must be a finite number (JSON has no NaN or Infinity)';
    case 'object':
      if (value instanceof ArrayBuffer || (ArrayBuffer.isView(value) && !(value instanceof Uint8Array))) {
        return 'must be a JSON value or a Uint8Array (wrap other binary data in a Uint8Array)';
      }
      return undefined; // null, arrays, objects, Uint8Array
    default:
      return 'must be a JSON value';
  }
}

const PEER_LIMIT_KEYS = ['maxFrameBytes', 'maxBatch'] as const;
const SERVER_LIMIT_KEYS = [...PEER_LIMIT_KEYS, 'rate', 'burst'] as const;
/** The transfer keys (v2, PROTOCOL.md 15.1): optional, but all four or none. */
const TRANSFER_LIMIT_KEYS = ['chunkBytes', 'window', 'maxMessageBytes', 'maxTransfers'] as const;

/** A limits object: exactly the given keys (and the transfer keys, all or none), each a positive number (integers for sizes and counts). */
function limitsProblem(value: unknown, base: readonly string[]): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `must be an object with ${base.join(', ')}`;
  const record = value as Record<string, unknown>;
  const transfers = TRANSFER_LIMIT_KEYS.filter((key) => Object.hasOwn(record, key)).length;
  if (transfers !== 0 && transfers !== TRANSFER_LIMIT_KEYS.length) return `must have all of ${TRANSFER_LIMIT_KEYS.join(', ')} or none`;
  const keys = transfers === 0 ? base : [...base, ...TRANSFER_LIMIT_KEYS];
  for (const key of Object.keys(record)) if (!keys.includes(key)) return `has an unknown key ${JSON.stringify(key.slice(0, 64))}`;
  for (const key of keys) {
    const n = record[key];
    const integer = key !== 'rate';
    if (typeof n !== 'number' || !(n > 0) || !Number.isFinite(n) || (integer && !Number.isSafeInteger(n))) {
      return `.${key} must be a positive ${integer ? 'safe integer' : 'number'}`;
    }
  }
  return undefined;
}

/** @internal */
export function fieldProblem(kind: FieldKind, value: unknown): string | undefined {
  switch (kind) {
    case 'channel':
      return channelIdProblem(value);
    case 'uint':
      return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
        ? undefined
        : 'must be a non-negative safe integer';
    case 'string':
      return typeof value === 'string' && value.length <= MAX_STRING
        ? undefined
        : `must be a string of at most ${MAX_STRING} characters`;
    case 'bool':
      return typeof value === 'boolean' ? undefined : 'must be a boolean';
    case 'json':
      return dataProblem(value);
    case 'peer-limits':
      return limitsProblem(value, PEER_LIMIT_KEYS);
    case 'server-limits':
      return limitsProblem(value, SERVER_LIMIT_KEYS);
  }
}

