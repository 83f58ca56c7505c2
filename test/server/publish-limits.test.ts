/**
 * A publication is checked before it takes a sequence number: one that
 * cannot be encoded, or that no client would accept, is refused by
 * `publish()` (issue 9.4, 9.8). A client that accepts less than the server
 * gets a `gap` 'too-big' for a publication larger than it announced, live or
 * replayed, and never loops over it.
 */
import { filter, firstValueFrom } from 'rxjs';
import { WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import { connect as connectClient, type GapNotice, type RxmuxError } from '@rxmux/core';
import { ErrorCode, ProtocolError, RxmuxError as ProtocolRxmuxError } from '@rxmux/core/protocol';
import { until } from '../support/wait.js';
import { connect, hello, start } from './helpers.js';

describe('publish() checks before it numbers', () => {
  it('data that cannot be encoded is refused at once and takes no seq: subscribers see no hole', async () => {
    const { url, server } = await start();
    const { c } = await hello(url);
    c.send({ type: 'subscribe', channel: 'feed' });
    await c.waitFor('subscribed');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => server.publish('feed', cyclic as never)).toThrow(ProtocolError);
    const deep = JSON.parse(`${'['.repeat(20_000)}${']'.repeat(20_000)}`) as never;
    expect(() => server.publish('feed', deep)).toThrow(ProtocolError);
    expect(() => server.publish('feed', Number.NaN)).toThrow(ProtocolError);
    await server.publish('feed', 'ok');
    expect(await c.waitFor('publication')).toEqual({ type: 'publication', channel: 'feed', data: 'ok', seq: 1 });
    await c.expectNoFrame((f) => f.type === 'gap');
  });

  it('a publication larger than maxMessageBytes (chunked transfers) is refused with RXMUX_ERR_FRAME_TOO_BIG (text and binary)', async () => {
    const { server } = await start();
    const big = 'x'.repeat(9 * 1024 * 1024);
    let refusal: unknown;
    try {
      void server.publish('feed', big);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(ProtocolRxmuxError);
    expect((refusal as RxmuxError).code).toBe(ErrorCode.FrameTooBig);
    expect(() => server.publish('feed', new Uint8Array(8 * 1024 * 1024))).toThrow(/maxMessageBytes/);
    await expect(server.publish('feed', new Uint8Array(5 * 1024 * 1024))).resolves.toBeUndefined();
  });

  it('without chunked transfers, a publication larger than one whole frame (1 MiB, or maxFrameBytes if larger) is refused', async () => {
    const { server } = await start({ transfers: false });
    expect(() => server.publish('feed', new Uint8Array(1024 * 1024))).toThrow(/whole frame a client decodes by default/);
    await expect(server.publish('feed', new Uint8Array(100 * 1024))).resolves.toBeUndefined(); // over the server's maxFrameBytes (64 KiB): what it takes, not what it publishes
    const larger = await start({ transfers: false, limits: { maxFrameBytes: 2 * 1024 * 1024 } });
    expect(() => larger.server.publish('feed', new Uint8Array(2 * 1024 * 1024))).toThrow(/maxFrameBytes 2097152/);
    await expect(larger.server.publish('feed', new Uint8Array(1024 * 1024))).resolves.toBeUndefined();
  });
});

describe('a client that accepts less than the server', () => {
  it("gets gap 'too-big' for a publication over its maxFrameBytes, live and replayed; the others get it", async () => {
    const { url, server } = await start();
    const small = await connect(url);
    small.send({ type: 'hello', version: 1, limits: { maxFrameBytes: 64 * 1024, maxBatch: 1024 } });
    const welcome = await small.waitFor('welcome');
    const { c: big } = await hello(url);
    let epoch = '';
    for (const c of [small, big]) {
      c.send({ type: 'subscribe', channel: 'media' });
      epoch = (await c.waitFor('subscribed')).epoch ?? '';
    }
    const large = 'y'.repeat(100 * 1024);
    await server.publish('media', large);
    await server.publish('media', 'after');
    expect(await small.waitForFrame((f) => f.type === 'gap')).toMatchObject({ type: 'gap', channel: 'media', seq: 1, reason: 'too-big', since: 0 });
    expect(await small.waitFor('publication')).toMatchObject({ data: 'after', seq: 2 });
    expect(small.raw.every((m) => (typeof m === 'string' ? m.length : m.byteLength) <= 64 * 1024)).toBe(true);
    expect((await big.waitFor('publication')).data).toBe(large);

    // The same on a resume from before it: replayed as a gap, then the rest.
    small.ws.terminate();
    const again = await connect(url);
    again.send({ type: 'hello', version: 1, session: welcome.session, limits: { maxFrameBytes: 64 * 1024, maxBatch: 1024 } });
    await again.waitFor('welcome');
    again.send({ type: 'subscribe', channel: 'media', since: 0, epoch });
    expect(await again.waitFor('subscribed')).toMatchObject({ channel: 'media', seq: 2 });
    expect(await again.waitFor('gap')).toMatchObject({ seq: 1, reason: 'too-big' });
    expect(await again.waitFor('publication')).toMatchObject({ data: 'after', seq: 2 });
  });

  it('through the real client: no reconnect loop, the frame is reported on errors$ and gaps$, delivery goes on', async () => {
    const { url, server } = await start();
    const conn = connectClient(url, { WebSocket, shared: false, maxFrameBytes: 64 * 1024, transfers: { maxMessageBytes: 64 * 1024 } });
    try {
      const values: unknown[] = [];
      const gaps: GapNotice[] = [];
      const errors: RxmuxError[] = [];
      const ch = conn.channel('media');
      ch.gaps$.subscribe((g) => gaps.push(g));
      conn.errors$.subscribe((e) => errors.push(e));
      const statuses: string[] = [];
      conn.status$.subscribe((s) => statuses.push(s));
      ch.subscribe((v) => values.push(v));
      await firstValueFrom(ch.state$.pipe(filter((s) => s === 'joined')));
      await server.publish('media', 'z'.repeat(200 * 1024));
      await server.publish('media', 'small');
      expect(await until(() => values.length === 1, 3_000)).toBe(true);
      expect(values).toEqual(['small']);
      expect(gaps.map((g) => [g.reason, g.seq])).toEqual([['too-big', 1]]);
      expect(errors.map((e) => e.code)).toEqual([ErrorCode.FrameTooBig]);
      expect(statuses).toEqual(['closed', 'connecting', 'open']);
    } finally {
      conn.close();
    }
  });
});
