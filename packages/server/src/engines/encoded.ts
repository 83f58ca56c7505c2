/**
 * Publications kept encoded, and what they cost in memory: the one
 * byte-accounting rule of the server (history entries, session answers,
 * what a stream has queued).
 *
 * A history holds a publication as the text (or bytes) that travels, not as
 * the parsed value: a megabyte of `[[],[],…]` costs a megabyte, not the
 * thirteen its parsed arrays would, and a replay splices the text into each
 * frame as it is, without parsing or encoding it again.
 */
import type { Payload } from '@rxmux/core/protocol';
import type { EnginePublication } from './engine.js';

/** What one kept entry costs beyond its text or bytes (its object, its slot): counted so that tiny entries are bounded too. */
export const ENTRY_OVERHEAD = 64;

/**
 * Bytes of memory `value` holds: a byte array its length; a string as V8
 * keeps it, one byte per character when it is ASCII and two otherwise (an
 * upper bound for other one-byte strings).
 */
export function heldBytes(value: string | Uint8Array): number {
  if (typeof value !== 'string') return value.byteLength;
  return Buffer.byteLength(value, 'utf8') === value.length ? value.length : 2 * value.length;
}

/**
 * A publication read back from its encoded form (a history, a message from
 * another node): `json` is what travels, and `data` is parsed from it only
 * if something reads it (a replay never does).
 */
export class StoredPublication implements EnginePublication {
  #data: Payload | undefined;

  constructor(
    readonly channel: string,
    readonly epoch: string,
    readonly seq: number,
    /** The data as JSON text; `undefined` for bytes. */
    readonly json: string | undefined,
    /** The data when it is bytes. */
    private readonly bytes?: Uint8Array,
  ) {}

  get data(): Payload {
    if (this.bytes !== undefined) return this.bytes;
    return (this.#data ??= JSON.parse(this.json ?? 'null') as Payload);
  }
}
