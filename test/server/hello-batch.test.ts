/**
 * PROTOCOL.md 6.1, the hello batch: a client's hello and first subscribes in
 * one WebSocket message are answered by the welcome, the `subscribed` frames
 * and the replay in one WebSocket message, whatever the engine's or
 * authorize's timing; refused credentials run none of it; a client that waits
 * for the welcome before subscribing still works.
 */
import { describe, expect, it } from 'vitest';
import { CloseCode, decode, encodeBatch, encodeText, ErrorCode, type Frame, type HelloFrame, type SubscribeFrame } from '@rxmux/core/protocol';
import { connect, slowHistoryEngine, start } from './helpers.js';
import type { TClient } from './tclient.js';

const hello: HelloFrame = { type: 'hello', version: 1 };

/** Sends the frames as one WebSocket message (a batch). */
function sendBatch(c: TClient, frames: readonly (HelloFrame | SubscribeFrame)[]): void {
  c.send(encodeBatch(frames.map((f) => encodeText(f))));
}

/** The frame types of every WebSocket message received, by message. */
const byMessage = (c: TClient): string[][] => c.raw.map((m) => decode(m, { maxFrameBytes: 1 << 26 }).frames.map((f: Frame) => ('channel' in f ? `${f.type}:${f.channel}` : f.type)));

/** The epoch of `channel` (a throwaway client subscribes once). */
async function epochOf(url: string, channel: string): Promise<string> {
  const c = await connect(url);
  await c.hello();
  c.send({ type: 'subscribe', channel });
  const { epoch } = await c.waitFor('subscribed');
  c.close();
  return epoch ?? '';
}

describe('the hello batch (server)', () => {
  it('answers hello + subscribes with welcome, subscribed and the replay in one WebSocket message (memory engine)', async () => {
    const { server, url } = await start();
    for (let i = 1; i <= 3; i++) await server.publish('b', i);
    const epoch = await epochOf(url, 'b');
    const c = await connect(url);
    sendBatch(c, [hello, { type: 'subscribe', channel: 'a' }, { type: 'subscribe', channel: 'b', since: 1, epoch }]);
    await c.waitForFrame((f) => f.type === 'publication' && f.seq === 3);
    expect(byMessage(c)).toEqual([['welcome', 'subscribed:a', 'subscribed:b', 'publication:b', 'publication:b']]);
  });

  it('holds the welcome for an asynchronous engine and authorize, so it still leaves with the answers', async () => {
    const authorized: string[] = [];
    const { server, url } = await start({
      engine: slowHistoryEngine(2, 'late'), // each step a later turn; all of them well within the hold's bound
      authorize: (_p, channel) => new Promise<boolean>((resolve) => setTimeout(() => resolve(authorized.push(channel) > 0 && channel !== 'secret'), 1)),
    });
    for (let i = 1; i <= 2; i++) await server.publish('b', i);
    const epoch = await epochOf(url, 'b');
    const c = await connect(url);
    sendBatch(c, [hello, { type: 'subscribe', channel: 'a' }, { type: 'subscribe', channel: 'secret' }, { type: 'subscribe', channel: 'b', since: 0, epoch }]);
    await c.waitForFrame((f) => f.type === 'publication' && f.seq === 2);
    expect(byMessage(c)).toEqual([['welcome', 'subscribed:a', 'unsubscribed:secret', 'subscribed:b', 'publication:b', 'publication:b']]);
    // Then live, as usual.
    await server.publish('a', 'live');
    expect(await c.waitForFrame((f) => f.type === 'publication' && f.channel === 'a')).toMatchObject({ data: 'live' });
  });

  it('refused credentials: error UNAUTHORIZED, close 4401, and none of the subscribes behind the hello runs', async () => {
    const asked: string[] = [];
    const { server, url } = await start<string>({
      authenticate: (_req, token) => new Promise<string | null>((resolve) => setTimeout(() => resolve(token === 'good' ? 'ann' : null), 10)),
      authorize: (_p, channel) => {
        asked.push(channel);
        return true;
      },
    });
    const c = await connect(url);
    sendBatch(c, [{ ...hello, token: 'bad' }, { type: 'subscribe', channel: 'a' }, { type: 'subscribe', channel: 'b' }]);
    expect(await c.waitFor('error')).toMatchObject({ code: ErrorCode.Unauthorized });
    expect((await c.waitForClose()).code).toBe(CloseCode.Unauthorized);
    expect(asked).toEqual([]);
    expect(server.metrics().channels).toBe(0);
    expect(await server.presence('a')).toEqual([]);
    // The same batch with good credentials: admitted, then everything in one message.
    const ok = await connect(url);
    sendBatch(ok, [{ ...hello, token: 'good' }, { type: 'subscribe', channel: 'a' }, { type: 'subscribe', channel: 'b' }]);
    await ok.waitForFrame((f) => f.type === 'subscribed' && f.channel === 'b');
    expect(byMessage(ok)).toEqual([['welcome', 'subscribed:a', 'subscribed:b']]);
    expect(asked).toEqual(['a', 'b']);
  });

  it('a client that says hello, waits for the welcome, then subscribes still works (the batch is an addition)', async () => {
    const { server, url } = await start();
    const c = await connect(url);
    c.send(hello);
    await c.waitFor('welcome');
    c.send({ type: 'subscribe', channel: 'a' });
    await c.waitFor('subscribed');
    await server.publish('a', 1);
    expect(await c.waitFor('publication')).toMatchObject({ channel: 'a', data: 1 });
    expect(byMessage(c)).toEqual([['welcome'], ['subscribed:a'], ['publication:a']]);
  });
});
