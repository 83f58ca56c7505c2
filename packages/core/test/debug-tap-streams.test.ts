/**
 * The debug tap on what a late debugger and the event stream need (issue 12):
 * a `listen()` starts from where every channel stands (confirmed ones as
 * `joined`, paused ones with their subscribers); `events(conn, id)` channels
 * report join, joined and leave like WebSocket channels; the stream reports
 * its own state; an SSE publication carries its epoch from the cursor; a
 * batch's frames are sized off its text.
 */
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EventSourceLike } from '@rxmux/core';
import { DEVTOOLS_HOOK_KEY, preloadDebugTap, type DebugEvent, type DebugTap, type DevtoolsHook } from '@rxmux/core/debug';
import { events as eventsOf } from '@rxmux/core/events';
import { encodeBatch, encodeText, type Frame } from '@rxmux/core/protocol';
import { envelopeSizes } from '../src/debug/recorder.js';
import { utf8Length } from '../src/protocol/utf8.js';
import { FakeServer, runMarbles } from '@rxmux/core/testing';
import { toEqual } from './helpers.js';

type Hooked = typeof globalThis & { [DEVTOOLS_HOOK_KEY]?: DevtoolsHook };

// The tap's code loaded up front: every listener here hears each event as it happens (debug-tap-lazy.test.ts covers the load).
beforeAll(() => preloadDebugTap());

afterEach(() => {
  Reflect.deleteProperty(globalThis, DEVTOOLS_HOOK_KEY);
});

/** Events without their clock and connection id, for comparison. */
const plain = (events: readonly DebugEvent[]): Record<string, unknown>[] =>
  events.map((e) => Object.fromEntries(Object.entries(e).filter(([k]) => k !== 'at' && k !== 'conn')));

type Listener = (event: { data: string; lastEventId: string; code?: number }) => void;

