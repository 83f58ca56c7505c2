import { describe, expect, it } from 'vitest';
import { ErrorCode, type Frame } from '@rxmux/core/protocol';
import { extractToken } from '@rxmux/server';
import { connect, start } from './helpers.js';

const users: Record<string, string> = { 'token-ann': 'ann', 'token-bob': 'bob' };

describe('security at the door', () => {
  it('refuses failed credentials at the hello: error UNAUTHORIZED, then close 4401 (fatal for the client); nothing of the socket runs', async () => {
    const seen: string[] = [];
    const { server, url } = await start<string>({ authenticate: (req, token) => users[token ?? extractToken(req) ?? ''] ?? null });
    server.handle('*', { onMessage: (ctx) => void seen.push(ctx.channel) });
    for (const c of [await connect(url), await connect(url, { headers: { authorization: 'Bearer nope' } })]) {
      c.send(`[[2,1],[4,"a"],[0,"a",1]]`); // hello, subscribe, message in one batch: none may run
      expect(await c.waitFor('error')).toMatchObject({ code: ErrorCode.Unauthorized });
      expect(await c.waitForClose()).toEqual({ code: 4401, reason: 'unauthorized' });
    }
    const wrongToken = await connect(url);
    wrongToken.send({ type: 'hello', version: 1, token: 'token-eve' });
    expect(await wrongToken.waitForClose()).toMatchObject({ code: 4401 });
    expect(seen).toEqual([]);
    expect(await server.presence('a')).toEqual([]);
    expect(server.metrics()).toMatchObject({ connections: 0, rejected: 3 });
  });

  it('a refresh on a socket the adapter authenticated (no token to check) is refused with UNEXPECTED_FRAME; the socket goes on', async () => {
    const { server, url } = await start();
    server.handle('echo', { onRequest: (_ctx, data) => data });
    const c = await connect(url);
    c.send({ type: 'hello', version: 1 });
    await c.waitFor('welcome');
    c.send({ type: 'refresh', token: 'token-ann' });
    expect(await c.waitFor('error')).toMatchObject({ code: ErrorCode.UnexpectedFrame, message: 'this server does not take credentials from the client' });
    c.send({ type: 'request', channel: 'echo', id: 1, data: 'still here' });
    expect(await c.waitFor('response')).toEqual({ type: 'response', id: 1, data: 'still here' });
  });

  it('takes the token from the hello (never the URL), and the hello holds the frames behind it until the verdict', async () => {
    const principals: string[] = [];
    const { server, url } = await start<string>({
      authenticate: (_req, token) => new Promise<string | null>((resolve) => setTimeout(() => resolve(users[token ?? ''] ?? null), 20)),
      hooks: { onConnect: (info) => void principals.push(info.principal) },
    });
    server.handle('echo', { onRequest: (ctx) => ctx.principal });
    const c = await connect(url);
    c.send(`[[2,1,null,null,null,"token-bob"],[10,"echo",1,null]]`);
    expect(await c.waitFor('welcome')).toMatchObject({ type: 'welcome' });
    expect(await c.waitFor('response')).toEqual({ type: 'response', id: 1, data: 'bob' });
    expect(principals).toEqual(['bob']);
  });

  it('accepts a token from the Authorization header, a token subprotocol or, opted in, a cookie', async () => {
    const principals: string[] = [];
    const { server, url } = await start<string>({
      authenticate: (req) => Promise.resolve(users[extractToken(req, { cookie: 'rxmux_token' }) ?? ''] ?? null),
      hooks: { onConnect: (info) => void principals.push(info.principal) },
    });
    const viaHeader = await connect(url, { headers: { authorization: 'Bearer token-ann' } });
    const viaProtocol = await connect(url, { protocols: ['rxmux.v1', 'rxmux.token.token-bob'] });
    const viaCookie = await connect(url, { headers: { cookie: 'theme=dark; rxmux_token=token-ann' } });
    expect(viaProtocol.ws.protocol).toBe('rxmux.v1');
    for (const c of [viaHeader, viaProtocol, viaCookie]) await c.hello(); // the upgrade request is what authenticate reads
    expect(principals).toEqual(['ann', 'bob', 'ann']);
    expect(server.metrics().connections).toBe(3);
  });

  it('reads no cookie unless one is named: a cookie alone authenticates nobody by default', async () => {
    const { url } = await start<string>({ authenticate: (req, token) => users[token ?? extractToken(req) ?? ''] ?? null });
    const viaCookie = await connect(url, { headers: { cookie: 'rxmux_token=token-ann' } });
    viaCookie.send({ type: 'hello', version: 1 });
    expect(await viaCookie.waitForClose()).toMatchObject({ code: 4401 });
  });

  it('refuses a foreign Origin with close 4403 (fatal, unlike an HTTP 403 a browser shows as 1006) and lets allowed or absent origins in', async () => {
    const { url, server } = await start({ allowedOrigins: ['https://good.example'] });
    const evil = await connect(url, { origin: 'https://evil.example' });
    expect(await evil.waitForClose()).toEqual({ code: 4403, reason: 'origin not allowed' });
    expect(server.metrics().rejected).toBe(1);
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
    expect(await ann.waitFor('unsubscribed')).toMatchObject({ code: ErrorCode.Forbidden, channel: 'secret' }); // the subscription is refused
    expect(await ann.waitFor('subscribed')).toMatchObject({ channel: 'public' });
    expect(await ann.waitFor('subscribed')).toMatchObject({ channel: 'announcements' });
    ann.send({ type: 'message', channel: 'announcements', data: 'spam', id: 1 });
    expect(await ann.waitFor('error')).toMatchObject({ code: ErrorCode.Forbidden, channel: 'announcements', id: 1 }); // the send is refused, the channel goes on
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
