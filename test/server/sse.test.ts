import { createServer as createHttpServer, get, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { EventSource } from 'eventsource';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '@rxmux/core/protocol';
import { createServer, type PollEvent, type RxmuxServer } from '@rxmux/server';
import { sleep, start } from './helpers.js';

interface Received {
  readonly type: string;
  readonly id: string;
  readonly data: Record<string, unknown>;
}

const sources: EventSource[] = [];
afterEach(() => {
  for (const s of sources.splice(0)) s.close();
});

/** An EventSource that records ready / publication / reset / channel-error events. */
function open(url: string, init: { headers?: Record<string, string> } = {}): { es: EventSource; events: Received[]; next(type: string, timeout?: number): Promise<Received> } {
  const es = new EventSource(url, {
    fetch: (input, options) => fetch(input, { ...options, headers: { ...options.headers, ...init.headers } }),
  });
  sources.push(es);
  const events: Received[] = [];
  let taken = 0;
  for (const type of ['ready', 'publication', 'reset', 'channel-error']) {
    es.addEventListener(type, (e: MessageEvent<string>) => events.push({ type, id: e.lastEventId, data: JSON.parse(e.data) as Record<string, unknown> }));
  }
  return {
    es,
    events,
    async next(type, timeout = 3000) {
      const deadline = Date.now() + timeout;
      while (Date.now() < deadline) {
        const i = events.findIndex((e, j) => j >= taken && e.type === type);
        if (i !== -1) {
          taken = i + 1;
          return events[i] as Received;
        }
        await sleep(5);
      }
      throw new Error(`no ${type} event within ${timeout} ms; got ${JSON.stringify(events)}`);
    },
  };
}

/** Reads the raw SSE text of a stream until `until` matches it (bounded). */
function rawStream(url: string, headers: Record<string, string>, until: RegExp): Promise<{ status: number; text: string; res: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { headers }, (res) => {
      let text = '';
      const timer = setTimeout(() => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, text, res });
      }, 3000);
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        if (until.test(text)) {
          clearTimeout(timer);
          req.destroy();
          resolve({ status: res.statusCode ?? 0, text, res });
        }
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, text, res });
      });
    });
    req.on('error', reject);
  });
}

/** A cursor without its history epochs (`a=5.Xk3…` → `a=5`), after checking every part has one. */
function seqs(cursor: string): string {
  for (const part of cursor.split(',')) expect(part).toMatch(/^[^=]+=\d+\.[A-Za-z0-9_-]+$/);
  return cursor.replace(/\.[A-Za-z0-9_-]+/g, '');
}

/** The epoch of a one-channel cursor. */
function seqsEpoch(cursor: string): string {
  seqs(cursor);
  return cursor.slice(cursor.indexOf('.') + 1);
}

