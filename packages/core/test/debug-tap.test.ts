/**
 * The debug tap (issue 12.1): what a connection reports to a debugger, the
 * page hook it registers with, the actions it allows, and that it is off for
 * good with `devtools: false`.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEVTOOLS_HOOK_KEY, preloadDebugTap, type DebugEvent, type DebugTap, type DevtoolsHook } from '@rxmux/core/debug';
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
  events.map((e) => Object.fromEntries(Object.entries(e).filter(([k]) => k !== 'at' && k !== 'conn' && k !== 'latency')));

describe('conn.debug(): the tap without the extension', () => {
  it('reports frames in and out (decoded, per channel), status with resume, channel joins, and the end', () => {
    const events: DebugEvent[] = [];
    runMarbles(toEqual, ({ later }) => {
      // The second welcome resumes s1 (resumed: true), as the kit does for a hello that names its session.
      const server = new FakeServer({ autoWelcome: { after: 5, heartbeat: 0, received: 0 } });
      const conn = server.connect({ reconnect: { initialDelay: 10 } });
      conn.debug((e) => events.push(e));
      const sub = conn.channel('p').subscribe();
      later(() => {
        server.last.sendBatch([
          { type: 'subscribed', channel: 'p', epoch: 'E', seq: 0 },
          { type: 'publication', channel: 'p', data: { bpm: 72 }, seq: 1 },
        ]);
      }, 10);
      later(() => server.last.publishBinary('p', new Uint8Array([0xde, 0xad]), { seq: 2 }), 11);
      later(() => server.last.drop(1006), 20);
      later(() => sub.unsubscribe(), 100);
      later(() => conn.close(), 3000);
    });
    const summary = plain(events);
    expect(summary[0]).toEqual({ type: 'connection', url: 'ws://fake.test/rt', actions: false });
    expect(summary).toContainEqual({ type: 'channel', channel: 'p', transport: 'ws', action: 'join', subscribers: 1 });
    expect(summary).toContainEqual({ type: 'frame', dir: 'out', transport: 'ws', frame: 'subscribe', channel: 'p', bytes: 7 });
    expect(summary).toContainEqual({ type: 'frame', dir: 'in', transport: 'ws', frame: 'publication', channel: 'p', data: { bpm: 72 }, seq: 1, bytes: 20 }); // its own envelope's bytes: it shared a batch
    expect(summary).toContainEqual({ type: 'frame', dir: 'in', transport: 'ws', frame: 'publication', channel: 'p', binary: { length: 2, head: 'dead' }, seq: 2, bytes: 14 });
    expect(summary).toContainEqual({ type: 'channel', channel: 'p', transport: 'ws', action: 'joined', subscribers: 1 });
    expect(summary).toContainEqual({ type: 'status', from: 'open', to: 'reconnecting', attempt: 1, retryIn: 10, code: 1006, reason: '' });
    expect(summary).toContainEqual({ type: 'status', from: 'reconnecting', to: 'open', resumed: true });
    expect(summary).toContainEqual({ type: 'channel', channel: 'p', transport: 'ws', action: 'leave', subscribers: 0 });
    expect(summary.at(-1)).toEqual({ type: 'disposed' });
    // Hello and welcome travel too, without the session id (it resumes the session: a credential).
    expect(summary).toContainEqual({ type: 'frame', dir: 'in', transport: 'ws', frame: 'welcome', bytes: expect.any(Number) as number });
  });

  it('pairs requests with their reply (latency, the channel on the response), acks and refusals', () => {
    const events: DebugEvent[] = [];
    runMarbles(toEqual, ({ later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect({ requestTimeout: 100 });
      conn.debug((e) => events.push(e));
      conn.channel('math').request(21).subscribe();
      conn.channel('math').request('never').subscribe({ error: () => undefined });
      conn.channel('log').send('x', { ack: true }).subscribe({ error: () => undefined });
      conn.channel('log').send('y', { ack: true }).subscribe({ error: () => undefined });
      later(() => {
        server.last.sendBatch([
          { type: 'response', id: 1, data: 42 },
          { type: 'ack', id: 3 },
          { type: 'error', code: 'RXMUX_ERR_FORBIDDEN', message: 'no', id: 4 },
        ]);
      }, 30);
      later(() => conn.close(), 500);
    });
    const summary = plain(events);
    expect(summary).toContainEqual({ type: 'frame', dir: 'in', transport: 'ws', frame: 'response', channel: 'math', id: 1, data: 42, bytes: expect.any(Number) as number });
    expect(summary).toContainEqual({ type: 'request', channel: 'math', id: 1, outcome: 'response' });
    expect(summary).toContainEqual({ type: 'request', channel: 'math', id: 2, outcome: 'timeout' });
    expect(summary).toContainEqual({ type: 'ack', channel: 'log', id: 3, outcome: 'acked' });
    expect(summary).toContainEqual({ type: 'ack', channel: 'log', id: 4, outcome: 'refused', code: 'RXMUX_ERR_FORBIDDEN' });
    const answered = events.find((e) => e.type === 'request' && e.id === 1);
    expect(answered?.type === 'request' ? answered.latency : -1).toBeGreaterThanOrEqual(0);
  });

  it('reports gaps, drops and errors', () => {
    const events: DebugEvent[] = [];
    runMarbles(toEqual, ({ later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect({ buffer: { maxMessages: 1 } });
      conn.debug((e) => events.push(e));
      conn.channel('a').send(1);
      conn.channel('a').send(2); // evicts 1
      const sub = conn.channel('g').subscribe();
      later(() => server.last.gap('g', { epoch: 'E', seq: 9, reason: 'history', since: 2 }), 10);
      later(() => server.last.sendRaw('not json'), 11);
      later(() => sub.unsubscribe(), 20);
    });
    const summary = plain(events);
    expect(summary).toContainEqual({ type: 'drop', channel: 'a', reason: 'overflow', bytes: 9 });
    expect(summary).toContainEqual({ type: 'gap', channel: 'g', transport: 'ws', reason: 'history', since: 2, seq: 9, epoch: 'E' });
    expect(summary.find((e) => e.type === 'error')).toMatchObject({ code: 'RXMUX_ERR_MALFORMED_JSON' });
  });

  it('is off for good with devtools: false: debug() throws and no hook sees it', () => {
    const registered: DebugTap[] = [];
    (globalThis as Hooked)[DEVTOOLS_HOOK_KEY] = {
      register: (tap) => {
        registered.push(tap);
        return undefined;
      },
    };
    const conn = new FakeServer().connect({ devtools: false });
    expect(() => conn.debug(() => undefined)).toThrow(/devtools: false/);
    expect(registered).toEqual([]);
    conn.close();
  });
});

describe('the page hook', () => {
  it('a connection registers when the hook is present, starts with its state, and unregisters after disposed', () => {
    const registered: DebugTap[] = [];
    let unregistered = 0;
    (globalThis as Hooked)[DEVTOOLS_HOOK_KEY] = {
      register: (tap) => {
        registered.push(tap);
        return () => unregistered++;
      },
    };
    const events: DebugEvent[] = [];
    runMarbles(toEqual, ({ later }) => {
      const conn = new FakeServer({ autoWelcome: { after: 5 } }).connect();
      expect(registered).toHaveLength(1);
      expect(registered[0]).toMatchObject({ version: 1, url: 'ws://fake.test/rt', actions: false });
      const sub = conn.channel('late').subscribe();
      later(() => registered[0]?.listen((e) => events.push(e)), 20); // the extension attaches after the page loaded
      later(() => sub.unsubscribe(), 30);
      later(() => conn.close(), 2000);
    });
    expect(plain(events).slice(0, 3)).toEqual([
      { type: 'connection', url: 'ws://fake.test/rt', actions: false },
      { type: 'status', from: 'closed', to: 'open' },
      { type: 'channel', channel: 'late', transport: 'ws', action: 'join', subscribers: 1 },
    ]);
    expect(plain(events).at(-1)).toEqual({ type: 'disposed' });
    expect(unregistered).toBe(1);
  });

  it('a throwing hook does not break the connection', () => {
    (globalThis as Hooked)[DEVTOOLS_HOOK_KEY] = {
      register: () => {
        throw new Error('broken extension');
      },
    };
    const conn = new FakeServer().connect();
    expect(conn.channel('a').id).toBe('a');
    conn.close();
  });
});

describe('actions', () => {
  it('pause holds a channel in order, resume delivers; drop reconnects; send sends; each shows in the events', () => {
    const registered: DebugTap[] = [];
    (globalThis as Hooked)[DEVTOOLS_HOOK_KEY] = {
      register: (tap) => {
        registered.push(tap);
        return undefined;
      },
    };
    const events: DebugEvent[] = [];
    const seen: unknown[] = [];
    runMarbles(toEqual, ({ later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 } });
      const conn = server.connect({ devtools: { actions: true }, reconnect: { initialDelay: 10 } });
      const tap = registered[0] as DebugTap;
      tap.listen((e) => events.push(e));
      const sub = conn.channel('p').subscribe((v) => seen.push(v));
      later(() => tap.act({ type: 'pause', channel: 'p' }), 8);
      later(() => server.last.publish('p', 1), 10);
      later(() => server.last.publish('p', 2), 11);
      later(() => expect(seen).toEqual([]), 12);
      later(() => tap.act({ type: 'resume', channel: 'p' }), 13);
      later(() => tap.act({ type: 'send', channel: 'p', data: { from: 'devtools' } }), 14);
      later(() => tap.act({ type: 'drop' }), 20);
      later(() => expect(server.connections).toHaveLength(2), 40);
      later(() => sub.unsubscribe(), 50);
    });
    expect(seen).toEqual([1, 2]);
    const summary = plain(events);
    expect(summary).toContainEqual({ type: 'channel', channel: 'p', transport: 'ws', action: 'paused', subscribers: 1 });
    expect(summary).toContainEqual({ type: 'channel', channel: 'p', transport: 'ws', action: 'resumed', subscribers: 1 });
    expect(summary).toContainEqual({ type: 'frame', dir: 'out', transport: 'ws', frame: 'message', channel: 'p', data: { from: 'devtools' }, bytes: 27 });
    expect(summary).toContainEqual({ type: 'status', from: 'open', to: 'reconnecting', attempt: 1, retryIn: 10, code: 4000, reason: 'dropped by DevTools' });
  });

  it('are refused (and said so) unless the connection allows them', () => {
    const registered: DebugTap[] = [];
    (globalThis as Hooked)[DEVTOOLS_HOOK_KEY] = {
      register: (tap) => {
        registered.push(tap);
        return undefined;
      },
    };
    const server = new FakeServer();
    const conn = server.connect();
    const events: DebugEvent[] = [];
    registered[0]?.listen((e) => events.push(e));
    registered[0]?.act({ type: 'send', channel: 'p', data: 1 });
    expect(events.at(-1)).toMatchObject({ type: 'error', code: 'RXMUX_ERR_INVALID_ARGUMENT' });
    expect(server.connections).toEqual([]);
    conn.close();
  });
});
