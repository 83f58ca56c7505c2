/**
 * The pure decoders behind "Capture with debugger" and HAR import: CDP
 * `Network` events and HAR WebSocket entries become the tap's DebugEvents,
 * decoded with the shared codec.
 */
import { hexHead, stripQuery, type DebugEvent, type DebugFrameEvent } from '@rxmux/core/debug';
import { encode, encodeBatch, encodeText } from '@rxmux/core/protocol';
import { describe, expect, it } from 'vitest';
import { CdpDecoder } from '../src/decode/cdp.js';
import { decodeHar } from '../src/decode/har.js';
import { cursorEpoch } from '../src/decode/sse.js';

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const frames = (events: DebugEvent[]): DebugFrameEvent[] => events.filter((e): e is DebugFrameEvent => e.type === 'frame');

/** A scripted CDP session: one rxmux socket, timestamps in CDP's monotonic seconds. */
function cdpSession(decoder: CdpDecoder, protocol = 'rxmux.v1'): DebugEvent[] {
  const out: DebugEvent[] = [];
  const push = (method: string, params: Record<string, unknown>): void => void out.push(...decoder.push(method, params));
  push('Network.webSocketCreated', { requestId: '7.1', url: 'ws://127.0.0.1:9/rt?token=secret' });
  push('Network.webSocketWillSendHandshakeRequest', { requestId: '7.1', timestamp: 100, wallTime: 1_700_000_000, request: { headers: {} } });
  push('Network.webSocketHandshakeResponseReceived', { requestId: '7.1', timestamp: 100.01, response: { status: 101, headers: { 'Sec-WebSocket-Protocol': protocol } } });
  const sent = (payload: string | Uint8Array, t: number): void =>
    push('Network.webSocketFrameSent', { requestId: '7.1', timestamp: t, response: typeof payload === 'string' ? { opcode: 1, mask: true, payloadData: payload } : { opcode: 2, mask: true, payloadData: b64(payload) } });
  const received = (payload: string | Uint8Array, t: number): void =>
    push('Network.webSocketFrameReceived', { requestId: '7.1', timestamp: t, response: typeof payload === 'string' ? { opcode: 1, mask: false, payloadData: payload } : { opcode: 2, mask: false, payloadData: b64(payload) } });
  sent(encodeText({ type: 'hello', version: 1, session: 's-1', resumeToken: 'r-secret' }), 100.02);
  received(encodeText({ type: 'welcome', version: 1, session: 's-1', heartbeat: 30000 }), 100.03);
  sent(encodeBatch([encodeText({ type: 'subscribe', channel: 'a' }), encodeText({ type: 'subscribe', channel: 'b', since: 4, epoch: 'E1' })]), 100.04);
  received(encodeText({ type: 'subscribed', channel: 'b', epoch: 'E1', seq: 9 }), 100.05);
  received(encodeBatch([encodeText({ type: 'publication', channel: 'a', data: { n: 1 }, seq: 1 }), encodeText({ type: 'publication', channel: 'b', data: [1, 2], seq: 10 })]), 100.06);
  received(encode({ type: 'publication', channel: 'b', data: new Uint8Array([0xde, 0xad, 0xbe, 0xef]), seq: 11 }), 100.07);
  sent(encode({ type: 'message', channel: 'a', data: new Uint8Array(100).fill(7), id: 3 }), 100.08);
  sent(encodeText({ type: 'request', channel: 'a', id: 4, data: { op: 'stats' } }), 100.09);
  received(encodeText({ type: 'ack', id: 3 }), 100.1);
  received(encodeText({ type: 'response', id: 4, data: { avg: 71.5 } }), 100.12);
  received(encodeText({ type: 'gap', channel: 'b', epoch: 'E2', seq: 0, reason: 'epoch', since: 11 }), 100.13);
  received('not json', 100.14);
  sent(new Uint8Array([0x0, 0x0]), 100.15); // a close frame's worth of nonsense, sent as binary
  push('Network.webSocketFrameReceived', { requestId: '7.1', timestamp: 100.16, response: { opcode: 9, payloadData: '' } });
  push('Network.webSocketClosed', { requestId: '7.1', timestamp: 100.2 });
  return out;
}

