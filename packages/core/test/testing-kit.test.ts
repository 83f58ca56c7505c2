/**
 * The test kit itself (`@rxmux/core/testing`, issue 11.4): the scripted fake
 * server against the real client, its clear failures, the frames-visibility
 * rule, and the marble helpers.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { firstValueFrom, map, toArray, take } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { RemoteError, type ConnectionStatus, type GapNotice, type JsonValue, type RxmuxError } from '@rxmux/core';
import { ErrorCode } from '@rxmux/core/protocol';
import { describeFrame, FakeServer, marbles, runMarbles, STATUS_VALUES } from '@rxmux/core/testing';

const toEqual = (actual: unknown, expected: unknown): void => expect(actual).toEqual(expected);

describe('FakeServer: the handshake', () => {
  it('nextConnection() hands out sockets in order, even one opened before the call; hello() accepts and returns the hello', async () => {
    const server = new FakeServer();
    const conn = server.connect({ token: 'secret' });
    const statuses: ConnectionStatus[] = [];
    conn.status$.subscribe((s) => statuses.push(s));
    conn.channel('a').subscribe();
    expect(server.connections).toHaveLength(1); // opened synchronously by the subscribe
    const c = await server.nextConnection();
    expect(c).toBe(server.last);
    expect(c.url).toBe('ws://fake.test/rt');
    expect(c.socket.protocols).toEqual(['rxmux.v2', 'rxmux.v1']);
    expect(await c.hello()).toEqual({ type: 'hello', version: 1, limits: { maxFrameBytes: 1024 * 1024, maxBatch: 1024 }, token: 'secret' });
    expect(statuses).toEqual(['closed', 'connecting']);
    expect(c.welcome()).toEqual({ type: 'welcome', version: 1, session: 's1', heartbeat: 30_000 });
    expect(c.session).toBe('s1');
    expect(statuses.at(-1)).toBe('open');
    expect(await c.nextSubscribe()).toEqual({ type: 'subscribe', channel: 'a' });
    conn.close();
    expect(await c.waitForClose()).toEqual({ code: 1000, reason: 'client closed', by: 'client' });
    expect(server.openCount).toBe(0);
  });

  it('a reconnecting client resumes its session: the welcome names it and says resumed; an unknown session gets a new one', async () => {
    const server = new FakeServer();
    const conn = server.connect({ reconnect: { initialDelay: 1 } });
    conn.channel('a').subscribe();
    const first = await server.nextConnection();
    first.welcome();
    first.drop();
    expect(first.closed).toEqual({ code: 1006, reason: '', by: 'server' });
    const second = await server.nextConnection();
    expect((await second.hello()).session).toBe('s1');
    expect(second.welcome()).toMatchObject({ session: 's1', resumed: true });
    second.drop(1012, 'restart');
    const third = await server.nextConnection();
    await third.hello();
    expect(third.welcome({ session: 'other' })).toMatchObject({ session: 'other', resumed: false });
    conn.close();
  });

  it('with receipts: true the welcome counts the session’s messages and receipt() confirms them', async () => {
    const server = new FakeServer({ receipts: true });
    const conn = server.connect({ reconnect: { initialDelay: 1 }, linger: 0 });
    conn.channel('log').send('one'); // a send-only connection: the send opens the socket
    const c = await server.nextConnection();
    expect(c.welcome()).toMatchObject({ received: 0 });
    await c.nextMessage('log');
    conn.channel('log').send('two');
    await c.nextMessage('log');
    expect(c.receipt()).toEqual({ type: 'receipt', received: 2 });
    expect(await c.waitForClose()).toMatchObject({ by: 'client', code: 1000 }); // confirmed: the send-only connection lingers out
  });
});

describe('FakeServer: scripting a session', () => {
  it('subscribed, publish and publishBinary reach the channel synchronously, through the codec', async () => {
    const server = new FakeServer({ autoWelcome: true });
    const conn = server.connect();
    const beats = conn.channel<{ bpm: number }>('p1');
    const values: unknown[] = [];
    const bytes: number[][] = [];
    const states: string[] = [];
    beats.subscribe((v) => values.push(v));
    beats.binary$.subscribe((b) => bytes.push([...b]));
    beats.state$.subscribe((s) => states.push(s));
    const c = await server.nextConnection();
    c.subscribed(await c.nextSubscribe('p1'), { epoch: 'e1', seq: 0 });
    expect(states.at(-1)).toBe('joined');
    expect(c.publish('p1', { bpm: 72 }, { seq: 1 })).toEqual({ type: 'publication', channel: 'p1', data: { bpm: 72 }, seq: 1 });
    expect(values).toEqual([{ bpm: 72 }]);
    c.publishBinary('p1', new Uint8Array([1, 2, 250]), { seq: 2 });
    expect(bytes).toEqual([[1, 2, 250]]);
    c.sendBatch([
      { type: 'publication', channel: 'p1', data: { bpm: 73 }, seq: 3 },
      { type: 'publication', channel: 'p1', data: { bpm: 74 }, seq: 4 },
    ]);
    expect(values).toEqual([{ bpm: 72 }, { bpm: 73 }, { bpm: 74 }]);
    conn.close();
  });

  it('answer, answerError, ack and refuse each reach exactly what they name (PROTOCOL.md 8.1)', async () => {
    const server = new FakeServer({ autoWelcome: true });
    const conn = server.connect();
    const stats = firstValueFrom(conn.channel('stats').request<{ total: number }>({ op: 'total' }));
    const failing = firstValueFrom(conn.channel('stats').request('x')).catch((e: unknown) => e);
    const acked = firstValueFrom(conn.channel('score').send({ goal: 1 }, { ack: true }));
    const refusedAck = firstValueFrom(conn.channel('score').send({ goal: 2 }, { ack: true })).catch((e: unknown) => e);
    const board = conn.channel('board');
    const boardValues: unknown[] = [];
    const boardErrors: RxmuxError[] = [];
    board.subscribe({ next: (v) => boardValues.push(v), error: (e: unknown) => boardValues.push(['ended', e]) });
    board.errors$.subscribe((e) => boardErrors.push(e));
    const secret = firstValueFrom(conn.channel('secret')).catch((e: unknown) => e);
    board.send('spam');

    const c = await server.nextConnection();
    const [first, second] = [await c.nextRequest('stats'), await c.nextRequest('stats')];
    c.answer(first, { total: 3 });
    c.answerError(second.id, 'E_NOPE', 'nope');
    c.ack(await c.nextMessage('score'));
    c.refuse(await c.nextMessage('score'), ErrorCode.NoHandler, 'no handler for score');
    c.refuse(await c.nextSubscribe('secret'), ErrorCode.Forbidden, 'not allowed');
    c.refuse(await c.nextMessage('board'), ErrorCode.Forbidden, 'not yours');
    c.publish('board', 'still here');

    expect(await stats).toEqual({ total: 3 });
    expect(await failing).toEqual(new RemoteError('E_NOPE', 'nope'));
    expect(await acked).toMatchObject({ id: expect.any(Number) as number });
    expect(await refusedAck).toMatchObject({ code: ErrorCode.NoHandler, channel: 'score' });
    expect(await secret).toEqual(new RemoteError(ErrorCode.Forbidden, 'not allowed', 'secret'));
    expect(boardErrors).toEqual([new RemoteError(ErrorCode.Forbidden, 'not yours', 'board')]);
    expect(boardValues).toEqual(['still here']); // a refused send ends nothing
    conn.close();
  });

  it('gap() names the since of the last subscribe by default; channel.gaps$ gets the notice', async () => {
    const server = new FakeServer({ autoWelcome: true });
    const conn = server.connect({ reconnect: { initialDelay: 1 } });
    const gaps: GapNotice[] = [];
    const p = conn.channel<number>('p');
    p.gaps$.subscribe((g) => gaps.push(g));
    p.subscribe();
    const c1 = await server.nextConnection();
    c1.subscribed(await c1.nextSubscribe('p'), { epoch: 'e1', seq: 0 });
    c1.publish('p', 1, { seq: 1 });
    c1.drop();
    const c2 = await server.nextConnection();
    expect(await c2.nextSubscribe('p')).toEqual({ type: 'subscribe', channel: 'p', since: 1, epoch: 'e1' });
    expect(c2.gap('p', { epoch: 'e1', seq: 50 })).toEqual({ type: 'gap', channel: 'p', epoch: 'e1', seq: 50, reason: 'history', since: 1 });
    expect(gaps).toEqual([{ channel: 'p', reason: 'history', since: 1, seq: 50, epoch: 'e1' }]);
    conn.close();
  });

  it('drop(4401) is fatal for the client; drop(1001) is retried', async () => {
    const server = new FakeServer({ autoWelcome: true });
    const fatal = server.connect({ url: 'ws://fake.test/a' });
    const end = firstValueFrom(fatal.channel('a')).catch((e: unknown) => e);
    (await server.nextConnection()).drop(4401, 'unauthorized');
    expect(await end).toMatchObject({ code: ErrorCode.ReconnectFailed });
    const retried = server.connect({ url: 'ws://fake.test/b', reconnect: { initialDelay: 1 } });
    retried.channel('b').subscribe();
    const before = await server.nextConnection();
    await before.nextSubscribe('b');
    before.drop(1001, 'going away');
    const after = await server.nextConnection();
    expect(await after.nextSubscribe('b')).toEqual({ type: 'subscribe', channel: 'b' });
    retried.close();
  });

  it('describeFrame and summary() word the client frames in one line', async () => {
    const server = new FakeServer({ autoWelcome: true });
    const conn = server.connect();
    conn.channel('a').subscribe();
    conn.channel('a').send({ n: 1 });
    conn.channel('a').sendBinary(new Uint8Array(3));
    conn.channel('q').request(null).subscribe({ error: () => undefined });
    const c = await server.nextConnection();
    await c.nextRequest();
    expect(c.summary()).toEqual(['hello', 'sub:a', 'msg:a:{"n":1}', 'msg:a:bytes3', 'req:q:1']);
    expect(describeFrame({ type: 'cancel', id: 4 })).toBe('cancel:4');
    expect(describeFrame({ type: 'ping', t: 1 })).toBe('ping');
    conn.close();
  });
});

describe('FakeServer: clear failures', () => {
  it('a wait for a frame that never comes fails after its timeout, listing what did arrive', async () => {
    const server = new FakeServer({ autoWelcome: true });
    const conn = server.connect();
    conn.channel('a').subscribe();
    const c = await server.nextConnection();
    await c.nextSubscribe('a');
    await expect(c.nextFrame('message', { channel: 'a', timeout: 20 })).rejects.toThrow(
      'no message on "a" arrived within 20 ms on connection 1 (ws://fake.test/rt, open, session s1) received [hello, (sub:a)]',
    );
    conn.close();
  });

  it('a wait on a socket that closes fails at once, saying so', async () => {
    const server = new FakeServer({ autoWelcome: true });
    const conn = server.connect();
    conn.channel('a').subscribe();
    const c = await server.nextConnection();
    const waiting = c.nextRequest('a', { timeout: 60_000 });
    await c.nextSubscribe('a');
    conn.close();
    await expect(waiting).rejects.toThrow(/no request on "a" arrived before the socket closed on connection 1 \(ws:\/\/fake.test\/rt, closed by the client \(1000 client closed\)\)/);
  });

  it('nextConnection() fails after its timeout with what the server saw', async () => {
    const server = new FakeServer();
    await expect(server.nextConnection({ timeout: 10 })).rejects.toThrow(/no new connection within 10 ms: 0 socket\(s\) opened so far.*first subscriber/);
    expect(() => server.last).toThrow(/no client has opened a socket/);
  });

  it('answering an id the session never received throws, naming the ids it did', async () => {
    const server = new FakeServer({ autoWelcome: true });
    const conn = server.connect();
    conn.channel('stats').request(1).subscribe({ error: () => undefined });
    conn.channel('log').send('plain');
    const c = await server.nextConnection();
    const request = await c.nextRequest('stats');
    expect(() => c.answer(request.id + 41, 'x')).toThrow(`answer(${request.id + 41}): session s1 received no request with id ${request.id + 41} (request ids so far: ${request.id})`);
    expect(() => c.ack(request.id)).toThrow(/received no message with id 1 \(message ids so far: none\)/);
    expect(() => c.ack(c.takeFrame('message'))).toThrow(/the message on "log" has no id: the client asks for an ack only with send\(data, \{ ack: true \}\)/);
    conn.close();
  });

  it('script calls at the wrong moment throw at once and say why', async () => {
    const server = new FakeServer();
    const conn = server.connect();
    const early: unknown[] = [];
    server.connection$.subscribe((c) => {
      try {
        c.accept();
      } catch (error) {
        early.push(error);
      }
    });
    conn.channel('a').subscribe();
    expect(early).toMatchObject([{ message: expect.stringMatching(/still constructing its socket/) as string }]);
    const c = await server.nextConnection();
    expect(() => c.publish('a', 1)).toThrow(/publish\(\) on a socket that is not open: connection 1 \(ws:\/\/fake.test\/rt, connecting, not accepted yet/);
    c.accept();
    expect(() => c.publish('a', 1)).toThrow(/publish\(\) before welcome\(\): the client drops such frames until it is welcomed/);
    expect(() => c.takeFrame('message')).toThrow(/no message has arrived on connection 1 .* received \[hello, sub:a\]/);
    c.welcome();
    expect(() => c.welcome()).toThrow(/welcome\(\) twice/);
    c.hangUp();
    expect(() => c.publish('a', 1)).toThrow(/publish\(\) after hangUp\(\)/);
    conn.close();
  });
});

describe('frames visibility (the rule documented on ScriptedConnection)', () => {
  it('what the test sends is handled synchronously; the hello and what a welcome releases are written synchronously; later frames after the current turn', async () => {
    const server = new FakeServer();
    const conn = server.connect();
    const seen: unknown[] = [];
    conn.channel('a').subscribe((v) => seen.push(v));
    conn.channel('b').send('buffered');
    const c = server.last;
    c.accept();
    expect(c.summary()).toEqual(['hello', 'sub:a']); // synchronously, on open: the hello batch (PROTOCOL.md 6.1)
    c.welcome();
    expect(c.summary()).toEqual(['hello', 'sub:a', 'msg:b:"buffered"']); // the buffer, before welcome() returned
    c.publish('a', 1);
    expect(seen).toEqual([1]); // synchronously, before publish() returned
    conn.channel('a').send('x');
    conn.channel('c').subscribe();
    expect(c.summary()).toEqual(['hello', 'sub:a', 'msg:b:"buffered"']); // not yet: written after this turn
    await Promise.resolve(); // one microtask: the coalesced write has gone out
    expect(c.summary()).toEqual(['hello', 'sub:a', 'msg:b:"buffered"', 'msg:a:"x"', 'sub:c']);
    expect(c.socket.sent).toHaveLength(3); // the hello batch, what the welcome released, this turn's batch
    conn.close();
  });

  it('under TestScheduler.run a frame sent while open is written at the same virtual time, after the actions already due then', () => {
    runMarbles(toEqual, ({ expectObservable, later }) => {
      const server = new FakeServer();
      const conn = server.connect();
      expectObservable(server.frames$.pipe(map(describeFrame)), '^ 40ms !').toBe(marbles([[5, 'hs'], [20, 'm']]), { h: 'hello', s: 'sub:a', m: 'msg:a:2' });
      conn.channel('a').subscribe();
      later(() => {
        server.last.welcome();
        expect(server.last.summary()).toEqual(['hello', 'sub:a']); // the welcome's re-join: before welcome() returned
      }, 5);
      later(() => {
        conn.channel('a').send(2);
        expect(server.last.summary()).toEqual(['hello', 'sub:a']); // not within the sending action
      }, 20);
      later(() => expect(server.last.summary()).toEqual(['hello', 'sub:a']), 20); // due at 20 before the write was queued: runs first
      later(() => expect(server.last.summary()).toEqual(['hello', 'sub:a', 'msg:a:2']), 21);
      later(() => conn.close(), 50);
    });
  });
});

describe('marble helpers', () => {
  it('runMarbles: autoWelcome on virtual time, status$ in STATUS_VALUES letters, channel values as marbles', () => {
    runMarbles(toEqual, ({ expectObservable, expectStatus, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 10 } });
      const conn = server.connect({ reconnect: { initialDelay: 100 }, linger: 50 });
      expectObservable(conn.channel<number>('p'), '^ 199ms !').toBe(marbles([[20, 'a'], [150, 'b']]), { a: 1, b: 2 });
      expectStatus(conn, marbles([[0, 'C'], [10, 'o'], [30, 'r'], [140, 'o'], [250, 'c']]));
      later(() => server.last.publish('p', 1), 20);
      later(() => server.last.drop(), 30); // retried after 100 ms: socket 2 at 130, welcomed at 140
      later(() => server.last.publish('p', 2), 150); // unsubscribed at 200, the channel lingers 50 ms
    });
  });

  it('pongs answer the client heartbeat; hangUp() leaves it to the heartbeat (close 4000, no close event from the server)', () => {
    runMarbles(toEqual, ({ expectStatus, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 10 } });
      const conn = server.connect({ heartbeat: { interval: 100, timeout: 50 }, reconnect: { initialDelay: 1000 } });
      const sub = conn.channel('a').subscribe();
      // Pings at 110, 210, …; each pong keeps the link up. After the hang-up the ping at 510 gets no pong:
      // 150 ms (interval + timeout) after the last frame, the pong at 410, the client gives up.
      later(() => server.last.hangUp(), 500);
      expectStatus(conn, marbles([[0, 'C'], [10, 'o'], [560, 'r']]), '^ 900ms !');
      later(() => {
        expect(server.connections[0]?.closed).toEqual({ code: 4000, reason: 'heartbeat timeout', by: 'client' });
        expect(server.connections[0]?.summary()).toEqual(['hello', 'sub:a', 'ping', 'ping', 'ping', 'ping', 'ping']);
      }, 600);
      later(() => sub.unsubscribe(), 900);
    });
  });

  it('what the client writes into a hung-up socket is recorded but not taken: the resumed session gets it again', () => {
    runMarbles(toEqual, ({ later }) => {
      const server = new FakeServer({ autoWelcome: { after: 5 }, receipts: true });
      const conn = server.connect({ heartbeat: { interval: 100, timeout: 50 }, reconnect: { initialDelay: 10 } });
      const sub = conn.channel('a').subscribe();
      later(() => conn.channel('a').send('one'), 10);
      later(() => server.last.receipt(), 20); // received: 1, the last frame the client hears
      later(() => server.last.hangUp(), 30);
      later(() => conn.channel('a').send('two'), 40); // into the half-open link
      // Silent since 20: the client gives up at 170 (4000), reconnects at 180, is welcomed at 185.
      later(() => {
        const [first, second] = server.connections;
        expect(first?.summary()).toEqual(['hello', 'sub:a', 'msg:a:"one"', 'msg:a:"two"', 'ping']);
        expect(first?.closed).toMatchObject({ code: 4000, by: 'client' });
        expect(second?.welcomed).toMatchObject({ session: 's1', resumed: true, received: 1 });
        expect(second?.summary()).toEqual(['hello', 'sub:a', 'msg:a:"two"']);
        second?.receipt(); // received: 2, or the client would hold the socket for it
        sub.unsubscribe();
      }, 250); // before the new socket's first ping, at 285
    });
  });

  it('a scenario that never ends fails with a message instead of running virtual time forever', () => {
    expect(() =>
      runMarbles(
        toEqual,
        () => {
          const server = new FakeServer({ autoWelcome: true });
          server.connect({ heartbeat: { interval: 100, timeout: 50 } }).channel('a').subscribe(); // pongs keep it alive, nobody leaves
        },
        { maxTime: 10_000 },
      ),
    ).toThrow(/runMarbles: the scenario was still running after 10000 ms of virtual time \(\d+ action\(s\) scheduled\): end what it started/);
  });

  it('marbles() builds diagrams from absolute times and refuses overlaps', () => {
    expect(marbles([[0, 'C'], [10, 'o'], [160, 'r']])).toBe('C 9ms o 149ms r');
    expect(marbles([[10, 'a'], [10, '|']])).toBe(' 10ms (a|)');
    expect(() => marbles([[0, 'ab'], [2, 'c']])).toThrow(/overlaps/);
    expect(STATUS_VALUES.o).toBe('open');
  });
});

describe('round trips through the codec (properties)', () => {
  it('whatever JSON the kit publishes, the channel emits it as JSON carries it', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 8 }), (values) => {
        const server = new FakeServer();
        const conn = server.connect();
        const seen: unknown[] = [];
        conn.channel('p').subscribe((v) => seen.push(v));
        server.last.welcome();
        for (const value of values) server.last.publish('p', value as JsonValue);
        expect(seen).toEqual(values.map((v) => JSON.parse(JSON.stringify(v)) as unknown));
        conn.close();
      }),
      { numRuns: 60 },
    );
  });

  it('whatever bytes the kit publishes, binary$ emits them; whatever the client sends, nextMessage() reads', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), fc.jsonValue(), async (bytes, value) => {
        const server = new FakeServer({ autoWelcome: true });
        const conn = server.connect();
        const got = firstValueFrom(conn.channel('p').binary$.pipe(take(1), toArray()));
        conn.channel('p').send(value as JsonValue);
        const c = await server.nextConnection();
        expect((await c.nextMessage('p')).data).toEqual(JSON.parse(JSON.stringify(value)) as unknown);
        c.publishBinary('p', bytes);
        expect((await got).map((b) => [...b])).toEqual([[...bytes]]);
        conn.close();
      }),
      { numRuns: 30 },
    );
  });
});

describe('the guide', () => {
  it("the README's “Testing your app” shows testing-guide.test.ts verbatim (so its example is the one npm test runs)", () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const guide = readFileSync(new URL('./testing-guide.test.ts', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Testing your app'));
    const block = /```ts\n([\s\S]*?)\n```/.exec(section)?.[1];
    expect(block).toBe(guide.trimEnd());
  });
});
