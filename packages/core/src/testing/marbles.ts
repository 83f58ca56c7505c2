import { TestScheduler, type RunHelpers } from 'rxjs/testing';
import type { Connection } from '../connection/connection.js';
import type { ConnectionStatus } from '../connection/status.js';

/**
 * One letter per connection status, for `status$` marble diagrams:
 * `C` connecting, `o` open, `r` reconnecting, `c` closed, `f` failed.
 *
 * @example
 * expectObservable(conn.status$).toBe('C 9ms o', STATUS_VALUES);
 */
export const STATUS_VALUES = { c: 'closed', C: 'connecting', o: 'open', r: 'reconnecting', f: 'failed' } as const satisfies Record<string, ConnectionStatus>;

/**
 * Builds a marble diagram from (virtual time, symbols) pairs, so a timeline
 * reads as the times the scenario names rather than as counted dashes.
 * Symbols at the same time form a group; `end` is appended (`'|'`, `'#'`).
 * Throws when an event would overlap the previous group (a group of n
 * symbols takes n + 2 frames).
 *
 * @example
 * marbles([[0, 'C'], [10, 'o'], [160, 'r']]);  // 'C 9ms o 149ms r'
 * marbles([[10, 'a'], [10, '|']]);              // ' 10ms (a|)'
 */
export function marbles(events: readonly (readonly [number, string])[], end = ''): string {
  const byTime = new Map<number, string>();
  for (const [time, symbol] of events) byTime.set(time, (byTime.get(time) ?? '') + symbol);
  let out = '';
  let now = 0;
  for (const [time, symbols] of [...byTime.entries()].sort((a, b) => a[0] - b[0])) {
    if (time < now) throw new Error(`marbles: event at ${time} overlaps the previous group (now ${now})`);
    if (time > now) out += ` ${time - now}ms `;
    out += symbols.length === 1 ? symbols : `(${symbols})`;
    now = time + (symbols.length === 1 ? 1 : symbols.length + 2);
  }
  return out + end;
}

/**
 * The deep equality of your test runner: it throws when `actual` and `expected` differ.
 *
 * @example
 * const vitestOrJest: DeepEqual = (actual, expected) => expect(actual).toEqual(expected);
 * const nodeTest: DeepEqual = (actual, expected) => assert.deepStrictEqual(actual, expected);
 */
export type DeepEqual = (actual: unknown, expected: unknown) => unknown;

/**
 * What {@link runMarbles} hands the scenario: RxJS's run helpers, plus two for rxmux.
 *
 * @example
 * runMarbles(deepEqual, ({ expectStatus, later }: MarbleScenario) => {
 *   const server = new FakeServer({ autoWelcome: { after: 5 } });
 *   const conn = server.connect();
 *   conn.channel('a').subscribe();
 *   later(() => server.last.drop(1001), 20);
 *   expectStatus(conn, 'C 4ms o 14ms r', '^ 30ms !');
 * });
 */
export interface MarbleScenario extends RunHelpers {
  /**
   * Runs `fn` `ms` of virtual time from now (from the start, at the top of
   * the scenario; from the current action, inside one).
   */
  readonly later: (fn: () => void, ms: number) => void;
  /** Asserts a connection's `status$` as a marble diagram in {@link STATUS_VALUES} letters. */
  readonly expectStatus: (conn: Connection, expected: string, subscription?: string) => void;
}

/**
 * Runs a scenario under `TestScheduler.run`: every RxJS timer (the
 * connection's backoff, heartbeat, linger and timeouts, the client's
 * coalesced writes, a `FakeServer`'s welcomes and pongs) runs on virtual time,
 * and the marble assertions are checked when the scenario has run. The
 * assertions are your test runner's: pass its deep equality (or a
 * `TestScheduler` of your own).
 *
 * Under virtual time nothing can be awaited: script the server from
 * `later()` actions, `server.connection$` and `autoWelcome`, and take client
 * frames with `takeFrame()`. A frame the client sends at time t while open
 * is written at t, after the actions already due at t (a check at t + 1 sees
 * it; `server.frames$` shows it at t).
 *
 * A scenario must end: when something is still scheduled after `maxTime`
 * (a connection left open keeps its heartbeat going, a plain send waits for
 * its receipt), `runMarbles` throws instead of running virtual time forever.
 *
 * @example
 * runMarbles((actual, expected) => expect(actual).toEqual(expected), ({ expectObservable, expectStatus, later }) => {
 *   const server = new FakeServer({ autoWelcome: { after: 10 } });
 *   const conn = server.connect();
 *   expectObservable(conn.channel('p'), '^ 100ms !').toBe(marbles([[20, 'a']]), { a: 1 });
 *   expectStatus(conn, marbles([[0, 'C'], [10, 'o']]), '^ 100ms !');
 *   later(() => server.last.publish('p', 1), 20);
 * });
 */
export function runMarbles<T>(assert: TestScheduler | DeepEqual, body: (scenario: MarbleScenario) => T, options: RunMarblesOptions = {}): T {
  const scheduler =
    assert instanceof TestScheduler
      ? assert
      : new TestScheduler((actual: unknown, expected: unknown) => {
          assert(actual, expected);
        });
  const maxTime = options.maxTime ?? 600_000;
  const result = scheduler.run((helpers) => {
    scheduler.maxFrames = maxTime; // run() lifts the limit; the flush after the body stops here
    return body({
      ...helpers,
      later: (fn, ms) => void scheduler.schedule(fn, ms),
      expectStatus: (conn, expected, subscription) => helpers.expectObservable(conn.status$, subscription).toBe(expected, STATUS_VALUES),
    });
  });
  const pending = scheduler.actions.length;
  if (pending > 0) {
    for (const action of scheduler.actions.splice(0)) action.unsubscribe();
    throw new Error(
      `runMarbles: the scenario was still running after ${maxTime} ms of virtual time (${pending} action(s) scheduled): ` +
        'end what it started (unsubscribe, conn.close(), a receipt for plain sends when the server counts them), or raise maxTime',
    );
  }
  return result;
}

/** Options of {@link runMarbles}. */
export interface RunMarblesOptions {
  /**
   * Virtual milliseconds by which the scenario must have ended. Default
   * 600 000 (ten minutes of virtual time, a few milliseconds of real time).
   *
   * @example
   * runMarbles(deepEqual, scenario, { maxTime: 3_600_000 }); // an hour of token refreshes
   */
  readonly maxTime?: number;
}
