import { EventSource } from 'eventsource';
import { firstValueFrom, take, toArray, type Subscription } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '@rxmux/core/protocol';
import { createEventStream, type EventSourceConstructor } from '../../packages/core/src/sse/index.js';
import { sleep, start } from './helpers.js';

const subscriptions: Subscription[] = [];
afterEach(() => {
  for (const s of subscriptions.splice(0)) s.unsubscribe();
});

const ES = EventSource as unknown as EventSourceConstructor;

async function until(check: () => boolean, what: string, timeout = 3000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe.each([
  ['sse', { EventSource: ES }],
  ['poll', { forceLongPoll: true }],
  ['poll', { EventSource: undefined as unknown as EventSourceConstructor }],
] as const)('createEventStream over %s', (transport, options) => {
  it('carries many channels on one stream, reopening when the channel set changes', async () => {
    const { server, http } = await start({ limits: { pollTimeoutMs: 2000 } });
    const stream = createEventStream(http.replace('http:', 'ws:'), { ...options, debounce: 5 });
    expect(stream.transport).toBe(transport);
    const a: unknown[] = [];
    const b: unknown[] = [];
    subscriptions.push(stream.events('a').subscribe((v) => a.push(v)));
    subscriptions.push(stream.events('a').subscribe(() => undefined)); // shared, not a second stream
    subscriptions.push(stream.events('b').subscribe((v) => b.push(v)));
    const metric = transport === 'sse' ? 'streams' : 'polls';
    await until(() => server.metrics()[metric] === 1 && server.metrics().channels === 2, 'one stream for a and b');
    await server.publish('a', { n: 1 });
    await server.publish('b', new Uint8Array([9, 8]));
    await until(() => a.length === 1 && b.length === 1, 'a and b');
    expect(a).toEqual([{ n: 1 }]);
    expect(Array.from(b[0] as Uint8Array)).toEqual([9, 8]);

    const c = firstValueFrom(stream.events<string>('c').pipe(take(2), toArray()));
    await until(() => server.metrics().channels === 3, 'the stream to reopen with c');
    await server.publish('c', 'c1');
    await server.publish('a', { n: 2 });
    await server.publish('c', 'c2');
    expect(await c).toEqual(['c1', 'c2']);
    await until(() => a.length === 2, 'a after the switch');
    expect(a).toEqual([{ n: 1 }, { n: 2 }]); // nothing lost or repeated across the reopen
    for (const s of subscriptions.splice(0)) s.unsubscribe();
    await until(() => server.metrics().channels === 0 && server.metrics()[metric] === 0, 'the stream to close');
  });

  it('errors only the refused channel', async () => {
    const { server, http } = await start({ authorize: (_p, channel) => channel !== 'secret', limits: { pollTimeoutMs: 2000 } });
    const stream = createEventStream(http, { ...options, debounce: 5 });
    const got: unknown[] = [];
    subscriptions.push(stream.events('open').subscribe((v) => got.push(v)));
    const refused = firstValueFrom(stream.events('secret')).catch((e: unknown) => e);
    expect(await refused).toMatchObject({ code: ErrorCode.Forbidden });
    await until(() => server.metrics().channels === 1, 'the stream without secret');
    await server.publish('open', 1);
    await until(() => got.length === 1, 'open to carry on');
  });
});

it('fails every channel once on 401 instead of retrying forever', async () => {
  const { http } = await start({ authenticate: () => null });
  const stream = createEventStream(http, { forceLongPoll: true, debounce: 1, retryDelay: 10 });
  expect(await firstValueFrom(stream.events('a')).catch((e: unknown) => e)).toMatchObject({ code: ErrorCode.Forbidden });
});
