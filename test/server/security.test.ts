import { describe, expect, it } from 'vitest';
import { ErrorCode, type Frame } from '@rxmux/core/protocol';
import { extractToken } from '@rxmux/server';
import { connect, start } from './helpers.js';

const users: Record<string, string> = { 'token-ann': 'ann', 'token-bob': 'bob' };

describe('security at the door', () => {
  it('rejects a failed authenticate with 401 before any WebSocket exists', async () => {
    const { server, url } = await start<string>({ authenticate: (req) => users[extractToken(req) ?? ''] ?? null });
    await expect(connect(url)).rejects.toMatchObject({ status: 401 });
    await expect(connect(url, { headers: { authorization: 'Bearer nope' } })).rejects.toMatchObject({ status: 401 });
    expect(server.metrics()).toMatchObject({ connections: 0, rejected: 2 });
  });

  it('accepts a token from the Authorization header, a token subprotocol or a cookie', async () => {
    const principals: string[] = [];
    const { server, url } = await start<string>({
      authenticate: (req) => Promise.resolve(users[extractToken(req) ?? ''] ?? null),
      hooks: { onConnect: (info) => void principals.push(info.principal) },
    });
    const viaHeader = await connect(url, { headers: { authorization: 'Bearer token-ann' } });
    const viaProtocol = await connect(url, { protocols: ['rxmux.v1', 'rxmux.token.token-bob'] });
    const viaCookie = await connect(url, { headers: { cookie: 'theme=dark; rxmux_token=token-ann' } });
    expect(viaProtocol.ws.protocol).toBe('rxmux.v1');
    for (const c of [viaHeader, viaProtocol, viaCookie]) await c.hello();
    expect(principals).toEqual(['ann', 'bob', 'ann']);
    expect(server.metrics().connections).toBe(3);
  });

  it('rejects a foreign Origin with 403 and lets allowed or absent origins in', async () => {
    const { url } = await start({ allowedOrigins: ['https://good.example'] });
    await expect(connect(url, { origin: 'https://evil.example' })).rejects.toMatchObject({ status: 403 });
    const good = await connect(url, { origin: 'https://good.example' });
    await good.hello();
    const cli = await connect(url); // no Origin header: not a browser
    await cli.hello();
  });

  it('closes 4406 when the client does not offer rxmux.v1', async () => {
    const { url, client } = await start();
    const bare = await connect(url, { protocols: [] });
    expect(await bare.waitForClose()).toMatchObject({ code: 4406 });
    await client(); // the server carries on
  });

  it('errors only the unauthorized channel, for subscribe and publish alike', async () => {
    const { server, client } = await start<string>({
      authenticate: (req) => users[extractToken(req) ?? ''] ?? null,
      authorize: (user, channel, action) => {
        if (channel === 'secret') return Promise.resolve(user === 'bob');
        if (channel === 'announcements') return Promise.resolve(action === 'subscribe');
        return Promise.resolve(true);
      },
    });
    server.handle('*', { onMessage: (ctx, data) => ctx.publish(data), onRequest: () => 'ok' });
    const ann = await client({ headers: { authorization: 'Bearer token-ann' } });
    ann.send({ type: 'subscribe', channel: 'secret' });
    ann.send({ type: 'subscribe', channel: 'public' });
    ann.send({ type: 'subscribe', channel: 'announcements' });
    expect(await ann.waitFor('error')).toMatchObject({ code: ErrorCode.Forbidden, channel: 'secret' });
    expect(await ann.waitFor('subscribed')).toMatchObject({ channel: 'public' });
    expect(await ann.waitFor('subscribed')).toMatchObject({ channel: 'announcements' });
    ann.send({ type: 'message', channel: 'announcements', data: 'spam', id: 1 });
    expect(await ann.waitFor('error')).toMatchObject({ code: ErrorCode.Forbidden, channel: 'announcements' });
    ann.send({ type: 'request', channel: 'announcements', id: 2, data: null });
    expect(await ann.waitFor('request-error')).toMatchObject({ id: 2, code: ErrorCode.Forbidden });
    ann.send({ type: 'message', channel: 'public', data: 'hello', id: 3 });
    expect(await ann.waitFor('ack')).toEqual({ type: 'ack', id: 3 });
    expect(await ann.waitForFrame((f: Frame) => f.type === 'publication')).toMatchObject({ channel: 'public', data: 'hello' });
    void server.publish('secret', 'classified');
    void server.publish('announcements', 'news');
    expect(await ann.waitForFrame((f: Frame) => f.type === 'publication')).toMatchObject({ channel: 'announcements' });
    await ann.expectNoFrame((f) => f.type === 'publication' && f.channel === 'secret');
    const bob = await client({ headers: { authorization: 'Bearer token-bob' } });
    bob.send({ type: 'subscribe', channel: 'secret' });
    expect(await bob.waitFor('subscribed')).toMatchObject({ channel: 'secret' });
  });

  it('keeps frame order behind an asynchronous authorize', async () => {
    const { server, client } = await start({
      authorize: (_p, channel) => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), channel === 'slow' ? 30 : 1)),
    });
    const order: string[] = [];
    server.handle('*', { onMessage: (ctx) => void order.push(ctx.channel) });
    const a = await client();
    a.send({ type: 'message', channel: 'slow', data: 1, id: 1 });
    a.send({ type: 'message', channel: 'fast', data: 2, id: 2 });
    await a.waitForFrame((f) => f.type === 'ack' && f.id === 2);
    expect(order).toEqual(['slow', 'fast']);
  });
});
