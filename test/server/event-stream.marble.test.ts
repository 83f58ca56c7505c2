/** Marble tests of createEventStream's pipeline (debounced reopen, resume cursor, retry) against a fake EventSource. */
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { createEventStream, type EventSourceLike } from '../../packages/core/src/sse/index.js';

type Listener = (event: { data: string; lastEventId: string; code?: number }) => void;

function fakeEventSource(scheduler: TestScheduler) {
  const instances: FakeEventSource[] = [];
  class FakeEventSource implements EventSourceLike {
    readyState = 0;
    closed = false;
    readonly openedAt = scheduler.now();
    private readonly listeners = new Map<string, Listener[]>();
    constructor(readonly url: string) {
      instances.push(this);
    }
    addEventListener(type: string, listener: Listener): void {
      this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
    }
    close(): void {
      this.closed = true;
      this.readyState = 2;
    }
    emit(type: string, data: unknown, lastEventId = ''): void {
      this.readyState = 1;
      for (const l of this.listeners.get(type) ?? []) l({ data: JSON.stringify(data), lastEventId });
    }
    fail(code?: number): void {
      this.readyState = 2;
      for (const l of this.listeners.get('error') ?? []) l({ data: '', lastEventId: '', code });
    }
  }
  return { FakeEventSource, instances };
}

const channelsOf = (url: string): string[] => new URL(url).searchParams.getAll('channel');

describe('createEventStream pipeline', () => {
  it('opens one EventSource per stable channel set, resumes with the last cursor, retries with backoff', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const { FakeEventSource, instances } = fakeEventSource(scheduler);
    type Fake = InstanceType<typeof FakeEventSource>;
    scheduler.run(({ expectObservable }) => {
      const stream = createEventStream('wss://example.com/rt', { EventSource: FakeEventSource, scheduler, debounce: 10, retryDelay: 100 });
      const current = (): Fake => instances[instances.length - 1] as Fake;
      scheduler.schedule(() => current().emit('ready', { channels: ['a', 'b'] }, 'a=0,b=0'), 16);
      scheduler.schedule(() => current().emit('publication', { channel: 'a', seq: 1, data: 1 }, 'a=1,b=0'), 20);
      scheduler.schedule(() => current().emit('publication', { channel: 'b', seq: 1, data: 'x' }, 'a=1,b=1'), 30);
      scheduler.schedule(() => current().fail(), 60);
      scheduler.schedule(() => current().emit('publication', { channel: 'a', seq: 2, data: 2 }, 'a=2'), 170);
      expectObservable(stream.events('a'), '^ 199ms !').toBe('20ms v 149ms w', { v: 1, w: 2 });
      expectObservable(stream.events('b'), '-----^ 34ms !').toBe('30ms x', { x: 'x' });
    });
    expect(instances.map((es) => [es.openedAt, channelsOf(es.url), new URL(es.url).searchParams.get('lastEventId'), es.closed])).toEqual([
      [15, ['a', 'b'], null, true], // a at 0 and b at 5 share one stream, opened after the debounce
      [50, ['a'], 'a=1,b=1', true], // b left at 40: reopened with a alone, resuming from the cursor
      [160, ['a'], 'a=1,b=1', true], // failed at 60: retried 100 ms later; closed when a left at 200
    ]);
    expect(instances[0]?.url.startsWith('https://example.com/rt/sse?')).toBe(true);
  });

  it('errors only the refused channel and gives up on a fatal HTTP status', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const { FakeEventSource, instances } = fakeEventSource(scheduler);
    type Fake = InstanceType<typeof FakeEventSource>;
    scheduler.run(({ expectObservable }) => {
      const stream = createEventStream('http://h/rt', { EventSource: FakeEventSource, scheduler, debounce: 0 });
      const current = (): Fake => instances[instances.length - 1] as Fake;
      scheduler.schedule(() => current().emit('channel-error', { channel: 'no', code: 'RXMUX_ERR_FORBIDDEN', message: 'nope' }), 5);
      scheduler.schedule(() => current().emit('publication', { channel: 'ok', seq: 1, data: true }), 10);
      scheduler.schedule(() => current().fail(401), 20);
      const forbidden: unknown = expect.objectContaining({ code: 'RXMUX_ERR_FORBIDDEN' });
      expectObservable(stream.events('no')).toBe('5ms #', undefined, forbidden);
      expectObservable(stream.events('ok')).toBe('10ms t 9ms #', { t: true }, forbidden);
    });
    expect(instances.map((es) => channelsOf(es.url))).toEqual([['no', 'ok'], ['ok']]);
  });

  it('a reset event becomes a StreamReset with its reason and epoch, and the stream goes on', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const { FakeEventSource, instances } = fakeEventSource(scheduler);
    type Fake = InstanceType<typeof FakeEventSource>;
    scheduler.run(({ expectObservable }) => {
      const stream = createEventStream('http://h/rt', { EventSource: FakeEventSource, scheduler, debounce: 0 });
      const current = (): Fake => instances[instances.length - 1] as Fake;
      scheduler.schedule(() => current().emit('reset', { channel: 'a', seq: 40, reason: 'epoch', epoch: 'e2' }), 5);
      scheduler.schedule(() => current().emit('publication', { channel: 'a', seq: 41, data: 41 }), 10);
      expectObservable(stream.resets$, '^ 50ms !').toBe('5ms r', { r: { channel: 'a', seq: 40, reason: 'epoch', epoch: 'e2' } });
      expectObservable(stream.events('a'), '^ 50ms !').toBe('10ms v', { v: 41 });
    });
  });

  it('routes by channel and keeps a channel for the linger after its last subscriber, then forgets it (a resubscribe within it reuses the stream)', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const { FakeEventSource, instances } = fakeEventSource(scheduler);
    type Fake = InstanceType<typeof FakeEventSource>;
    scheduler.run(({ expectObservable }) => {
      const stream = createEventStream('http://h/rt', { EventSource: FakeEventSource, scheduler, debounce: 0, linger: 30 });
      const current = (): Fake => instances[instances.length - 1] as Fake;
      scheduler.schedule(() => current().emit('publication', { channel: 'a', seq: 1, data: 'a1' }), 5);
      scheduler.schedule(() => current().emit('publication', { channel: 'b', seq: 1, data: 'b1' }), 6);
      scheduler.schedule(() => current().emit('publication', { channel: 'a', seq: 2, data: 'a2' }), 25);
      expectObservable(stream.events('a'), '^ 10ms !').toBe('5ms x', { x: 'a1' });
      expectObservable(stream.events('a'), '20ms ^ 10ms !').toBe('25ms y', { y: 'a2' }); // back within the linger: the same stream
      expectObservable(stream.events('b'), '^ 7ms !').toBe('6ms z', { z: 'b1' });
    });
    // a and b from 0 share one stream; b left at 8 (+30 linger): the set shrank at 38; a left at 31 (+30): closed at 61.
    expect(instances.map((es) => [es.openedAt, channelsOf(es.url), es.closed])).toEqual([
      [0, ['a', 'b'], true],
      [38, ['a'], true],
    ]);
  });
});
