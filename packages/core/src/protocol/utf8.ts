/**
 * UTF-8 sizes without encoding: what the debug tap and the event stream
 * report as bytes on the wire, in a browser as in Node (no `Buffer`). No rxjs.
 * @packageDocumentation
 */

/** UTF-8 length of `text.slice(from, to)`, without encoding it (a lone surrogate counts as U+FFFD, as `TextEncoder` writes it). @internal */
export function utf8Length(text: string, from = 0, to = text.length): number {
  let bytes = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < to && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4; // a surrogate pair: one code point
      i++;
    } else bytes += 3; // the rest of the BMP, and a lone surrogate
  }
  return bytes;
}
