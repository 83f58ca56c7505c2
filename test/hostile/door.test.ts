/**
 * Hostile clients at the door (issue 14, items 1 and 4): safe defaults
 * (same origin only, CORS never reflected, no cookie unless opted in),
 * failed authentications throttled per address, and caps per address and
 * per principal on connections, SSE streams, long-polls and running
 * requests, and on the server's channels.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, type Frame } from '@rxmux/core/protocol';
import { createServer, extractToken, type RxmuxServer } from '@rxmux/server';
import { until } from '../support/wait.js';
import { ADDRESS_HEADER, attacker, raw, stage, testAddress } from './stage.js';

/** Open HTTP requests (SSE streams, held polls), aborted after each test. */
const open: AbortController[] = [];
const servers: RxmuxServer<unknown>[] = [];

afterEach(async () => {
  for (const c of open.splice(0)) c.abort();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A GET whose response stays open until the test ends (an SSE stream, a held poll): its status and headers. */
async function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  const controller = new AbortController();
  open.push(controller);
  return fetch(url, { headers, signal: controller.signal });
}

const evil = { origin: 'https://evil.example', [ADDRESS_HEADER]: 'evil' };

describe('hostile: safe defaults', () => {
  it('without allowedOrigins, a foreign page can open neither the WebSocket (4403) nor the SSE stream or a poll (403); same-origin and non-browser clients can', async () => {
    const s = await stage();
    const http = `http://127.0.0.1:${s.port}/rt`;
    const foreign = await raw(s.port, { origin: 'https://evil.example' });
    expect(await foreign.waitForClose()).toEqual({ code: 4403, reason: 'origin not allowed' });
    const sneaky = await raw(s.port, { origin: 'null' }); // a sandboxed iframe, a file: page
    expect(await sneaky.waitForClose()).toMatchObject({ code: 4403 });
    for (const path of ['sse', 'poll']) {
      const refused = await get(`${http}/${path}?channel=feed`, evil);
      expect(refused.status).toBe(403);
      expect(await refused.json()).toMatchObject({ code: ErrorCode.Forbidden });
      expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    }
    const preflight = await fetch(`${http}/sse`, { method: 'OPTIONS', headers: evil });
    expect(preflight.status).toBe(403);
    // The page's own origin (the Host it was sent to), and a client with no Origin at all, pass: no CORS header needed.
    const mine = await raw(s.port, { origin: `http://127.0.0.1:${s.port}` });
    await mine.hello();
    const sameOrigin = await get(`${http}/sse?channel=feed`, { origin: `http://127.0.0.1:${s.port}` });
    expect(sameOrigin.status).toBe(200);
    expect(sameOrigin.headers.get('access-control-allow-origin')).toBeNull();
    const cli = await get(`${http}/poll?channel=feed&cursor=feed%3D0`); // a cursor without epoch: answered at once (a reset)
    expect(cli.status).toBe(200);
    await s.feed(3);
    await s.nothingLost();
  });

  it('CORS names only the origins the app listed, never the one a request brings', async () => {
    const server = createServer({ host: '127.0.0.1', port: 0, allowedOrigins: ['https://app.example'] });
    servers.push(server);
    await server.ready();
    const http = `http://127.0.0.1:${server.port}/rt`;
    const listed = await get(`${http}/sse?channel=a`, { origin: 'https://app.example' });
    expect(listed.status).toBe(200);
    expect(listed.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(listed.headers.get('access-control-allow-credentials')).toBe('true');
    const other = await get(`${http}/poll?channel=a`, { origin: 'https://evil.example' });
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('a cookie authenticates nobody unless the app names it (extractToken)', () => {
    const request = { headers: { cookie: 'rxmux_token=secret' } } as unknown as Parameters<typeof extractToken>[0];
    expect(extractToken(request)).toBeUndefined();
    expect(extractToken(request, { cookie: 'rxmux_token' })).toBe('secret');
  });
});

describe('hostile: failed authentications are throttled per address', () => {
  it('after authFailureBurst failures an address is refused before authenticate runs (WebSocket close 1013, SSE 429); other addresses go on', async () => {
    let calls = 0;
    const server = createServer<string>({
      host: '127.0.0.1',
      port: 0,
      clientAddress: testAddress,
      limits: { authFailureBurst: 5, authFailureRate: 0.01 },
      authenticate: (_req, token) => {
        calls++;
        return token === 'good' ? 'ann' : null;
      },
    });
    servers.push(server);
    await server.ready();
    for (let i = 0; i < 5; i++) {
      const guess = await raw(server.port);
      guess.send({ type: 'hello', version: 1, token: `guess-${i}` });
      expect(await guess.waitForClose()).toMatchObject({ code: 4401 });
    }
    const blocked = await raw(server.port);
    expect(await blocked.waitForClose()).toEqual({ code: 1013, reason: 'too many failed authentications' });
    const sse = await get(`http://127.0.0.1:${server.port}/rt/sse?channel=a`, { [ADDRESS_HEADER]: 'evil' });
    expect(sse.status).toBe(429);
    expect(await sse.json()).toMatchObject({ code: ErrorCode.RateLimited });
    expect(calls).toBe(5); // the refused ones never reached authenticate
    // Another address is not affected (a legitimate user's correct token, too).
    const ann = await raw(server.port, { headers: { [ADDRESS_HEADER]: 'ann-home' } });
    ann.send({ type: 'hello', version: 1, token: 'good' });
    expect(await ann.waitFor('welcome')).toMatchObject({ type: 'welcome' });
    expect(server.metrics()).toMatchObject({ authThrottled: 2, rejected: 5 });
  });
});

describe('hostile: caps per address, per principal and per server', () => {
  it('one address holds at most maxConnectionsPerAddress sockets: the next is told and closed 1013; legitimate clients lose nothing', async () => {
    const s = await stage({ limits: { maxConnectionsPerAddress: 10 } });
    for (let i = 0; i < 10; i++) await attacker(s.port);
    expect(s.server.metrics().addresses.evil).toMatchObject({ connections: 10 });
    const extra = await raw(s.port);
    expect(await extra.waitForFrame((f: Frame) => f.type === 'error')).toMatchObject({ code: ErrorCode.TooManyConnections });
    expect(await extra.waitForClose()).toEqual({ code: 1013, reason: 'too many connections from this address' });
    expect(s.server.metrics().capped).toBe(1);
    await s.feed(5);
    await s.nothingLost();
  });

  it('SSE streams and long-polls are capped per address (HTTP 429), and given back when they end', async () => {
    const s = await stage({ limits: { maxStreamsPerAddress: 3, maxPollsPerAddress: 2 } });
    const http = `http://127.0.0.1:${s.port}/rt`;
    const streams = await Promise.all([1, 2, 3].map(() => get(`${http}/sse?channel=feed`, { [ADDRESS_HEADER]: 'evil' })));
    expect(streams.map((r) => r.status)).toEqual([200, 200, 200]);
    const fourth = await get(`${http}/sse?channel=feed`, { [ADDRESS_HEADER]: 'evil' });
    expect(fourth.status).toBe(429);
    expect(await fourth.json()).toMatchObject({ code: ErrorCode.TooManyConnections });
    const polls = [1, 2].map(() => get(`${http}/poll?channel=feed&cursor=`, { [ADDRESS_HEADER]: 'evil' })); // held: nothing new
    expect(await until(() => s.server.metrics().addresses.evil?.polls === 2, 5000)).toBe(true);
    const third = await get(`${http}/poll?channel=feed&cursor=`, { [ADDRESS_HEADER]: 'evil' });
    expect(third.status).toBe(429);
    expect(s.server.metrics().addresses.evil).toMatchObject({ streams: 3, polls: 2 });
    for (const c of open.splice(0)) c.abort();
    await Promise.allSettled(polls);
    expect(await until(() => s.server.metrics().addresses.evil === undefined, 5000)).toBe(true);
    await s.feed(3);
    await s.nothingLost();
  });

  it('running requests are capped per address: the one over it gets request-error TOO_MANY_REQUESTS, and the cap is given back as they finish', async () => {
    const s = await stage({ limits: { maxRequestsPerAddress: 8 } });
    const waiting: (() => void)[] = [];
    s.server.handle('slow', { onRequest: () => new Promise<string>((resolve) => waiting.push(() => resolve('done'))) });
    const evil = await attacker(s.port);
    for (let id = 1; id <= 9; id++) evil.send({ type: 'request', channel: 'slow', id, data: null });
    expect(await evil.waitFor('request-error')).toMatchObject({ id: 9, code: ErrorCode.TooManyRequests });
    expect(s.server.metrics().addresses.evil?.requests).toBe(8);
    for (const finish of waiting.splice(0)) finish();
    for (let id = 1; id <= 8; id++) expect(await evil.waitForFrame((f: Frame) => f.type === 'response' && f.id === id)).toMatchObject({ data: 'done' });
    evil.send({ type: 'request', channel: 'slow', id: 10, data: null });
    expect(await until(() => waiting.length === 1, 5000)).toBe(true); // room again
    await s.nothingLost(); // their own requests (echo) are their address's, not the attacker's
  });

  it('a principal holds at most maxConnectionsPerPrincipal sockets, whatever its addresses', async () => {
    const server = createServer<string>({
      host: '127.0.0.1',
      port: 0,
      clientAddress: testAddress,
      limits: { maxConnectionsPerPrincipal: 3 },
      authenticate: (_req, token) => token ?? null,
    });
    servers.push(server);
    await server.ready();
    for (let i = 0; i < 3; i++) {
      const c = await raw(server.port, { headers: { [ADDRESS_HEADER]: `cafe-${i}` } });
      c.send({ type: 'hello', version: 1, token: 'mallory' });
      await c.waitFor('welcome');
    }
    const fourth = await raw(server.port, { headers: { [ADDRESS_HEADER]: 'cafe-4' } });
    fourth.send({ type: 'hello', version: 1, token: 'mallory' });
    expect(await fourth.waitForClose()).toEqual({ code: 1013, reason: 'too many connections for this principal' });
    const ann = await raw(server.port, { headers: { [ADDRESS_HEADER]: 'cafe-4' } });
    ann.send({ type: 'hello', version: 1, token: 'ann' });
    expect(await ann.waitFor('welcome')).toMatchObject({ type: 'welcome' });
    expect(server.metrics().principals).toBe(2);
  });

  it('the server holds at most maxChannels channels: joining a new one beyond is refused, joining an existing one is not', async () => {
    const s = await stage({ limits: { maxChannels: 20 } });
    const evil = await attacker(s.port);
    for (let i = 0; i < 25; i++) evil.send({ type: 'subscribe', channel: `junk-${i}` });
    expect(await until(() => evil.queue.filter((f) => f.type === 'subscribed' || f.type === 'unsubscribed').length === 25, 5000)).toBe(true);
    const refused = evil.queue.filter((f): f is Extract<Frame, { type: 'unsubscribed' }> => f.type === 'unsubscribed');
    expect(refused.length).toBe(6); // the feed is one of the 20
    expect(refused.every((f) => f.code === ErrorCode.TooManyChannels)).toBe(true);
    expect(s.server.metrics().channels).toBe(20);
    const late = await attacker(s.port, { headers: { [ADDRESS_HEADER]: 'late-legit' } });
    late.send({ type: 'subscribe', channel: 'feed' });
    expect(await late.waitFor('subscribed')).toMatchObject({ channel: 'feed' });
    const sse = await get(`http://127.0.0.1:${s.port}/rt/poll?channel=junk-99`, { [ADDRESS_HEADER]: 'evil' });
    expect(await sse.json()).toMatchObject({ events: [{ type: 'channel-error', channel: 'junk-99', code: ErrorCode.TooManyChannels }] });
    await s.feed(3);
    await s.nothingLost();
  });
});
