/**
 * Hostile clients against replay and slow reading (issue 14, item 3): a
 * long-poll answer is capped in bytes (the client pages on from its
 * cursor), an SSE replay is written in pieces under the slow-consumer rule
 * and a write timeout, replays to one address are paid from its replay
 * budget (bytes per second), and slow WebSocket readers are bounded per
 * socket, by a write timeout and in total.
 */
import { connect as tcp, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Subscription } from 'rxjs';
import { decodeCursor, type PollEvent } from '@rxmux/core/protocol';
import { createEventStream } from '../../packages/core/src/sse/index.js';
import { sleep, until } from '../support/wait.js';
import { ADDRESS_HEADER, attacker, stage, type Stage } from './stage.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const sockets: Socket[] = [];
const subscriptions: Subscription[] = [];

afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of subscriptions.splice(0)) s.unsubscribe();
});

/** Fills `channels` channels with `count` publications of `size` characters each. */
async function fill(s: Stage, channels: number, count: number, size: number): Promise<string[]> {
  const names = Array.from({ length: channels }, (_, c) => `history-${c}`);
  const blob = 'h'.repeat(size);
  for (let i = 1; i <= count; i++) for (const name of names) await s.server.publish(name, { i, blob });
  return names;
}

/** Lets the event loop turn once (the server writes what one turn queued). */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A stale cursor for `names`: seq 0, no epoch: the whole history is owed (after a reset). */
const stale = (names: readonly string[]): string => names.map((n) => `${n}=0`).join(',');

