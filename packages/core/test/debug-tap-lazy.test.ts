/**
 * The debug tap's code is loaded when a debugger first listens (issue 15.7:
 * a page nobody debugs never downloads it). What happens while it loads is
 * reported once it is there, in order and with the times it happened; a
 * listener that joins meanwhile hears only what came after it; past the
 * bound, what was dropped is counted; a load that fails is said once and
 * costs the app nothing. Each test takes fresh modules, so nothing is loaded
 * when it starts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DebugEvent } from '../src/debug/events.js';
import { encodeText } from '../src/protocol/codec.js';
import type { Tap, TapHost } from '../src/debug/tap.js';

type TapModule = typeof import('../src/debug/tap.js');
type LoadModule = typeof import('../src/debug/load.js');

let tapModule: TapModule;
let loadModule: LoadModule;

beforeEach(async () => {
  vi.resetModules();
  tapModule = await import('../src/debug/tap.js');
  loadModule = await import('../src/debug/load.js');
});

afterEach(() => {
  vi.doUnmock('../src/debug/recorder.js');
  vi.useRealTimers();
});

const host: TapHost = {
  status: () => 'open',
  channels: () => [['p', 1, true]],
  paused: () => [],
  act: () => undefined,
};

function newTap(): Tap {
  return new tapModule.Tap('ws://page.test/rt?token=secret', false, host);
}

/** Events without their clock, for comparison. */
const plain = (events: readonly DebugEvent[]): Record<string, unknown>[] =>
  events.map((e) => Object.fromEntries(Object.entries(e).filter(([k]) => k !== 'at' && k !== 'conn' && k !== 'latency')));

