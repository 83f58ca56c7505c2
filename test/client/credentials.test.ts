/**
 * Credentials end to end (issue 11.1): the real client and the real server,
 * a token in the hello, 4401 fatal, refresh on the live connection without
 * losing a message, rights checked again on refresh, expiry enforced.
 */
import { firstValueFrom, filter, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { RemoteError, type ConnectionStatus, type EventSourceConstructor, type EventSourceLike, type FetchLike, type StatusTransition } from '@rxmux/core';
import { events } from '@rxmux/core/events';
import { EventSource } from 'eventsource';
import { ErrorCode, TICKET_CHANNEL, type PollAnswer, type TicketAnswer } from '@rxmux/core/protocol';
import { createServer, MemoryTicketStore, withExpiry, type RxmuxServer } from '@rxmux/server';
import { afterEach } from 'vitest';
import { client, opened, wsUrl } from '../support/real.js';
import { until } from '../support/wait.js';

const servers: RxmuxServer<unknown>[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

interface User {
  readonly name: string;
  readonly vip: boolean;
}

/** Tokens the test hands out: `name:vip:ttl` (ttl in ms, 0 for none). */
async function serve(accept: (token: string | undefined) => boolean = () => true): Promise<{ server: RxmuxServer<User>; url: string; seen: (string | undefined)[] }> {
  const seen: (string | undefined)[] = [];
  const server = createServer<User>({
    host: '127.0.0.1',
    port: 0,
    authenticate: (_req, token) => {
      seen.push(token);
      if (token === undefined || !accept(token)) return null;
      const [name = '', vip, ttl] = token.split(':');
      const user = { name, vip: vip === 'vip' };
      return Number(ttl) > 0 ? withExpiry(user, Date.now() + Number(ttl)) : user;
    },
    authorize: (user, channel) => channel !== 'vip' || user.vip,
  });
  servers.push(server);
  await server.ready();
  return { server, url: wsUrl(server.port), seen };
}

describe('credentials end to end', () => {
  it('refused credentials close with 4401: the client fails with the reason and does not retry', async () => {
    const { server, url, seen } = await serve(() => false);
    const conn = client(url, { token: 'nobody', reconnect: { initialDelay: 10, maxDelay: 20 } });
    const transitions: StatusTransition[] = [];
    conn.transitions$.subscribe((t) => transitions.push(t));
    const failure = firstValueFrom(conn.channel('a')).catch((error: unknown) => error);
    expect(await failure).toMatchObject({ code: ErrorCode.ReconnectFailed });
    expect(transitions.at(-1)).toMatchObject({ to: 'failed', code: 4401, reason: 'unauthorized' });
    await new Promise((resolve) => setTimeout(resolve, 200)); // a retry loop would have made several attempts by now
    expect(seen).toEqual(['nobody']);
    expect(server.metrics().rejected).toBe(1);
  });

  it('refreshes the token on the live connection before it expires: no message lost, no reconnect, the new principal takes over', async () => {
    const { server, url, seen } = await serve();
    server.handle('whoami', { onRequest: (ctx) => ctx.principal.name });
    let n = 0;
    const conn = client(url, { token: () => Promise.resolve(`user${++n}:plain:600`) });
    const statuses: ConnectionStatus[] = [];
    conn.status$.subscribe((s) => statuses.push(s));
    const got = firstValueFrom(conn.channel<number>('feed').pipe(take(60), toArray()));
    await firstValueFrom(conn.channel('feed').state$.pipe(filter((s) => s === 'joined')));
    for (let i = 0; i < 60; i++) {
      await server.publish('feed', i);
      await new Promise((resolve) => setTimeout(resolve, 20)); // 1.2 s: the 600 ms credentials are refreshed about three times
    }
    expect(await got).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(n).toBeGreaterThanOrEqual(3);
    expect(seen.length).toBe(n);
    expect(await firstValueFrom(conn.channel('whoami').request<string>(null))).toBe(`user${n}`);
    expect(statuses).toEqual(['closed', 'connecting', 'open']);
  });

  it('a refresh checks every joined channel again: one the new principal may not join ends with FORBIDDEN, the others go on', async () => {
    const { server, url } = await serve();
    let vip = true;
    const conn = client(url, { token: () => `ann:${vip ? 'vip' : 'plain'}:400` });
    const vipEnd = firstValueFrom(conn.channel('vip')).catch((error: unknown) => error);
    const publicValues: unknown[] = [];
    conn.channel('public').subscribe((v) => publicValues.push(v));
    await opened(conn);
    expect(await until(async () => (await server.presence('vip')).length === 1 && (await server.presence('public')).length === 1, 3_000)).toBe(true);
    vip = false; // the next token the provider hands out loses the rights
    expect(await vipEnd).toBeInstanceOf(RemoteError);
    expect(await vipEnd).toMatchObject({ code: ErrorCode.Forbidden, channel: 'vip' });
    expect(await server.presence('vip')).toEqual([]);
    await server.publish('public', 'still here');
    expect(await until(() => publicValues.includes('still here'), 3_000)).toBe(true);
  });

  it('credentials that expire without a refresh close the socket with 4401', async () => {
    let accepted = 0;
    const { url } = await serve(() => ++accepted === 1); // the refresh is refused
    const conn = client(url, { token: 'ann:plain:300' });
    const transitions: StatusTransition[] = [];
    conn.transitions$.subscribe((t) => transitions.push(t));
    const end = firstValueFrom(conn.channel('a')).catch((error: unknown) => error);
    expect(await end).toMatchObject({ code: ErrorCode.ReconnectFailed });
    expect(transitions.at(-1)).toMatchObject({ to: 'failed', code: 4401 });
  });

  it.each([
    ['EventSource', { EventSource: EventSource as unknown as EventSourceConstructor }],
    ['long-poll', { forceLongPoll: true, fetch: fetch as unknown as FetchLike }],
  ] as const)('events(conn, id) over %s authenticates with single-use tickets the WebSocket obtains (no token in any URL)', async (_name, eventStream) => {
    const { server, url, seen } = await serve();
    const urls: string[] = [];
    const conn = client(url, {
      token: 'ann:plain:0',
      eventStream: {
        ...eventStream,
        ...('fetch' in eventStream
          ? { fetch: (u: string, init: Parameters<FetchLike>[1]) => (urls.push(u), (eventStream.fetch)(u, init)) }
          : {
              EventSource: class extends (EventSource as unknown as new (u: string, i?: object) => EventSourceLike) {
                constructor(u: string, i?: object) {
                  urls.push(u);
                  super(u, i);
                }
              } as unknown as EventSourceConstructor,
            }),
      },
    });
    const scores: unknown[] = [];
    events(conn, 'score').subscribe((v) => scores.push(v));
    // The stream is up: an SSE stream is a presence member (with the ticket's principal); a poll is held.
    const sse = !('forceLongPoll' in eventStream);
    expect(await until(async () => (sse ? (await server.presence('score')).length === 1 : server.metrics().polls === 1), 5_000)).toBe(true);
    if (sse) expect((await server.presence('score'))[0]?.principal).toEqual({ name: 'ann', vip: false });
    for (let i = 1; i <= 3; i++) {
      await server.publish('score', i);
      expect(await until(() => scores.length === i, 5_000)).toBe(true); // a poll answers each: every next poll rides its chained ticket
    }
    expect(scores).toEqual([1, 2, 3]);
    expect(urls.length).toBeGreaterThan(0);
    for (const u of urls) {
      expect(u.includes('ann:plain') || u.includes(encodeURIComponent('ann:plain'))).toBe(false); // the token never travels in a URL
      expect(new URL(u).searchParams.get('ticket')).toMatch(/^[A-Za-z0-9_-]{22}$/);
    }
    expect(new Set(urls.map((u) => new URL(u).searchParams.get('ticket'))).size).toBe(urls.length); // each ticket once
    expect(seen.filter((t) => t !== undefined)).toEqual(['ann:plain:0']); // only the WebSocket's hello carried the token
  });
});

describe('tickets at the HTTP door', () => {
  it('a ticket is good for one request, for its principal, and only while fresh; reserved channels refuse the rest', async () => {
    let clock = 1_000_000;
    const server = createServer<string>({
      host: '127.0.0.1',
      port: 0,
      authenticate: (_req, token) => (token === 'bob' ? 'bob' : null),
      tickets: new MemoryTicketStore<string>(100, () => clock),
    });
    servers.push(server);
    await server.ready();
    const http = `http://127.0.0.1:${server.port}/rt`;
    const conn = client(wsUrl(server.port), { token: 'bob' });
    const ask = (): Promise<TicketAnswer> => firstValueFrom(conn.channel(TICKET_CHANNEL).request<TicketAnswer>(null));
    const first = await ask();
    expect(first.expiresIn).toBe(30_000);
    const used = await fetch(`${http}/poll?channel=p&ticket=${first.ticket}&cursor=p%3D0`);
    expect(used.status).toBe(200);
    expect(typeof ((await used.json()) as PollAnswer).ticket).toBe('string'); // the next poll's ticket
    const again = await fetch(`${http}/poll?channel=p&ticket=${first.ticket}`);
    expect(again.status).toBe(401);
    expect(await again.json()).toMatchObject({ code: 'RXMUX_ERR_UNAUTHORIZED', message: 'unknown, used or expired ticket' });
    expect((await fetch(`${http}/sse?channel=p&ticket=made-up`)).status).toBe(401);
    const stale = await ask();
    clock += 30_001;
    expect((await fetch(`${http}/sse?channel=p&ticket=${stale.ticket}`)).status).toBe(401);
    expect(server.metrics().rejected).toBe(3);
    // The protocol's channels are not the app's: no subscribe, no message, no other request.
    await expect(firstValueFrom(conn.channel('$rxmux.other').request(null))).rejects.toMatchObject({ code: ErrorCode.Forbidden });
    await expect(firstValueFrom(conn.channel(TICKET_CHANNEL))).rejects.toMatchObject({ code: ErrorCode.Forbidden });
  });
});