describe('CdpDecoder: WebSocket', () => {
  it('decodes every envelope per channel, binary as size + hex, with wall-clock times', () => {
    const events = cdpSession(new CdpDecoder());
    expect(events[0]).toEqual({ type: 'connection', conn: 'cdp-ws-7.1', at: 1_700_000_000_000, url: 'ws://127.0.0.1:9/rt', actions: false });
    expect(events.filter((e) => e.type === 'status').map((e) => `${e.from}->${e.to}`)).toEqual(['closed->connecting', 'connecting->open', 'open->closed']);
    const f = frames(events);
    expect(f.map((e) => `${e.dir} ${e.frame} ${e.channel ?? ''}`.trim())).toEqual([
      'out hello',
      'in welcome',
      'out subscribe a',
      'out subscribe b',
      'in subscribed b',
      'in publication a',
      'in publication b',
      'in publication b',
      'out message a',
      'out request a',
      'in ack a',
      'in response a', // named after its request, as the tap does
      'in gap b',
    ]);
    const pub = f.filter((e) => e.frame === 'publication');
    expect(pub.map((e) => e.seq)).toEqual([1, 10, 11]);
    expect(pub[0]?.data).toEqual({ n: 1 });
    expect(pub[2]?.binary).toEqual({ length: 4, head: 'deadbeef' });
    const message = f.find((e) => e.frame === 'message');
    expect(message).toMatchObject({ id: 3, binary: { length: 100, head: '07'.repeat(64) } });
    expect(f.find((e) => e.frame === 'subscribed')).toMatchObject({ seq: 9, epoch: 'E1' });
    expect(f.find((e) => e.frame === 'response')).toMatchObject({ id: 4, data: { avg: 71.5 } });
    // The acknowledged send's ack, timed from the send, as the tap reports it.
    expect(events.find((e) => e.type === 'ack')).toEqual({ type: 'ack', conn: 'cdp-ws-7.1', at: 1_700_000_000_100, channel: 'a', id: 3, latency: 20, outcome: 'acked' });
    // An envelope of a batch counts its own bytes, as the tap counts them.
    const envelopes = [encodeText({ type: 'subscribe', channel: 'a' }), encodeText({ type: 'subscribe', channel: 'b', since: 4, epoch: 'E1' })];
    expect(f.filter((e) => e.frame === 'subscribe').map((e) => e.bytes)).toEqual(envelopes.map((e) => e.length));
    expect(f.find((e) => e.frame === 'response')?.at).toBe(1_700_000_000_120);
  });

  it('derives gap and error events, never credentials', () => {
    const events = cdpSession(new CdpDecoder());
    expect(events.find((e) => e.type === 'gap')).toMatchObject({ channel: 'b', reason: 'epoch', seq: 0, since: 11, epoch: 'E2' });
    const errors = events.filter((e) => e.type === 'error');
    expect(errors.map((e) => e.code)).toEqual(['RXMUX_ERR_MALFORMED_JSON', 'RXMUX_ERR_INVALID_BINARY_HEADER']);
    expect(JSON.stringify(events)).not.toMatch(/r-secret|token=secret|s-1/);
  });

  it('ignores sockets of other protocols and unknown or malformed events', () => {
    const decoder = new CdpDecoder();
    expect(cdpSession(decoder, 'vite-hmr')).toEqual([]);
    expect(decoder.push('Network.webSocketFrameReceived', null)).toEqual([]);
    expect(decoder.push('Page.loadEventFired', { timestamp: 1 })).toEqual([]);
    expect(decoder.push('Network.webSocketFrameReceived', { requestId: 'nope', response: { opcode: 1, payloadData: '[14]' } })).toEqual([]);
  });
});