/** Reads an SSE stream of `channels` from a stale cursor until it carried `count` publications (or ended); returns its text. */
async function readSse(port: number, channels: readonly string[], count: number, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/rt/sse?channels=${channels.join(',')}`, { headers: { 'last-event-id': stale(channels), ...headers } });
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  while ((text.match(/event: publication/g)?.length ?? 0) < count) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
  }
  await reader.cancel();
  return text;
}

/** A raw HTTP GET that never reads its response: the attacker of the slow-reader attacks. */
function neverReads(port: number, path: string, headers: Record<string, string>): Socket {
  const socket = tcp(port, '127.0.0.1');
  sockets.push(socket);
  socket.on('error', () => undefined);
  const lines = Object.entries({ host: `127.0.0.1:${port}`, [ADDRESS_HEADER]: 'evil', ...headers }).map(([k, v]) => `${k}: ${v}`);
  socket.write(`GET ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`);
  socket.pause();
  return socket;
}

describe('hostile: replay under backpressure', () => {
  it('a poll with a stale cursor on a full history answers at most pollMaxBytes; paging on from each cursor yields every publication once, in order', async () => {
    const s = await stage({ limits: { pollMaxBytes: 128 * KiB } });
    const names = await fill(s, 10, 100, 8 * KiB); // 8 MiB of history
    const seen = new Map<string, number[]>(names.map((n) => [n, []]));
    let cursor = stale(names);
    let polls = 0;
    let largest = 0;
    while ([...seen.values()].some((seqs) => seqs.length < 100) && polls < 200) {
      const res = await fetch(`http://127.0.0.1:${s.port}/rt/poll?channels=${names.join(',')}&cursor=${encodeURIComponent(cursor)}`, { headers: { [ADDRESS_HEADER]: 'evil' } });
      const body = await res.text();
      largest = Math.max(largest, body.length);
      const answer = JSON.parse(body) as { cursor: string; events: PollEvent[] };
      for (const event of answer.events) if (event.type === 'publication') seen.get(event.channel)?.push(event.seq);
      // the cursor names the last event the answer carried, not one it left out
      const last = answer.events.filter((e) => e.type === 'publication').at(-1);
      if (last !== undefined) expect(decodeCursor(answer.cursor, 100).get(last.channel)?.seq).toBe(last.seq);
      cursor = answer.cursor;
      polls++;
    }
    expect(largest).toBeLessThanOrEqual(128 * KiB + 9 * KiB); // the cap, or one event over it
    expect(polls).toBeGreaterThan(50); // 8 MiB in 128 KiB pages
    for (const seqs of seen.values()) expect(seqs).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    await s.feed(3);
    await s.nothingLost();
  }, 30_000);

  it("the client's long-poll loop pages through capped answers: a burst larger than the cap arrives whole, in order", async () => {
    const s = await stage({ limits: { pollMaxBytes: 64 * KiB } });
    const stream = createEventStream(`ws://127.0.0.1:${s.port}/rt`, { forceLongPoll: true, debounce: 5 });
    const got: number[] = [];
    subscriptions.push(stream.events<{ n: number }>('burst').subscribe((v) => got.push(v.n)));
    expect(await until(() => s.server.metrics().polls === 1, 5000)).toBe(true); // held
    const blob = 'b'.repeat(10 * KiB);
    await Promise.all(Array.from({ length: 60 }, (_, n) => s.server.publish('burst', { n, blob }))); // 600 KiB in one turn
    expect(await until(() => got.length === 60, 10_000)).toBe(true);
    expect(got).toEqual(Array.from({ length: 60 }, (_, n) => n));
    await s.nothingLost();
  });

  it('an SSE stream that never reads its replay holds a piece of it at most, and is cut by the write timeout; a reading one gets all of it', async () => {
    const s = await stage({ limits: { writeTimeoutMs: 3000 } });
    const names = await fill(s, 20, 100, 8 * KiB); // 16 MiB of history: more than the kernel's buffers
    neverReads(s.port, `/rt/sse?channels=${names.join(',')}`, { 'last-event-id': stale(names) });
    expect(await until(() => s.server.metrics().streams === 1, 5000)).toBe(true);
    let highest = 0;
    const cut = await until(() => {
      highest = Math.max(highest, s.server.metrics().bufferedBytes);
      return s.server.metrics().slowConsumers === 1;
    }, 15_000);
    expect(cut).toBe(true);
    expect(highest).toBeLessThan(256 * KiB); // the response's high-water mark and one piece, never the 16 MiB replay
    expect(await until(() => s.server.metrics().streams === 0, 5000)).toBe(true);
    // A client that reads gets the whole replay, piece by piece.
    const text = await readSse(s.port, names.slice(0, 5), 500);
    expect(text.match(/event: publication/g)?.length).toBe(500);
    await s.feed(3);
    await s.nothingLost();
  }, 30_000);

  it('a stale-cursor poll loop is paid from its address\'s replay budget: at most the burst plus replayBytesPerSecond for the time it took, every publication once, in order; another address has its own budget', async () => {
    const rate = 256 * KiB;
    const s = await stage({ limits: { replayBytesPerSecond: rate, pollMaxBytes: 64 * KiB } });
    const names = await fill(s, 4, 25, 8 * KiB); // 800 KiB of history: three times the budget's burst
    const poll = async (address: string, cursor: string): Promise<{ cursor: string; events: PollEvent[] }> => {
      const res = await fetch(`http://127.0.0.1:${s.port}/rt/poll?channels=${names.join(',')}&cursor=${encodeURIComponent(cursor)}`, { headers: { [ADDRESS_HEADER]: address } });
      return JSON.parse(await res.text()) as { cursor: string; events: PollEvent[] };
    };
    const seen = new Map<string, number[]>(names.map((n) => [n, []]));
    let cursor = stale(names);
    let replayed = 0;
    let polls = 0;
    const t0 = Date.now();
    while ([...seen.values()].some((seqs) => seqs.length < 25) && polls < 200) {
      const answer = await poll('evil', cursor);
      for (const event of answer.events) {
        if (event.type !== 'publication') continue;
        seen.get(event.channel)?.push(event.seq);
        replayed += JSON.stringify(event).length; // what the budget was charged for it
      }
      cursor = answer.cursor;
      polls++;
    }
    const seconds = (Date.now() - t0) / 1000;
    for (const seqs of seen.values()) expect(seqs).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(replayed).toBeGreaterThan(3 * rate);
    expect(replayed).toBeLessThanOrEqual(rate + rate * seconds); // the burst, and what the time taken earned
    expect(s.server.metrics().replayWaits).toBeGreaterThan(0); // the loop was held back, however fast or slow this machine is
    // The same stale cursor again, its budget spent: the resets before the replay cost nothing, yet the answer is
    // held until it carries a replayed publication (a poll loop cannot spin on free answers).
    for (let i = 0; i < 3; i++) {
      const again = await poll('evil', stale(names));
      expect(again.events[0]?.type).toBe('reset');
      expect(again.events.some((e) => e.type === 'publication')).toBe(true);
    }
    const waits = s.server.metrics().replayWaits;
    // Another address starts with a full budget: answered at once, no wait.
    const other = await poll('good', stale(names));
    expect(other.events.filter((e) => e.type === 'publication').length).toBeGreaterThan(0);
    expect(s.server.metrics().replayWaits).toBe(waits);
    await s.feed(3);
    await s.nothingLost();
  }, 30_000);

  it('an SSE replay is paid from the same budget: a reader as fast as it likes gets at most the burst plus replayBytesPerSecond for the time it read, and all of it in the end', async () => {
    const rate = 256 * KiB;
    const s = await stage({ limits: { replayBytesPerSecond: rate } });
    const names = await fill(s, 4, 25, 8 * KiB);
    const t0 = Date.now();
    const text = await readSse(s.port, names, 100, { [ADDRESS_HEADER]: 'evil' });
    const seconds = (Date.now() - t0) / 1000;
    expect(text.match(/event: publication/g)?.length).toBe(100);
    const data = [...text.matchAll(/event: publication\ndata: (.*)\n/g)].reduce((n, m) => n + (m[1]?.length ?? 0), 0);
    expect(data).toBeGreaterThan(3 * rate);
    expect(data).toBeLessThanOrEqual(rate + rate * seconds);
    expect(s.server.metrics().replayWaits).toBeGreaterThan(0);
    await s.feed(3);
    await s.nothingLost();
  }, 30_000);

  it('polls that never read their answers hold at most pollMaxBytes each, and an answer the client does not take is cut by the write timeout', async () => {
    const s = await stage({ limits: { writeTimeoutMs: 400, slowConsumerBytes: 64 * MiB } });
    const names = await fill(s, 20, 100, 8 * KiB); // 16 MiB of history: before the cap, one answer carried all of it
    const query = (cap: string): string => `/rt/poll?channels=${names.join(',')}&cursor=${encodeURIComponent(stale(names))}${cap}`;
    for (let i = 0; i < 8; i++) neverReads(s.port, query(''), {});
    let highest = 0;
    expect(await until(() => {
      highest = Math.max(highest, s.server.metrics().bufferedBytes);
      return s.server.metrics().polls === 0 && s.server.metrics().backlogged === 0;
    }, 10_000)).toBe(true);
    expect(highest).toBeLessThanOrEqual(8 * (1 * MiB + 9 * KiB)); // 1 MiB answers: the kernel takes most of them
    await s.server.close(); // a server whose answers are larger than what the kernel takes: the timeout cuts them
    const big = await stage({ limits: { writeTimeoutMs: 400, slowConsumerBytes: 64 * MiB, pollMaxBytes: 32 * MiB } });
    const more = await fill(big, 20, 100, 8 * KiB);
    neverReads(big.port, `/rt/poll?channels=${more.join(',')}&cursor=${encodeURIComponent(stale(more))}`, {});
    expect(await until(() => big.server.metrics().backlogged === 1, 10_000)).toBe(true);
    expect(await until(() => big.server.metrics().slowConsumers === 1 && big.server.metrics().backlogged === 0, 10_000)).toBe(true);
    await big.feed(3);
    await big.nothingLost();
  }, 30_000);
});