describe('the debug tap loads its code when a debugger first listens', () => {
  it('reports what happened while it loaded, in order, with the times it happened', async () => {
    expect(loadModule.loadedRecorder()).toBeUndefined();
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000_000);
    const tap = newTap();
    const events: DebugEvent[] = [];
    tap.listen((e) => events.push(e));
    expect(tap.active).toBe(true);
    const request = encodeText({ type: 'request', channel: 'p', id: 1, data: { q: 1 } });
    const response = encodeText({ type: 'response', id: 1, data: 42 });
    tap.out(request);
    tap.in(response, [{ type: 'response', id: 1, data: 42 }]);
    tap.channel('q', 'join', 1);
    expect(events).toEqual([]); // nothing yet: the code is loading
    vi.setSystemTime(1_005_000); // the code takes 5 s to arrive
    await loadModule.preloadDebugTap();
    expect(plain(events)).toEqual([
      { type: 'connection', url: 'ws://page.test/rt', actions: false },
      { type: 'status', from: 'closed', to: 'open' },
      { type: 'channel', channel: 'p', transport: 'ws', action: 'join', subscribers: 1 },
      { type: 'channel', channel: 'p', transport: 'ws', action: 'joined', subscribers: 1 },
      { type: 'frame', dir: 'out', transport: 'ws', frame: 'request', channel: 'p', id: 1, data: { q: 1 }, bytes: request.length },
      { type: 'frame', dir: 'in', transport: 'ws', frame: 'response', channel: 'p', id: 1, data: 42, bytes: response.length },
      { type: 'request', channel: 'p', id: 1, outcome: 'response' },
      { type: 'channel', channel: 'q', transport: 'ws', action: 'join', subscribers: 1 },
    ]);
    // Every event keeps the time it happened (the request's latency too), not the time the code arrived.
    expect(events.map((e) => e.at)).toEqual(events.map(() => 1_000_000));
    expect(events.find((e) => e.type === 'request')).toMatchObject({ latency: 0 });
    // Loaded: from now on each event is told as it happens.
    tap.channel('q', 'leave', 0);
    expect(events.at(-1)).toMatchObject({ type: 'channel', channel: 'q', action: 'leave', at: 1_005_000 });
  });

  it('a listener that joins while the code loads hears its own greeting and what came after it, nothing before', async () => {
    const tap = newTap();
    const first: DebugEvent[] = [];
    const second: DebugEvent[] = [];
    tap.listen((e) => first.push(e));
    tap.channel('a', 'join', 1);
    const stop = tap.listen((e) => second.push(e));
    tap.channel('b', 'join', 1);
    stop();
    tap.channel('c', 'join', 1);
    await loadModule.preloadDebugTap();
    const joins = (events: DebugEvent[]): string[] => events.flatMap((e) => (e.type === 'channel' && e.action === 'join' ? [e.channel] : []));
    expect(joins(first)).toEqual(['p', 'a', 'b', 'c']);
    expect(joins(second)).toEqual(['p', 'b']); // greeted with the state (p), then b; stopped before c
    expect(tap.active).toBe(true);
  });

  it('counts what it dropped past its bound, and says so once loaded', async () => {
    const tap = newTap();
    const events: DebugEvent[] = [];
    tap.listen((e) => events.push(e));
    const extra = 25;
    for (let i = 0; i < tapModule.MAX_WAITING_STEPS + extra; i++) tap.channel(`c${i}`, 'join', 1);
    await loadModule.preloadDebugTap();
    const joined = events.filter((e) => e.type === 'channel' && e.channel.startsWith('c'));
    // The listener's own greeting is one kept step: the bound leaves room for one fewer event.
    expect(joined).toHaveLength(tapModule.MAX_WAITING_STEPS - 1);
    expect(events.at(-1)).toMatchObject({ type: 'error', code: 'RXMUX_DEVTOOLS_OVERFLOW', message: expect.stringContaining(`${extra + 1} debug events were dropped`) as string });
  });

  it('keeps at most MAX_WAITING_BYTES of frames while it loads: a stalled chunk does not hold a flood of large ones', async () => {
    const tap = newTap();
    const events: DebugEvent[] = [];
    tap.listen((e) => events.push(e));
    const mib = new Uint8Array(1024 * 1024);
    const frames = tapModule.MAX_WAITING_BYTES / mib.byteLength + 4;
    for (let i = 0; i < frames; i++) tap.in(mib, []); // 1 MiB each (decoded to nothing: the bytes are what counts)
    tap.channel('after', 'join', 1); // an event without a frame weighs nothing: it is kept
    await loadModule.preloadDebugTap();
    expect(events.at(-2)).toMatchObject({ type: 'channel', channel: 'after' });
    expect(events.at(-1)).toMatchObject({ type: 'error', code: 'RXMUX_DEVTOOLS_OVERFLOW', message: expect.stringContaining('4 debug events were dropped') as string });
  });

  it('when its code cannot load, each waiting listener is told once, the tap goes quiet, and a later tap loads it', async () => {
    vi.doMock('../src/debug/recorder.js', () => {
      throw new Error('chunk 404');
    });
    const tap = newTap();
    const events: DebugEvent[] = [];
    const stop = tap.listen((e) => events.push(e));
    tap.channel('a', 'join', 1);
    await expect(loadModule.preloadDebugTap()).rejects.toThrow();
    await vi.waitFor(() => expect(events).toHaveLength(1));
    expect(events[0]).toMatchObject({ type: 'error', code: 'RXMUX_DEVTOOLS_UNAVAILABLE', message: expect.stringContaining('could not load its code') as string });
    expect(tap.active).toBe(false);
    stop(); // a no-op now
    expect(tap.active).toBe(false);
    const late: DebugEvent[] = [];
    tap.listen((e) => late.push(e));
    expect(late).toMatchObject([{ type: 'error', code: 'RXMUX_DEVTOOLS_UNAVAILABLE' }]);
    expect(tap.active).toBe(false);
    // The chunk is back (a retry of the load): a new connection's tap loads and reports.
    vi.doUnmock('../src/debug/recorder.js');
    const next = newTap();
    const heard: DebugEvent[] = [];
    next.listen((e) => heard.push(e));
    await loadModule.preloadDebugTap();
    expect(heard[0]).toMatchObject({ type: 'connection' });
  });

  it('a connection nobody listens to never loads the code, through its whole life', () => {
    const tap = newTap();
    tap.channel('a', 'join', 1);
    tap.error({ code: 'RXMUX_ERR_X', message: 'x' });
    tap.emit({ type: 'disposed', conn: tap.id, at: 0 });
    tap.dispose();
    expect(loadModule.recorderRequested()).toBe(false);
    const stop = newTap().listen(() => undefined);
    expect(loadModule.recorderRequested()).toBe(true); // the first listener asks for it
    stop();
  });

  it('disposed while loading: the listener hears the end after what came before it, and later stops do nothing', async () => {
    const tap = newTap();
    const events: DebugEvent[] = [];
    const stop = tap.listen((e) => events.push(e));
    tap.channel('a', 'join', 1);
    tap.dispose();
    expect(tap.active).toBe(false);
    stop();
    await loadModule.preloadDebugTap();
    expect(plain(events).slice(-2)).toEqual([{ type: 'channel', channel: 'a', transport: 'ws', action: 'join', subscribers: 1 }, { type: 'disposed' }]);
    tap.channel('b', 'join', 1);
    expect(events.at(-1)?.type).toBe('disposed');
  });
});