describe('CdpDecoder: navigation', () => {
  it("the main frame's navigation closes the sockets opened before it started, not the new page's, nor on an iframe's", () => {
    const decoder = new CdpDecoder({ now: () => 7 });
    const out: DebugEvent[] = [];
    const push = (method: string, params: Record<string, unknown>): void => void out.push(...decoder.push(method, params));
    const open = (id: string, t: number): void => {
      push('Network.webSocketCreated', { requestId: id, url: 'ws://127.0.0.1:9/rt' });
      push('Network.webSocketWillSendHandshakeRequest', { requestId: id, timestamp: t, wallTime: 1000 + t, request: { headers: {} } });
      push('Network.webSocketHandshakeResponseReceived', { requestId: id, timestamp: t, response: { status: 101, headers: { 'sec-websocket-protocol': 'rxmux.v1' } } });
    };
    const closed = (): string[] => out.flatMap((e) => (e.type === 'status' && e.to === 'closed' ? [e.conn] : []));
    open('old', 1);
    push('Network.requestWillBeSent', { requestId: 'doc-ad', type: 'Document', frameId: 'child', loaderId: 'l1', timestamp: 2, request: { url: 'http://127.0.0.1/ad' } });
    push('Page.frameNavigated', { frame: { id: 'child', parentId: 'top', url: 'http://127.0.0.1/ad' } });
    push('Page.frameNavigated', { frame: { id: 'top', url: 'about:blank' } }); // no document request seen: nothing known to have ended
    expect(closed()).toEqual([]);
    // A reload: its document request, then the new page's socket, and only then (as may happen) the commit.
    push('Network.requestWillBeSent', { requestId: 'doc', type: 'Document', frameId: 'top', loaderId: 'l2', timestamp: 3, request: { url: 'http://127.0.0.1/' } });
    open('new', 4);
    push('Page.frameNavigated', { frame: { id: 'top', url: 'http://127.0.0.1/' } });
    expect(closed()).toEqual(['cdp-ws-old']);
    expect(out.find((e) => e.type === 'status' && e.to === 'closed')).toMatchObject({ at: 7, reason: 'the page navigated' });
    // The old socket is forgotten (a late close of it says nothing); the new one lives on.
    push('Network.webSocketClosed', { requestId: 'old', timestamp: 5 });
    expect(closed()).toEqual(['cdp-ws-old']);
    push('Network.webSocketClosed', { requestId: 'new', timestamp: 6 });
    expect(closed()).toEqual(['cdp-ws-old', 'cdp-ws-new']);
    expect(decoder.push('Page.frameNavigated', { frame: 'garbage' })).toEqual([]);
  });
});

describe('CdpDecoder: EventSource', () => {
  it('turns rxmux SSE events into frames on one connection per stream URL', () => {
    const decoder = new CdpDecoder({ now: () => 5 });
    const out: DebugEvent[] = [];
    const push = (method: string, params: Record<string, unknown>): void => void out.push(...decoder.push(method, params));
    push('Network.requestWillBeSent', { requestId: 'e1', type: 'EventSource', request: { url: 'http://127.0.0.1/rt/sse?channel=score&channel=bin' }, timestamp: 10, wallTime: 1000 });
    push('Network.eventSourceMessageReceived', { requestId: 'e1', timestamp: 10.5, eventName: 'ready', eventId: '', data: '{"stream":"sse-1","channels":["score","bin"]}' });
    push('Network.eventSourceMessageReceived', { requestId: 'e1', timestamp: 11, eventName: 'publication', eventId: 'score=6.Xk3p,bin=2.Q8vT', data: '{"channel":"score","seq":6,"data":{"home":1}}' });
    push('Network.eventSourceMessageReceived', { requestId: 'e1', timestamp: 11, eventName: 'publication', eventId: 'score=6.Xk3p,bin=3.Q8vT', data: '{"channel":"bin","seq":3,"bytes":"AQL/"}' });
    push('Network.eventSourceMessageReceived', { requestId: 'e1', timestamp: 12, eventName: 'reset', eventId: '', data: '{"channel":"score","seq":40,"epoch":"N3w","reason":"history"}' });
    push('Network.eventSourceMessageReceived', { requestId: 'e1', timestamp: 12, eventName: 'channel-error', eventId: '', data: '{"channel":"secret","code":"RXMUX_ERR_FORBIDDEN","message":"no"}' });
    push('Network.loadingFailed', { requestId: 'e1', timestamp: 13, errorText: 'net::ERR_ABORTED' });
    // The browser reopens the stream: same URL, same connection, no second connection event.
    push('Network.requestWillBeSent', { requestId: 'e2', type: 'EventSource', request: { url: 'http://127.0.0.1/rt/sse?channel=score&channel=bin' }, timestamp: 14, wallTime: 1004 });
    push('Network.eventSourceMessageReceived', { requestId: 'e2', timestamp: 14.5, eventName: 'ready', eventId: '', data: '{}' });

    expect(out.filter((e) => e.type === 'connection')).toEqual([{ type: 'connection', conn: 'cdp-sse-1', at: 1_000_500, url: 'http://127.0.0.1/rt/sse', actions: false }]);
    const f = frames(out);
    expect(f.map((e) => `${e.frame} ${e.channel ?? ''}`.trim())).toEqual(['ready', 'publication score', 'publication bin', 'reset score', 'channel-error secret', 'ready']);
    expect(f.every((e) => e.transport === 'sse' && e.dir === 'in')).toBe(true);
    expect(f[1]).toMatchObject({ seq: 6, epoch: 'Xk3p', data: { home: 1 } });
    expect(f[2]).toMatchObject({ seq: 3, epoch: 'Q8vT', binary: { length: 3, head: '0102ff' } });
    expect(out.find((e) => e.type === 'gap')).toMatchObject({ channel: 'score', transport: 'sse', reason: 'history', seq: 40, epoch: 'N3w' });
    expect(out.filter((e) => e.type === 'status').map((e) => e.to)).toEqual(['open', 'reconnecting', 'open']);
  });

  it('reads epochs from cursors, ignoring malformed parts', () => {
    expect(cursorEpoch('a=5.Xk3p,b%2Cc=7.Q8', 'b,c')).toBe('Q8');
    expect(cursorEpoch('garbage,%E0%A4%A=1.x,a=5', 'a')).toBeUndefined();
    expect(cursorEpoch(undefined, 'a')).toBeUndefined();
  });
});

