import { connect, type Channel, type Connection, type ConnectionStatus } from '@rxmux/core';
import { FakeServer, marbles, runMarbles } from '@rxmux/core/testing';
import { firstValueFrom, lastValueFrom, Subscription } from 'rxjs';
import { describe, expect, it } from 'vitest';

// ---- the app: a scoreboard component on one channel ----

interface Score {
  readonly home: number;
  readonly away: number;
}
interface Goal {
  readonly team: 'home' | 'away';
}
interface Stats {
  readonly shots: number;
}

class ScoreBoard {
  /** What the board shows. */
  score = '–';
  /** The status light. */
  status: ConnectionStatus = 'closed';
  readonly #match: Channel<Score, Goal>;
  readonly #subscriptions = new Subscription();

  constructor(readonly conn: Connection) {
    this.#match = conn.channel<Score, Goal>('match-score');
    this.#subscriptions.add(this.#match.subscribe((s) => (this.score = `${s.home}–${s.away}`)));
    this.#subscriptions.add(conn.status$.subscribe((s) => (this.status = s)));
  }

  stats(): Promise<Stats> {
    return firstValueFrom(this.#match.request<Stats>({ op: 'stats' }));
  }

  /** Reports a goal; resolves once the server has acknowledged it. */
  async goal(team: Goal['team']): Promise<void> {
    await lastValueFrom(this.#match.send({ team }, { ack: true }));
  }

  destroy(): void {
    this.#subscriptions.unsubscribe();
    this.conn.close();
  }
}

// ---- its tests, on the test kit's fake server ----

describe('ScoreBoard', () => {
  it('shows the live score, asks for stats, reports a goal, and comes back after a reconnect', async () => {
    const server = new FakeServer();
    const board = new ScoreBoard(connect('ws://test/rt', { WebSocket: server.WebSocket, shared: false, reconnect: { initialDelay: 10 } }));

    // The board opened one socket: accept it, check the hello, welcome it.
    const c = await server.nextConnection();
    expect((await c.hello()).version).toBe(1);
    c.welcome();
    expect(board.status).toBe('open');

    // It joined its channel: confirm, publish, and the board shows it at once.
    const join = await c.nextSubscribe('match-score');
    c.subscribed(join, { epoch: 'e1', seq: 0 });
    c.publish('match-score', { home: 1, away: 0 }, { seq: 1 });
    expect(board.score).toBe('1–0');

    // A request, answered.
    const stats = board.stats();
    c.answer(await c.nextRequest('match-score'), { shots: 7 });
    expect(await stats).toEqual({ shots: 7 });

    // An acknowledged send.
    const goal = board.goal('home');
    const message = await c.nextMessage('match-score');
    expect(message.data).toEqual({ team: 'home' });
    c.ack(message);
    await goal;

    // The server goes away: the board reconnects, resumes after seq 1, and carries on.
    c.drop(1001, 'going away');
    expect(board.status).toBe('reconnecting');
    const again = await server.nextConnection();
    expect((await again.hello()).session).toBe(c.session);
    again.welcome();
    expect(await again.nextSubscribe('match-score')).toEqual({ type: 'subscribe', channel: 'match-score', since: 1, epoch: 'e1' });
    again.subscribed('match-score', { epoch: 'e1', seq: 1 });
    again.publish('match-score', { home: 2, away: 0 }, { seq: 2 });
    expect(board.score).toBe('2–0');

    board.destroy();
    expect(await again.waitForClose()).toEqual({ code: 1000, reason: 'client closed', by: 'client' });
  });

  it('ends with an error the server sends when it refuses the channel', async () => {
    const server = new FakeServer({ autoWelcome: true });
    const conn = connect('ws://test/rt', { WebSocket: server.WebSocket, shared: false });
    const ended = firstValueFrom(conn.channel('match-score')).catch((error: unknown) => error);
    const c = await server.nextConnection();
    c.refuse(await c.nextSubscribe('match-score'), 'RXMUX_ERR_FORBIDDEN', 'not for you');
    expect(await ended).toMatchObject({ code: 'RXMUX_ERR_FORBIDDEN', channel: 'match-score' });
    conn.close();
  });

  it('on virtual time: the status light and the scores as marble diagrams', () => {
    runMarbles((actual, expected) => expect(actual).toEqual(expected), ({ expectObservable, expectStatus, later }) => {
      const server = new FakeServer({ autoWelcome: { after: 10 } }); // every socket is welcomed 10 ms after it opens
      const conn = connect('ws://test/rt', { WebSocket: server.WebSocket, shared: false, reconnect: { initialDelay: 100, jitter: 0 } });
      const board = new ScoreBoard(conn);

      expectStatus(conn, marbles([[0, 'C'], [10, 'o'], [50, 'r'], [160, 'o'], [300, 'c'], [300, '|']]));
      expectObservable(conn.channel<Score>('match-score')).toBe(marbles([[20, 'a'], [170, 'b'], [300, '|']]), {
        a: { home: 1, away: 0 },
        b: { home: 2, away: 0 },
      });
      later(() => server.last.publish('match-score', { home: 1, away: 0 }), 20);
      later(() => server.last.drop(), 50); // back 100 ms later, at 150, welcomed at 160
      later(() => server.last.publish('match-score', { home: 2, away: 0 }), 170);
      later(() => {
        expect(board.score).toBe('2–0');
        board.destroy();
      }, 300);
    });
  });
});
