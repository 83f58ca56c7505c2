import { asapScheduler, asyncScheduler, Subject, type Observable, type SchedulerLike } from 'rxjs';
import type { Frame, TransferLimits } from '../protocol/frames.js';
import { DEFAULT_TRANSFER_LIMITS } from '../protocol/transfer.js';
import { connect } from '../connection/pool.js';
import type { Connection } from '../connection/connection.js';
import type { ConnectOptions } from '../connection/options.js';
import type { WebSocketConstructor } from '../transport/websocket.js';
import { FakeWebSocket } from './fake-socket.js';
import { ScriptedConnection, Session, type ServerContext, type WelcomeOptions } from './scripted-connection.js';
import { waitFor, type WaitOptions } from './wait.js';

/**
 * Options of {@link FakeServer}.
 *
 * @example
 * new FakeServer({ autoWelcome: { after: 10, limits: { maxFrameBytes: 65_536, maxBatch: 64, rate: 50, burst: 100 } }, receipts: true });
 */
export interface FakeServerOptions {
  /**
   * Accept and welcome every new socket without the test's help: `true`, or
   * the welcome's options with `after`, a delay in ms. Without a delay the
   * welcome comes on the next microtask (`asapScheduler`), with one on the
   * `asyncScheduler` (both on virtual time under `TestScheduler.run`).
   * Default: off, the test calls `welcome()`.
   */
  readonly autoWelcome?: boolean | (WelcomeOptions & { readonly after?: number });
  /** Answer the client's pings with pongs, on the next microtask, as a server must (PROTOCOL.md 7). Default `true`. */
  readonly pong?: boolean;
  /**
   * Welcomes carry `received`, the session's count of `message` envelopes,
   * as the reference server's do: the client then keeps each plain send
   * until a `receipt()` covers it (and holds its socket open meanwhile).
   * Default `false`: a server without receipts.
   */
  readonly receipts?: boolean;
  /** Default timeout of every wait, in ms of real time. Default 2 000. */
  readonly timeout?: number;
  /**
   * Speak protocol v2, chunked transfers (PROTOCOL.md 15), as the reference
   * server does: select `rxmux.v2` when the client offers it, announce these
   * transfer limits in the welcome (defaults: 64 KiB pieces and window,
   * 8 MiB messages, 4 transfers), put the client's pieces together (each
   * connection records the pieces and then the whole `message`, and credits
   * them at once unless `autoCredit` is `false`: then `credit()` does), and
   * send a large `publish()` in pieces as the client's window allows.
   * Default: off, the server speaks `rxmux.v1` (whole frames).
   */
  readonly transfers?: boolean | (Partial<TransferLimits> & { readonly autoCredit?: boolean });
  /** Scheduler of the server's own doings (pongs, `autoWelcome`). Default: `asapScheduler`, or `asyncScheduler` for a delayed welcome. */
  readonly scheduler?: SchedulerLike;
}

/**
 * Options of {@link FakeServer.connect}: the client's options, and the URL.
 *
 * @example
 * const conn = server.connect({ url: 'ws://test/other', linger: 0, heartbeat: { interval: 100, timeout: 50 } });
 */
export interface FakeConnectOptions extends ConnectOptions {
  /** Default `ws://fake.test/rt`. */
  readonly url?: string;
}

/**
 * A scripted rxmux server for tests, with no network: hand its
 * {@link WebSocket} constructor to `connect()`, and every socket the client
 * opens becomes a {@link ScriptedConnection} the test drives (welcome,
 * publish, answer, ack, refuse, drop). Frames go through the real codec both
 * ways. It works with any test runner (assertions stay in the test) and
 * under `TestScheduler.run` (see `runMarbles`).
 *
 * @example
 * import { connect } from '@rxmux/core';
 * import { FakeServer } from '@rxmux/core/testing';
 *
 * const server = new FakeServer();
 * const conn = connect('ws://test/rt', { WebSocket: server.WebSocket, shared: false });
 * const seen: unknown[] = [];
 * conn.channel('scores').subscribe((v) => seen.push(v));
 * const c = await server.nextConnection();
 * c.welcome();
 * c.subscribed(await c.nextSubscribe('scores'));
 * c.publish('scores', { home: 1 });
 * // seen: [{ home: 1 }]
 */
export class FakeServer {
  /** The WebSocket constructor to pass to `connect(url, { WebSocket })`. */
  readonly WebSocket: WebSocketConstructor;
  /** Every socket a client opened, as scripted connections, oldest first. */
  readonly connections: readonly ScriptedConnection[];
  /**
   * Each new connection, as the client constructs its socket (hot). Script
   * its fate from here in marble tests: the client attaches its listeners
   * after the constructor, so act from a later action, e.g.
   * `later(() => c.welcome(), 5)`.
   */
  readonly connection$: Observable<ScriptedConnection>;
  /** Every frame any client sent, decoded, as it is written (hot): a marble diagram of the client's traffic. */
  readonly frames$: Observable<Frame>;
  readonly #connections: ScriptedConnection[] = [];
  readonly #connection$ = new Subject<ScriptedConnection>();
  readonly #frames$ = new Subject<Frame>();
  readonly #sessions = new Map<string, Session>();
  readonly #timeout: number;
  /** Connections handed out by nextConnection(). */
  #claimed = 0;