describe('the debug tap while its code loads (review)', () => {
  const joins = (events: readonly DebugEvent[]): string[] => events.flatMap((e) => (e.type === 'channel' && e.action === 'join' ? [e.channel] : []));

  it('loaded: a listener added by a listener hears its greeting, not the event being told', async () => {
    await loadModule.preloadDebugTap();
    const tap = newTap();
    const late: DebugEvent[] = [];
    tap.listen((e) => {
      if (e.type === 'channel' && e.channel === 'a') tap.listen((l) => late.push(l));
    });
    tap.channel('a', 'join', 1);
    expect(joins(late)).toEqual(['p']);
  });

  it('the byte bound counts SSE / long-poll frames and dropped messages too', async () => {
    const { StreamTap } = await import('../src/debug/stream-tap.js');
    const tap = newTap();
    const stream = new StreamTap(tap);
    const events: DebugEvent[] = [];
    tap.listen((e) => events.push(e));
    const mib = 'x'.repeat(1024 * 1024);
    const each = tapModule.MAX_WAITING_BYTES / mib.length + 2;
    for (let i = 0; i < each; i++) stream.event('sse', 'publication', { channel: 'p', seq: i, epoch: 'e', data: mib }, mib.length, '');
    for (let i = 0; i < each; i++) tap.drop({ channel: 'p', reason: 'buffer-full', wire: mib });
    await loadModule.preloadDebugTap();
    // 16 MiB of frames are kept, whatever carried them: 16 publications, no drop, the other 2 + 18 counted.
    expect(events.filter((e) => e.type === 'frame')).toHaveLength(tapModule.MAX_WAITING_BYTES / mib.length);
    expect(events.filter((e) => e.type === 'drop')).toHaveLength(0);
    expect(events.at(-1)).toMatchObject({ type: 'error', code: 'RXMUX_DEVTOOLS_OVERFLOW', message: expect.stringContaining(`${2 * each - 16} debug events were dropped`) as string });
  });

  it('an event a listener causes while the waiting ones replay comes after them, in order', async () => {
    const tap = newTap();
    const events: DebugEvent[] = [];
    tap.listen((e) => {
      events.push(e);
      if (e.type === 'channel' && e.channel === 'a') tap.channel('caused-by-a', 'join', 1); // e.g. the listener sends something
    });
    tap.channel('a', 'join', 1);
    tap.channel('b', 'join', 1);
    await loadModule.preloadDebugTap();
    expect(joins(events)).toEqual(['p', 'a', 'b', 'caused-by-a']);
  });

  it('a listener added while the waiting ones replay hears only what came after it', async () => {
    const tap = newTap();
    const late: DebugEvent[] = [];
    tap.listen((e) => {
      if (e.type === 'channel' && e.channel === 'a') tap.listen((l) => late.push(l));
    });
    tap.channel('a', 'join', 1);
    tap.channel('b', 'join', 1); // happened before the late listener listened
    await loadModule.preloadDebugTap();
    expect(joins(late)).toEqual(['p']); // its greeting only
  });

  it('the connection closed during the replay: the end comes after what waited', async () => {
    const tap = newTap();
    const events: DebugEvent[] = [];
    tap.listen((e) => {
      events.push(e);
      if (e.type === 'channel' && e.channel === 'a') tap.dispose(); // e.g. the app closes the connection on an error it sees
    });
    tap.channel('a', 'join', 1);
    tap.channel('b', 'join', 1);
    await loadModule.preloadDebugTap();
    expect(plain(events).slice(-2)).toEqual([{ type: 'channel', channel: 'b', transport: 'ws', action: 'join', subscribers: 1 }, { type: 'disposed' }]);
  });

  it('disposed while loading, then the code cannot load: the waiting listener is still told', async () => {
    vi.doMock('../src/debug/recorder.js', () => {
      throw new Error('chunk 404');
    });
    const tap = newTap();
    const events: DebugEvent[] = [];
    tap.listen((e) => events.push(e));
    tap.dispose();
    await expect(loadModule.preloadDebugTap()).rejects.toThrow();
    await vi.waitFor(() => expect(events).toMatchObject([{ type: 'error', code: 'RXMUX_DEVTOOLS_UNAVAILABLE' }]));
  });

  it('a tap whose load failed stays quiet after another tap loads the code (an act() refusal does not revive it)', async () => {
    vi.doMock('../src/debug/recorder.js', () => {
      throw new Error('chunk 404');
    });
    const tap = newTap();
    const events: DebugEvent[] = [];
    tap.listen((e) => events.push(e));
    await expect(loadModule.preloadDebugTap()).rejects.toThrow();
    await vi.waitFor(() => expect(events).toHaveLength(1));
    vi.doUnmock('../src/debug/recorder.js');
    await loadModule.preloadDebugTap(); // another connection's listener loaded it
    const before: DebugEvent[] = [];
    tap.listen((e) => before.push(e));
    tap.act({ type: 'disconnect' } as never); // refused: the panel asked
    const after: DebugEvent[] = [];
    tap.listen((e) => after.push(e));
    expect(after.map((e) => e.type)).toEqual(before.map((e) => e.type));
  });
});