describe('decodeHar', () => {
  const time = (s: number): number => 1_732_550_400 + s;
  const har = {
    log: {
      version: '1.2',
      entries: [
        { _resourceType: 'document', request: { url: 'http://127.0.0.1/' }, response: {} },
        {
          _resourceType: 'websocket',
          startedDateTime: new Date(time(0) * 1000).toISOString(),
          time: 5000,
          request: { url: 'ws://127.0.0.1/rt' },
          response: { headers: [{ name: 'Sec-WebSocket-Protocol', value: 'rxmux.v1' }] },
          _webSocketMessages: [
            { type: 'send', time: time(0.1), opcode: 1, data: '[2,1]' },
            { type: 'receive', time: time(0.2), opcode: 1, data: '[3,1,"s-1",30000]' },
            { type: 'send', time: time(0.3), opcode: 1, data: '[4,"player-1"]' },
            { type: 'receive', time: time(0.4), opcode: 1, data: '[[1,"player-1",{"bpm":72},1],[1,"player-1",{"bpm":73},2]]' },
            { type: 'receive', time: time(0.5), opcode: 2, data: b64(encode({ type: 'publication', channel: 'audio', data: new Uint8Array([1, 2, 3]) }) as Uint8Array) },
          ],
        },
        {
          _resourceType: 'websocket',
          startedDateTime: new Date(time(1) * 1000).toISOString(),
          request: { url: 'ws://127.0.0.1/hmr' },
          response: { headers: [{ name: 'sec-websocket-protocol', value: 'vite-hmr' }] },
          _webSocketMessages: [{ type: 'receive', time: time(1.1), opcode: 1, data: '{"type":"connected"}' }],
        },
      ],
    },
  };

  it('decodes each rxmux socket per channel and skips the others', () => {
    const result = decodeHar(har);
    expect(result).toMatchObject({ sockets: 1, skipped: 1 });
    const f = frames(result.events);
    expect(f.map((e) => `${e.dir} ${e.frame} ${e.channel ?? ''}`.trim())).toEqual(['out hello', 'in welcome', 'out subscribe player-1', 'in publication player-1', 'in publication player-1', 'in publication audio']);
    expect(f.filter((e) => e.channel === 'player-1' && e.frame === 'publication').map((e) => e.data)).toEqual([{ bpm: 72 }, { bpm: 73 }]);
    expect(f.at(-1)?.binary).toEqual({ length: 3, head: '010203' });
    expect(f[3]?.at).toBe(time(0.4) * 1000);
    const statuses = result.events.filter((e) => e.type === 'status').map((e) => e.to);
    expect(statuses).toEqual(['connecting', 'open', 'closed']);
  });

  it('accepts garbage without throwing', () => {
    expect(decodeHar(null).events).toEqual([]);
    expect(decodeHar({ log: { entries: [1, null, { _webSocketMessages: 'x' }, { _webSocketMessages: [{ type: 'receive', opcode: 1, data: 'nope' }] }] } })).toMatchObject({ sockets: 0, skipped: 1 });
  });
});

describe('helpers', () => {
  it('strip queries and show at most 64 bytes of hex', () => {
    expect(stripQuery('wss://x/rt?token=1#f')).toBe('wss://x/rt');
    expect(hexHead(new Uint8Array(100).fill(255))).toBe('ff'.repeat(64));
  });
});
