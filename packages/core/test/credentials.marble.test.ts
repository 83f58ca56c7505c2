/**
 * Credentials on the client (issue 11.1): the token provider is asked before
 * every attempt and its token travels in the hello; a provider that fails is
 * retried with the backoff; refused credentials (4401) are fatal; credentials
 * that expire are refreshed on the live connection.
 */
import { describe, expect, it } from 'vitest';
import { ReconnectFailedError, type ConnectionStatus, type StatusTransition } from '@rxmux/core';
import type { FakeWebSocket } from '@rxmux/core/testing';
import { fakeConnection, later, testScheduler } from './helpers.js';

const welcome = (socket: FakeWebSocket, expiresIn?: number): void => {
  socket.accept();
  socket.receive({ type: 'welcome', version: 1, session: 's1', heartbeat: 0, received: 0, ...(expiresIn === undefined ? {} : { expiresIn }) });
};

describe('the token provider', () => {
  it('is asked before every attempt; its token travels in the hello, never in the URL', () => {
    testScheduler().run(() => {
      let n = 0;
      const { conn, fake } = fakeConnection({ token: () => `t${++n}`, reconnect: { initialDelay: 10 } });
      fake.onSocket = (socket) => later(() => welcome(socket), 5);
      const sub = conn.channel('a').subscribe();
      later(() => fake.last.drop(), 20);
      later(() => {
        expect(fake.sockets.map((s) => s.sentFrames[0])).toMatchObject([{ type: 'hello', token: 't1' }, { type: 'hello', token: 't2' }]);
        expect(fake.sockets.every((s) => !s.url.includes('t1') && !s.url.includes('t2'))).toBe(true);
        sub.unsubscribe();
      }, 100);
    });
  });

  it('a provider that rejects is retried with the backoff (never a stuck client)', async () => {
    let calls = 0;
    const { conn, fake } = fakeConnection({
      token: () => (++calls === 1 ? Promise.reject(new Error('token service down')) : Promise.resolve('ok')),
      reconnect: { initialDelay: 5, maxDelay: 5 },
    });
    fake.autoWelcome = true;
    const transitions: StatusTransition[] = [];
    conn.transitions$.subscribe((t) => transitions.push(t));
    const sub = conn.channel('a').subscribe();
    await expect.poll(() => fake.sockets.length, { timeout: 2000 }).toBe(1);
    await expect.poll(() => transitions.at(-1)?.to, { timeout: 2000 }).toBe('open');
    expect(calls).toBe(2);
    expect(transitions.map((t) => t.to)).toEqual(['connecting', 'reconnecting', 'open']);
    expect(transitions[1]?.reason).toBe('token service down');
    expect(fake.last.sentFrames[0]).toMatchObject({ type: 'hello', token: 'ok' });
    sub.unsubscribe();
    conn.close();
  });

  it('refused credentials (close 4401) are fatal: failed with the reason, no retry; subscribing again starts over', () => {
    const statuses: ConnectionStatus[] = [];
    const errors: unknown[] = [];
    testScheduler().run(() => {
      const { conn, fake } = fakeConnection({ token: () => 'expired', reconnect: { initialDelay: 10 } });
      conn.status$.subscribe((s) => statuses.push(s));
      fake.onSocket = (socket) =>
        later(() => {
          socket.accept();
          if (fake.sockets.length === 1) socket.drop(4401, 'unauthorized');
          else welcome(socket);
        }, 5);
      conn.channel('a').subscribe({ error: (e: unknown) => errors.push(e) });
      later(() => expect(fake.sockets).toHaveLength(1), 1_000); // no retry loop
      later(() => conn.channel('a').subscribe(), 1_100); // after a new login
      later(() => expect(fake.sockets).toHaveLength(2), 1_200);
    });
    expect(statuses).toEqual(['closed', 'connecting', 'failed', 'connecting', 'open']);
    expect(errors[0]).toBeInstanceOf(ReconnectFailedError);
    expect((errors[0] as Error).message).toMatch(/4401: unauthorized/);
  });
});

describe('refresh on a live connection', () => {
  it('asks the provider again before the credentials expire and sends the new token; each refreshed re-arms it', () => {
    testScheduler().run(() => {
      let n = 0;
      const { conn, fake } = fakeConnection({ token: () => `t${++n}` });
      fake.onSocket = (socket) => later(() => welcome(socket, 1_000), 5);
      const sub = conn.channel('a').subscribe();
      // welcome at 5 with 1 s: refresh at 5 + 500
      later(() => expect(fake.last.sentFrames.filter((f) => f.type === 'refresh')).toEqual([]), 500);
      later(() => expect(fake.last.sentFrames.filter((f) => f.type === 'refresh')).toEqual([{ type: 'refresh', token: 't2' }]), 510);
      later(() => fake.last.receive({ type: 'refreshed', expiresIn: 200 }), 600);
      later(() => expect(fake.last.sentFrames.filter((f) => f.type === 'refresh')).toEqual([{ type: 'refresh', token: 't2' }, { type: 'refresh', token: 't3' }]), 710);
      later(() => {
        expect(fake.sockets).toHaveLength(1); // nothing was dropped to refresh
        sub.unsubscribe();
      }, 800);
    });
  });
});