describe('SSE', () => {
  it('carries many channels on one stream with id:, retry:, event: and data:', async () => {
    const { server, http } = await start({ limits: { sseRetryMs: 1500 } });
    const s = open(`${http}/sse?channels=a,b`);
    const ready = await s.next('ready');
    expect(ready.data.channels).toEqual(['a', 'b']);
    expect(seqs(ready.id)).toBe('a=0,b=0');
    await server.publish('a', { n: 1 });
    await server.publish('b', 'two');
    await server.publish('zzz', 'not subscribed');
    await server.publish('a', new Uint8Array([1, 2, 255]));
    const got = [await s.next('publication'), await s.next('publication'), await s.next('publication')];
    expect(got.map((e) => e.data)).toEqual([
      { channel: 'a', seq: 1, data: { n: 1 } },
      { channel: 'b', seq: 1, data: 'two' },
      { channel: 'a', seq: 2, bytes: Buffer.from([1, 2, 255]).toString('base64') },
    ]);
    expect(got.map((e) => seqs(e.id))).toEqual(['a=1,b=0', 'a=1,b=1', 'a=2,b=1']);
    expect(server.metrics().streams).toBe(1);
    expect((await server.presence('a')).map((m) => m.transport)).toEqual(['sse']);

    const raw = await rawStream(`${http}/sse?channel=a`, {}, /event: ready[\s\S]*\n\n/);
    expect(raw.status).toBe(200);
    expect(raw.res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(raw.text).toMatch(/^retry: 1500\nid: a=2\.[A-Za-z0-9_-]+\nevent: ready\ndata: \{.*\}\n\n/);
  });

  it('sends comment heartbeats', async () => {
    const { http } = await start({ heartbeat: { interval: 50, timeout: 200 } });
    const raw = await rawStream(`${http}/sse?channel=a`, {}, /\n: ping\n\n/);
    expect(raw.text).toContain('\n\n: ping\n\n');
  });

  it('resumes from Last-Event-ID after the connection drops: nothing lost, nothing twice', async () => {
    const http = createHttpServer();
    const sockets = new Set<Socket>();
    http.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    const server: RxmuxServer = createServer({ server: http, limits: { sseRetryMs: 50 } });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    try {
      const port = server.port;
      const s = open(`http://127.0.0.1:${port}/rt/sse?channel=score&channel=other`);
      await s.next('ready');
      for (let i = 1; i <= 3; i++) await server.publish('score', i);
      await s.next('publication');
      await s.next('publication');
      const third = await s.next('publication');
      expect(seqs(third.id)).toBe('score=3,other=0');
      for (const socket of sockets) socket.destroy(); // the network drops
      for (let i = 4; i <= 6; i++) await server.publish('score', i);
      await server.publish('other', 'x');
      const resumed = await s.next('ready');
      expect(resumed.id).toBe(third.id);
      const rest = [await s.next('publication'), await s.next('publication'), await s.next('publication'), await s.next('publication')];
      expect(rest.map((e) => e.data.data)).toEqual([4, 5, 6, 'x']);
      await server.publish('score', 7);
      expect((await s.next('publication')).data).toEqual({ channel: 'score', seq: 7, data: 7 });
      await sleep(50);
      expect(s.events.filter((e) => e.type === 'publication').map((e) => e.data.data)).toEqual([1, 2, 3, 4, 5, 6, 'x', 7]);
    } finally {
      await server.close();
      await new Promise((resolve) => http.close(resolve));
    }
  });

  it('sends a reset when the history cannot cover the gap, then what it still has', async () => {
    const { server, http } = await start({ limits: { historySize: 3 } });
    for (let i = 1; i <= 10; i++) await server.publish('feed', i);
    const first = open(`${http}/sse?channel=feed`);
    const epoch = seqsEpoch((await first.next('ready')).id);
    first.es.close();
    const s = open(`${http}/sse?channel=feed`, { headers: { 'last-event-id': `feed=2.${epoch}` } });
    expect((await s.next('ready')).id).toBe(`feed=2.${epoch}`);
    expect((await s.next('reset')).data).toEqual({ channel: 'feed', seq: 7, epoch, reason: 'history' });
    const replay = [await s.next('publication'), await s.next('publication'), await s.next('publication')];
    expect(replay.map((e) => e.data.seq)).toEqual([8, 9, 10]);
  });

  it('never resumes a cursor of another epoch (a restarted server) or without one: reset, then the new epoch from its start', async () => {
    const { server, http } = await start();
    for (let i = 1; i <= 3; i++) await server.publish('feed', i);
    for (const stale of ['feed=2.oldEpoch0001', 'feed=2']) {
      const s = open(`${http}/sse?channel=feed`, { headers: { 'last-event-id': stale } });
      await s.next('ready');
      expect((await s.next('reset')).data).toMatchObject({ channel: 'feed', seq: 0, reason: 'epoch' });
      const replay = [await s.next('publication'), await s.next('publication'), await s.next('publication')];
      expect(replay.map((e) => e.data.seq)).toEqual([1, 2, 3]);
      s.es.close();
    }
  });

  it('drops a slow SSE reader and tells the app; a fast reader gets everything', async () => {
    const dropped: string[] = [];
    const { server, http } = await start({
      limits: { slowConsumerBytes: 256 * 1024 },
      hooks: { onSlowConsumer: (info) => void dropped.push(info.transport) },
    });
    const fast = open(`${http}/sse?channel=firehose`);
    await fast.next('ready');
    let slow: IncomingMessage | undefined;
    const slowEnded = new Promise<void>((resolve) => {
      const req = get(`${http}/sse?channel=firehose`, (res) => {
        slow = res;
        res.once('data', () => res.pause()); // read the headers and ready event, then stop reading
        res.on('close', () => resolve());
        res.on('error', () => resolve());
      });
      req.on('error', () => resolve());
    });
    for (let i = 0; i < 50 && server.metrics().streams < 2; i++) await sleep(10);
    const chunk = 'q'.repeat(64 * 1024);
    let sent = 0;
    for (; sent < 1000 && dropped.length === 0; sent++) {
      await server.publish('firehose', chunk);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(dropped).toEqual(['sse']);
    slow?.resume(); // drain what the kernel buffered: the response then ends (destroyed by the server)
    await slowEnded;
    for (let i = 0; i < sent; i++) await fast.next('publication', 10_000);
    expect(server.metrics().streams).toBe(1);
  }, 40_000);

  it('errors only the forbidden or invalid channel; refuses 401 and foreign origins with 403', async () => {
    const { server, http } = await start<string>({
      authenticate: (req) => (req.headers.authorization === 'Bearer ok' ? 'ann' : null),
      authorize: (_user, channel) => channel !== 'secret',
      allowedOrigins: ['https://good.example'],
    });
    const s = open(`${http}/sse?channel=secret&channel=open`, { headers: { authorization: 'Bearer ok', origin: 'https://good.example' } });
    expect((await s.next('ready')).data.channels).toEqual(['open']);
    expect((await s.next('channel-error')).data).toMatchObject({ channel: 'secret', code: ErrorCode.Forbidden });
    await server.publish('secret', 1);
    await server.publish('open', 2);
    expect((await s.next('publication')).data).toMatchObject({ channel: 'open', data: 2 });
    expect(s.events.some((e) => e.data.channel === 'secret' && e.type === 'publication')).toBe(false);
    const noAuth = await fetch(`${http}/sse?channel=open`);
    expect(noAuth.status).toBe(401);
    await noAuth.body?.cancel();
    const evil = await fetch(`${http}/sse?channel=open`, { headers: { authorization: 'Bearer ok', origin: 'https://evil.example' } });
    expect(evil.status).toBe(403);
    await evil.body?.cancel();
    const none = await fetch(`${http}/sse`, { headers: { authorization: 'Bearer ok' } });
    expect(none.status).toBe(400);
    await none.body?.cancel();
  });
});

interface PollAnswer {
  readonly cursor: string;
  readonly events: PollEvent[];
}

async function poll(url: string): Promise<PollAnswer> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return (await res.json()) as PollAnswer;
}

describe('long-poll', () => {
  it('holds the request until something is published, then answers with a cursor', async () => {
    const { server, http } = await start();
    const pending = poll(`${http}/poll?channel=a&channel=b`);
    for (let i = 0; i < 50 && server.metrics().polls === 0; i++) await sleep(10);
    expect(server.metrics().polls).toBe(1);
    await server.publish('a', 'first');
    await server.publish('b', 'second');
    const answer = await pending;
    expect(answer.events).toEqual([
      { type: 'publication', channel: 'a', seq: 1, data: 'first' },
      { type: 'publication', channel: 'b', seq: 1, data: 'second' },
    ]);
    expect(seqs(answer.cursor)).toBe('a=1,b=1');
    expect(server.metrics().polls).toBe(0);
  });

  it('catches up from the cursor at once, with a reset when history cannot cover the gap', async () => {
    const { server, http } = await start({ limits: { historySize: 2 } });
    for (let i = 1; i <= 3; i++) await server.publish('a', i);
    const epoch = seqsEpoch((await poll(`${http}/poll?channel=a&cursor=${encodeURIComponent('a=3')}`)).cursor);
    const caughtUp = await poll(`${http}/poll?channel=a&cursor=${encodeURIComponent(`a=2.${epoch}`)}`);
    expect(caughtUp).toEqual({ cursor: `a=3.${epoch}`, events: [{ type: 'publication', channel: 'a', seq: 3, data: 3 }] });
    for (let i = 4; i <= 6; i++) await server.publish('a', i);
    const gap = await poll(`${http}/poll?channel=a&cursor=${encodeURIComponent(caughtUp.cursor)}`);
    expect(gap.events.map((e) => (e.type === 'publication' ? e.seq : e.type))).toEqual(['reset', 5, 6]);
    expect(gap.cursor).toBe(`a=6.${epoch}`);
  });

  it('answers an empty batch after pollTimeoutMs and reports refused channels at once', async () => {
    const { http } = await start({ limits: { pollTimeoutMs: 150 }, authorize: (_p, channel) => channel !== 'no' });
    const quiet = await poll(`${http}/poll?channel=a`);
    expect(seqs(quiet.cursor)).toBe('a=0');
    expect(quiet.events).toEqual([]);
    const refused = await poll(`${http}/poll?channel=a&channel=no`);
    expect(refused.events).toEqual([expect.objectContaining({ type: 'channel-error', channel: 'no', code: ErrorCode.Forbidden })]);
    expect(seqs(refused.cursor)).toBe('a=0');
  });
});
