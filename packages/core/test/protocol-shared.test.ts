/** The protocol's shared pieces outside the codec: the token bucket both ends use, and the SSE / long-poll cursor and URLs. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  bytesPerToken,
  channelsOf,
  decodeCursor,
  delayFor,
  encodeCursor,
  formatSseEvent,
  messageCost,
  parsePollAnswer,
  parseStreamEvent,
  streamPublication,
  streamUrl,
  takeTokens,
  type JsonValue,
} from '@rxmux/core/protocol';

describe('token bucket', () => {
  it('allows the burst, then refills at the rate', () => {
    const limits = { rate: 10, burst: 5 };
    const bucket = { tokens: 5, refilledAt: 0 };
    const taken = Array.from({ length: 7 }, () => takeTokens(bucket, 1, 0, limits));
    expect(taken).toEqual([true, true, true, true, true, false, false]);
    expect(takeTokens(bucket, 1, 100, limits)).toBe(true); // 100 ms = 1 token
    expect(takeTokens(bucket, 1, 100, limits)).toBe(false);
    expect(takeTokens(bucket, 5, 10_000, limits)).toBe(true); // never above the burst
    expect(takeTokens(bucket, 1, 10_000, limits)).toBe(false);
    expect(delayFor(bucket, 1, 10_000, limits)).toBe(100);
    expect(delayFor(bucket, 3, 10_100, limits)).toBe(200); // one token is there already
    expect(delayFor(bucket, 6, 10_100, limits)).toBe(Number.POSITIVE_INFINITY); // above the burst: never
  });

  it('charges a message one token per envelope, or per 16 KiB of its size, whichever is more; the largest frame costs at most half the burst', () => {
    const perToken = bytesPerToken({ maxFrameBytes: 1024 * 1024, burst: 200 });
    expect(perToken).toBe(16 * 1024);
    expect(messageCost(3, 200, perToken)).toBe(3);
    expect(messageCost(1, 16 * 1024 + 1, perToken)).toBe(2);
    expect(messageCost(1, 1024 * 1024, perToken)).toBe(64);
    for (const burst of [1, 2, 10, 200, 5000]) {
      const limits = { maxFrameBytes: 1024 * 1024, burst };
      expect(messageCost(1, limits.maxFrameBytes, bytesPerToken(limits))).toBeLessThanOrEqual(Math.max(1, burst / 2));
    }
  });
});

describe('cursor', () => {
  it('round-trips any channel name and never contains CR, LF or NUL', () => {
    const cursor = new Map([
      ['a', { seq: 5, epoch: 'Xk3p9qL2mN0r' }],
      ['x,y=z', { seq: 7, epoch: 'a-b_c' }],
      ['line\nbreak\r\0', { seq: 0, epoch: undefined }],
      ['ünï', { seq: 12, epoch: 'E' }],
    ]);
    const text = encodeCursor(cursor);
    expect(text).not.toMatch(/[\r\n\0]/);
    expect(decodeCursor(text, 10)).toEqual(cursor);
  });

  it('ignores malformed parts and caps the number of entries', () => {
    expect(decodeCursor('a=1,=3,b=-1,c=x,d=2.e1,%E0=4,f=3.bad.epoch,g=4.', 10)).toEqual(
      new Map([
        ['a', { seq: 1, epoch: undefined }],
        ['d', { seq: 2, epoch: 'e1' }],
      ]),
    );
    expect(decodeCursor('a=1,b=2,c=3', 2).size).toBe(2);
    expect(decodeCursor(undefined, 2).size).toBe(0);
  });

  it('reads channels from repeated channel= and comma-separated channels=', () => {
    const url = new URL('http://h/rt/sse?channel=a%2Cb&channels=c,d,,c&channel=e');
    expect(channelsOf(url)).toEqual(['a,b', 'e', 'c', 'd']);
  });
});


describe('SSE and long-poll events', () => {
  it('a publication survives formatting and parsing, JSON and bytes alike (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), fc.nat(), fc.oneof(fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as JsonValue), fc.uint8Array({ maxLength: 300 })), (channel, seq, data) => {
        const wire = formatSseEvent('publication', JSON.stringify(streamPublication(channel, seq, data)), 'a=1.E');
        const [, id, event, line] = /^id: (.*)\nevent: (.*)\ndata: (.*)\n\n$/s.exec(wire) ?? [];
        expect([id, event]).toEqual(['a=1.E', 'publication']);
        const item = parseStreamEvent(event as string, JSON.parse(line as string));
        expect(item).toEqual({ kind: 'publication', channel, seq, data });
      }),
    );
  });

  it('malformed events are dropped, one by one', () => {
    expect(parseStreamEvent('publication', { channel: 'a', data: 1 })).toBeUndefined(); // no seq
    expect(parseStreamEvent('publication', { channel: 'a', seq: 1, bytes: '%%%' })).toBeUndefined(); // not base64
    expect(parseStreamEvent('reset', { channel: 'a', seq: 1 })).toBeUndefined(); // no epoch
    expect(parseStreamEvent('nonsense', { channel: 'a' })).toBeUndefined();
    expect(parsePollAnswer({ cursor: 'a=1.E', events: [{ type: 'publication', channel: 'a', seq: 1, data: 2 }, null, { type: 'x' }] })).toEqual({
      cursor: 'a=1.E',
      items: [{ kind: 'publication', channel: 'a', seq: 1, data: 2 }],
    });
    expect(parsePollAnswer('garbage')).toEqual({ cursor: undefined, items: [] });
  });

  it('builds endpoint URLs from a ws:// or http:// base', () => {
    expect(streamUrl('wss://h/rt/', 'sse', ['a', 'b c'], { lastEventId: 'a=1.E', empty: '' })).toBe('https://h/rt/sse?channel=a&channel=b+c&lastEventId=a%3D1.E');
    expect(streamUrl('http://h:8/rt?x=1', 'poll', ['a'])).toBe('http://h:8/rt/poll?channel=a');
  });
});