/** An EventSource the test drives: `emit` an event, `lose` the link (it reconnects by itself), `fail` it for good. */
function fakeEventSources() {
  const instances: FakeEventSource[] = [];
  class FakeEventSource implements EventSourceLike {
    readyState = 0;
    readonly #listeners = new Map<string, Listener[]>();
    constructor(readonly url: string) {
      instances.push(this);
    }
    addEventListener(type: string, listener: Listener): void {
      this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
    }
    close(): void {
      this.readyState = 2;
    }
    emit(type: string, data: unknown, lastEventId = ''): void {
      this.readyState = 1;
      for (const l of this.#listeners.get(type) ?? []) l({ data: JSON.stringify(data), lastEventId });
    }
    lose(): void {
      this.readyState = 0;
      for (const l of this.#listeners.get('error') ?? []) l({ data: '', lastEventId: '' });
    }
    fail(): void {
      this.readyState = 2;
      for (const l of this.#listeners.get('error') ?? []) l({ data: '', lastEventId: '' });
    }
  }
  return { FakeEventSource, instances, last: (): FakeEventSource => instances[instances.length - 1] as FakeEventSource };
}

describe('a debugger that attaches late', () => {
  it('gets each channel as it stands: join, then joined for the confirmed ones, then paused with its subscribers', () => {
    const registered: DebugTap[] = [];
    (globalThis as Hooked)[DEVTOOLS_HOOK_KEY] = { register: (tap) => void registered.push(tap) };
    const events: DebugEvent[] = [];
    runMarbles(toEqual, ({ later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect({ devtools: { actions: true } });
      conn.channel('confirmed').subscribe();
      conn.channel('confirmed').subscribe();
      conn.channel('waiting').subscribe();
      later(() => server.last.subscribed('confirmed'), 10);
      later(() => registered[0]?.act({ type: 'pause', channel: 'confirmed' }), 15);
      later(() => registered[0]?.listen((e) => events.push(e)), 20);
      later(() => conn.close(), 30);
    });
    expect(plain(events).slice(1, 6)).toEqual([
      { type: 'status', from: 'closed', to: 'open' },
      { type: 'channel', channel: 'confirmed', transport: 'ws', action: 'join', subscribers: 2 },
      { type: 'channel', channel: 'waiting', transport: 'ws', action: 'join', subscribers: 1 },
      { type: 'channel', channel: 'confirmed', transport: 'ws', action: 'joined', subscribers: 2 },
      { type: 'channel', channel: 'confirmed', transport: 'ws', action: 'paused', subscribers: 2 },
    ]);
  });
});

describe('events(conn, id) in the tap', () => {
  it('reports its channels (join, joined by the ready, leave), the stream state, and each publication with the epoch its cursor names', () => {
    const { FakeEventSource, last } = fakeEventSources();
    const events: DebugEvent[] = [];
    runMarbles(toEqual, ({ later }) => {
      const conn = new FakeServer().connect({ eventStream: { EventSource: FakeEventSource, debounce: 10, retryDelay: 100 } });
      conn.debug((e) => events.push(e));
      const sub = eventsOf(conn, 'score').subscribe();
      later(() => last().emit('ready', { stream: 's', channels: ['score'] }, 'score=4.EpA'), 15);
      later(() => last().emit('publication', { channel: 'score', seq: 5, data: { home: 1 } }, 'score=5.EpA'), 20);
      later(() => last().lose(), 30); // the EventSource reconnects by itself
      later(() => last().emit('ready', { stream: 's', channels: ['score'] }, 'score=5.EpA'), 40);
      later(() => last().fail(), 50); // gave up: the stream retries after 100 ms
      later(() => last().emit('ready', { stream: 's', channels: ['score'] }, 'score=5.EpA'), 160);
      later(() => sub.unsubscribe(), 200);
      later(() => conn.close(), 5000); // after the linger
    });
    const summary = plain(events).filter((e) => e.type === 'stream' || e.type === 'channel' || (e.type === 'frame' && e.transport === 'sse'));
    expect(summary).toEqual([
      { type: 'channel', channel: 'score', transport: 'sse', action: 'join', subscribers: 1 },
      { type: 'stream', transport: 'sse', state: 'connecting', channels: 1 },
      { type: 'frame', dir: 'in', transport: 'sse', frame: 'ready', bytes: expect.any(Number) as number },
      { type: 'stream', transport: 'sse', state: 'open', channels: 1 },
      { type: 'channel', channel: 'score', transport: 'sse', action: 'joined', subscribers: 1 },
      { type: 'frame', dir: 'in', transport: 'sse', frame: 'publication', channel: 'score', seq: 5, epoch: 'EpA', data: { home: 1 }, bytes: 45 },
      { type: 'stream', transport: 'sse', state: 'connecting', channels: 1 },
      { type: 'frame', dir: 'in', transport: 'sse', frame: 'ready', bytes: expect.any(Number) as number },
      { type: 'stream', transport: 'sse', state: 'open', channels: 1 },
      { type: 'channel', channel: 'score', transport: 'sse', action: 'joined', subscribers: 1 },
      { type: 'stream', transport: 'sse', state: 'retrying', channels: 1, retryIn: 100, code: 'RXMUX_ERR_CONNECTION_LOST' },
      { type: 'stream', transport: 'sse', state: 'connecting', channels: 1 },
      { type: 'frame', dir: 'in', transport: 'sse', frame: 'ready', bytes: expect.any(Number) as number },
      { type: 'stream', transport: 'sse', state: 'open', channels: 1 },
      { type: 'channel', channel: 'score', transport: 'sse', action: 'joined', subscribers: 1 },
      { type: 'channel', channel: 'score', transport: 'sse', action: 'leave', subscribers: 0 },
      { type: 'stream', transport: 'sse', state: 'closed', channels: 0 },
    ]);
  });

  it('a debugger that attaches late gets the stream state and its channels', () => {
    const { FakeEventSource, last } = fakeEventSources();
    const registered: DebugTap[] = [];
    (globalThis as Hooked)[DEVTOOLS_HOOK_KEY] = { register: (tap) => void registered.push(tap) };
    const events: DebugEvent[] = [];
    runMarbles(toEqual, ({ later }) => {
      const conn = new FakeServer().connect({ eventStream: { EventSource: FakeEventSource, debounce: 10 } });
      eventsOf(conn, 'a').subscribe();
      eventsOf(conn, 'b').subscribe();
      later(() => last().emit('ready', { stream: 's', channels: ['a', 'b'] }, 'a=0.E,b=0.E'), 15);
      later(() => registered[0]?.listen((e) => events.push(e)), 20);
      later(() => conn.close(), 30);
    });
    expect(plain(events).slice(1, 6)).toEqual([
      { type: 'stream', transport: 'sse', state: 'open', channels: 2 },
      { type: 'channel', channel: 'a', transport: 'sse', action: 'join', subscribers: 1 },
      { type: 'channel', channel: 'b', transport: 'sse', action: 'join', subscribers: 1 },
      { type: 'channel', channel: 'a', transport: 'sse', action: 'joined', subscribers: 1 },
      { type: 'channel', channel: 'b', transport: 'sse', action: 'joined', subscribers: 1 },
    ]);
  });
});

describe('frame sizes', () => {
  it('utf8Length agrees with TextEncoder on any string, lone surrogates included', () => {
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (text) => {
        expect(utf8Length(text)).toBe(encoder.encode(text).length);
      }),
    );
  });

  it("a batch's envelopes are sized off its text as each alone would be", () => {
    const channel = fc.string({ minLength: 1, maxLength: 20, unit: 'binary' });
    const frame: fc.Arbitrary<Frame> = fc.oneof(
      fc.record({ type: fc.constant('publication' as const), channel, data: fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as never), seq: fc.nat() }),
      fc.record({ type: fc.constant('subscribe' as const), channel }),
      fc.record({ type: fc.constant('error' as const), code: fc.string(), message: fc.string({ unit: 'binary' }) }),
    );
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(fc.array(frame, { minLength: 2, maxLength: 8 }), (frames) => {
        const envelopes = frames.map((f) => encodeText(f));
        expect(envelopeSizes(encodeBatch(envelopes))).toEqual(envelopes.map((e) => encoder.encode(e).length));
      }),
    );
  });
});
