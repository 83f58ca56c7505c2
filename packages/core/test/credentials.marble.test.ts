/**
 * Credentials on the client (issue 11.1): the token provider is asked before
 * every attempt and its token travels in the hello; a provider that fails is
 * retried with the backoff; refused credentials (4401) are fatal; credentials
 * that expire are refreshed on the live connection.
 */
import { describe, expect, it } from 'vitest';
import { ReconnectFailedError, type ConnectionStatus, type StatusTransition } from '@rxmux/core';
import { FakeServer, runMarbles } from '@rxmux/core/testing';
import { toEqual } from './helpers.js';

describe('the token provider', () => {
  it('is asked before every attempt; its token travels in the hello, never in the URL', () => {
    runMarbles(toEqual, ({ later }) => {
      let n = 0;
      const server = new FakeServer({ autoWelcome: { after: 5, heartbeat: 0, received: 0 } });
      const conn = server.connect({ token: () => `t${++n}`, reconnect: { initialDelay: 10 } });
      const sub = conn.channel('a').subscribe();
      later(() => server.last.drop(), 20);
      later(() => {
        expect(server.connections.map((c) => c.frames[0])).toMatchObject([{ type: 'hello', token: 't1' }, { type: 'hello', token: 't2' }]);
        expect(server.connections.every((c) => !c.url.includes('t1') && !c.url.includes('t2'))).toBe(true);
        sub.unsubscribe();
      }, 100);
    });
  });

  it('a provider that rejects is retried with the backoff (never a stuck client)', async () => {
    let calls = 0;
    const server = new FakeServer({ autoWelcome: true });
    const conn = server.connect({
      token: () => (++calls === 1 ? Promise.reject(new Error('token service down')) : Promise.resolve('ok')),
      reconnect: { initialDelay: 5, maxDelay: 5 },
    });
    const transitions: StatusTransition[] = [];
    conn.transitions$.subscribe((t) => transitions.push(t));
    const sub = conn.channel('a').subscribe();
    const c = await server.nextConnection(); // the one socket: the failed attempt never opened one
    expect(await c.hello()).toMatchObject({ type: 'hello', token: 'ok' });
    await expect.poll(() => transitions.at(-1)?.to, { timeout: 2000 }).toBe('open');
    expect(server.connections).toHaveLength(1);
    expect(calls).toBe(2);
    expect(transitions.map((t) => t.to)).toEqual(['connecting', 'reconnecting', 'open']);
    expect(transitions[1]?.reason).toBe('token service down');
    sub.unsubscribe();
    conn.close();
  });

  it('refused credentials (close 4401) are fatal: failed with the reason, no retry; subscribing again starts over', () => {
    const statuses: ConnectionStatus[] = [];
    const errors: unknown[] = [];
    runMarbles(toEqual, ({ later }) => {
      const server = new FakeServer();
      const conn = server.connect({ token: () => 'expired', reconnect: { initialDelay: 10 } });
      conn.status$.subscribe((s) => statuses.push(s));
      server.connection$.subscribe((c) =>
        later(() => {
          c.accept();
          if (server.connections.length === 1) c.drop(4401, 'unauthorized');
          else c.welcome({ heartbeat: 0, received: 0 });
        }, 5),
      );
      conn.channel('a').subscribe({ error: (e: unknown) => errors.push(e) });
      later(() => expect(server.connections).toHaveLength(1), 1_000); // no retry loop
      later(() => conn.channel('a').subscribe(), 1_100); // after a new login
      later(() => expect(server.connections).toHaveLength(2), 1_200);
    });
    expect(statuses).toEqual(['closed', 'connecting', 'failed', 'connecting', 'open']);
    expect(errors[0]).toBeInstanceOf(ReconnectFailedError);
    expect((errors[0] as Error).message).toMatch(/4401: unauthorized/);
  });
});

describe('refresh on a live connection', () => {
  it('asks the provider again before the credentials expire and sends the new token; each refreshed re-arms it', () => {
    runMarbles(toEqual, ({ later }) => {
      let n = 0;
      const server = new FakeServer({ autoWelcome: { after: 5, heartbeat: 0, received: 0, expiresIn: 1_000 } });
      const conn = server.connect({ token: () => `t${++n}` });
      const sub = conn.channel('a').subscribe();
      const refreshes = (): unknown[] => server.last.frames.filter((f) => f.type === 'refresh');
      // welcome at 5 with 1 s: refresh at 5 + 500
      later(() => expect(refreshes()).toEqual([]), 500);
      later(() => expect(refreshes()).toEqual([{ type: 'refresh', token: 't2' }]), 510);
      later(() => server.last.refreshed(200), 600);
      later(() => expect(refreshes()).toEqual([{ type: 'refresh', token: 't2' }, { type: 'refresh', token: 't3' }]), 710);
      later(() => {
        expect(server.connections).toHaveLength(1); // nothing was dropped to refresh
        sub.unsubscribe();
      }, 800);
    });
  });
});