  constructor(options: FakeServerOptions = {}) {
    this.#timeout = options.timeout ?? 2_000;
    this.connections = this.#connections;
    this.connection$ = this.#connection$.asObservable();
    this.frames$ = this.#frames$.asObservable();
    const transfers = options.transfers;
    const context: ServerContext = {
      timeout: this.#timeout,
      transfers:
        transfers === undefined || transfers === false
          ? undefined
          : { ...DEFAULT_TRANSFER_LIMITS, autoCredit: true, ...(transfers === true ? {} : transfers) },
      pong: options.pong ?? true,
      receipts: options.receipts ?? false,
      scheduler: options.scheduler,
      numberOf: (connection) => this.#connections.indexOf(connection) + 1,
      session: (id) => this.#sessions.get(id),
      newSession: (id) => {
        const session = new Session(id ?? this.#freshSessionId());
        this.#sessions.set(session.id, session);
        return session;
      },
      received: (frame) => this.#frames$.next(frame),
    };
    const auto = options.autoWelcome;
    const welcome = auto === undefined || auto === false ? undefined : auto === true ? {} : auto;
    const opened = (socket: FakeWebSocket): ScriptedConnection => {
      const connection = new ScriptedConnection(socket, context);
      this.#connections.push(connection);
      this.#connection$.next(connection);
      connection.ready();
      if (welcome !== undefined) {
        const { after = 0, ...fields } = welcome;
        (options.scheduler ?? (after > 0 ? asyncScheduler : asapScheduler)).schedule(() => {
          if (connection.closed === undefined && connection.welcomed === undefined && !connection.hungUp) connection.welcome(fields);
        }, after);
      }
      return connection;
    };
    this.WebSocket = class FakeServerSocket extends FakeWebSocket {
      readonly #connection: ScriptedConnection;

      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols === undefined ? [] : typeof protocols === 'string' ? [protocols] : protocols);
        this.#connection = opened(this);
      }

      override send(data: string | ArrayBufferLike | ArrayBufferView): void {
        super.send(data);
        this.#connection.record(this.sent.at(-1) as string | Uint8Array);
      }

      override close(code = 1000, reason = ''): void {
        if (this.readyState < FakeWebSocket.CLOSING) this.#connection.clientClosed(code, reason);
        super.close(code, reason);
      }
    };
  }

  /** The newest connection. Throws when no client has opened a socket yet. */
  get last(): ScriptedConnection {
    const last = this.#connections.at(-1);
    if (last === undefined) throw new Error('no client has opened a socket on this FakeServer yet');
    return last;
  }

  /** Sockets not closed yet (connecting, or open). */
  get openCount(): number {
    return this.#connections.filter((c) => c.closed === undefined).length;
  }

  /**
   * The next connection not yet handed out by `nextConnection()`: the first
   * call returns the first socket the client opened (even when it opened it
   * before the call), the next call the second, and so on, whether or not
   * the test reached them through `last` or `connections` meanwhile. Rejects
   * after the timeout with what the server saw.
   *
   * @example
   * const first = await server.nextConnection();
   * first.welcome();
   * first.drop();                                  // the network goes away
   * const second = await server.nextConnection();  // the client reconnects
   */
  nextConnection(options?: WaitOptions): Promise<ScriptedConnection> {
    return waitFor(
      this.#connection$,
      () => {
        const next = this.#connections[this.#claimed];
        if (next !== undefined) this.#claimed++;
        return next;
      },
      options?.timeout ?? this.#timeout,
      (why) =>
        `no new connection ${why}: ${this.#connections.length} socket(s) opened so far, ${this.#claimed} already handed out by nextConnection(). ` +
        'A client opens its socket when a channel gets its first subscriber, or on the first send.',
    );
  }

  /**
   * A client connection to this server, not pooled (`shared: false`), with
   * deterministic settings unless `options` says otherwise: no jitter in the
   * reconnect backoff, no client heartbeat.
   */
  connect(options: FakeConnectOptions = {}): Connection {
    const { url = 'ws://fake.test/rt', ...rest } = options;
    return connect(url, { shared: false, heartbeat: false, ...rest, reconnect: { jitter: 0, ...rest.reconnect }, WebSocket: this.WebSocket });
  }

  #freshSessionId(): string {
    let n = this.#sessions.size + 1;
    while (this.#sessions.has(`s${n}`)) n++;
    return `s${n}`;
  }
}
