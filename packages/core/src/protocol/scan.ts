/**
 * The cheap look at a text frame taken before it is parsed (PROTOCOL.md 10):
 * how deeply it nests and how many envelopes it holds. `JSON.parse` of a
 * megabyte of `[[[[…` costs half a second and of `[[],[],…` thirteen
 * megabytes of heap; this scan costs one pass over the characters and stops
 * at the first bracket too deep, so a receiver refuses such a frame, and
 * charges a batch's envelopes to its rate limit, before any parsing.
 *
 * ```
 *  [[0,"a",{"x":[1,2]}],[14]]
 *  ^^         ^  ^            depth 1 (batch), 2 (envelope), 3, 4: depth 4
 *                      ^      a comma at depth 1: a batch of 2 envelopes
 * ```
 */

/** Deepest nesting of arrays and objects a text frame may have, the envelope and the batch included. */
export const MAX_DEPTH = 64;

/** What {@link scanText} found. */
export interface TextShape {
  /** Envelopes the frame holds if it parses: the elements of a batch, otherwise 1. */
  readonly envelopes: number;
  /** The deepest nesting of `[` and `{`, counted until it passes {@link MAX_DEPTH} (the scan stops there). */
  readonly depth: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/** Index of the first character that is not JSON whitespace, from `at`. */
function skipSpace(text: string, at: number): number {
  let i = at;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
  }
  return i;
}

/**
 * Scans a text frame without parsing it: its nesting depth (outside strings)
 * and, when it is a batch (an array whose first element is an array), how
 * many envelopes it holds. Stops as soon as the depth passes `maxDepth`.
 * Malformed text is scanned all the same; `JSON.parse` judges it afterwards.
 *
 * @example
 * scanText('[[14],[14]]');        // { envelopes: 2, depth: 2 }
 * scanText('[0,"a",[[[1]]]]');    // { envelopes: 1, depth: 4 }
 */
export function scanText(text: string, maxDepth = MAX_DEPTH): TextShape {
  const first = skipSpace(text, 0);
  const batch = text.charCodeAt(first) === OPEN_ARRAY && text.charCodeAt(skipSpace(text, first + 1)) === OPEN_ARRAY;
  let depth = 0;
  let deepest = 0;
  let commas = 0;
  const n = text.length;
  for (let i = first; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // Skip the string: to the next quote not escaped by an odd run of backslashes.
      for (;;) {
        const end = text.indexOf('"', i + 1);
        if (end === -1) return { envelopes: batch ? commas + 1 : 1, depth: deepest };
        let slashes = 0;
        while (text.charCodeAt(end - 1 - slashes) === BACKSLASH) slashes++;
        i = end;
        if (slashes % 2 === 0) break;
      }
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > maxDepth) return { envelopes: batch ? commas + 1 : 1, depth: deepest };
      }
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    } else if (c === COMMA && depth === 1) {
      commas++;
    }
  }
  return { envelopes: batch ? commas + 1 : 1, depth: deepest };
}