describe('hostile: slow WebSocket readers', () => {
  it('subscribers that stop reading are cut once together they hold more than bufferedTotalBytes, largest first', async () => {
    const reasons: string[] = [];
    const s = await stage({
      limits: { bufferedTotalBytes: 4 * MiB, slowConsumerBytes: 64 * MiB, ratePerSecond: 1e6, rateBurst: 1e6 },
      hooks: { onClose: (_info, _code, reason) => void reasons.push(reason) },
    });
    const readers = await Promise.all(Array.from({ length: 8 }, () => attacker(s.port)));
    for (const c of readers) {
      c.send({ type: 'subscribe', channel: 'firehose' });
      await c.waitFor('subscribed');
      c.ws.pause(); // never reads again
    }
    const chunk = 'f'.repeat(256 * KiB);
    let published = 0;
    // 2 MiB for all eight per publication, a look every 250 ms: far from slowConsumerBytes (64 MiB) between two looks.
    while (s.server.metrics().slowConsumers < 8 && published < 400) {
      await s.server.publish('firehose', chunk);
      await sleep(30);
      if (++published % 10 === 0) await s.feed(1);
    }
    expect(s.server.metrics().slowConsumers).toBe(8);
    expect(await until(() => reasons.length === 8, 5000)).toBe(true); // onClose follows the socket's close event
    expect(new Set(reasons)).toEqual(new Set(['server buffers full']));
    expect(await until(() => s.server.metrics().backlogged === 0, 5000)).toBe(true);
    await s.nothingLost();
  }, 30_000);

  it('a subscriber that stops reading is cut by the write timeout even when it holds little', async () => {
    const closes: string[] = [];
    const s = await stage({ limits: { writeTimeoutMs: 300 }, hooks: { onClose: (_info, _code, reason) => void closes.push(reason) } });
    const sleeper = await attacker(s.port);
    sleeper.send({ type: 'subscribe', channel: 'news' });
    await sleeper.waitFor('subscribed');
    sleeper.ws.pause();
    const chunk = 'n'.repeat(64 * KiB);
    // Until the kernel's buffers are full and the server holds some (each publication written in its own turn).
    for (let i = 0; i < 400 && s.server.metrics().backlogged === 0; i++) {
      await s.server.publish('news', chunk);
      await turn();
    }
    expect(s.server.metrics().backlogged).toBe(1);
    expect(s.server.metrics().bufferedBytes).toBeLessThan(4 * MiB); // under slowConsumerBytes: only the timeout can cut it
    expect(await until(() => closes.includes('write timeout'), 10_000)).toBe(true);
    expect(s.server.metrics()).toMatchObject({ bufferedBytes: 0, backlogged: 0 });
    await s.feed(3);
    await s.nothingLost();
  });
});
