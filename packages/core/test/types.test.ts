/**
 * Type tests (issue 11.3): checked by `tsc -p packages/core/test` (part of
 * `npm test`), asserted with vitest's `expectTypeOf`; each `@ts-expect-error`
 * is a refusal the compiler must make (an unused one fails the build). The
 * bodies are compiled, never run.
 */
import type { Observable } from 'rxjs';
import { describe, expectTypeOf, it } from 'vitest';
import type { Ack, Channel, Connection, JsonSafe, JsonValue } from '@rxmux/core';
import { events } from '@rxmux/core/events';

interface Beat {
  bpm: number;
  zone?: 'green' | 'red';
  player: { id: string; tags: readonly string[] };
}
interface Submission {
  team: 'home' | 'away';
  note: string;
}
interface Accepted {
  seq: number;
}
interface WithDate {
  at: Date;
}

declare const conn: Connection;

describe('typed channels', () => {
  it('a channel emits In and sends Out (In by default); interfaces are accepted', () => {
    // Compiled, never run: the checks are the compiler's.
    expectTypeOf(() => {
      const beats = conn.channel<Beat>('player-1');
      expectTypeOf(beats).toEqualTypeOf<Channel<Beat, Beat>>();
      expectTypeOf(beats).toExtend<Observable<Beat>>();
      beats.send({ bpm: 72, player: { id: 'p1', tags: [] } });
      expectTypeOf(beats.send({ bpm: 72, player: { id: 'p1', tags: ['a'] } }, { ack: true })).toEqualTypeOf<Observable<Ack>>();
      // @ts-expect-error a Beat needs its bpm
      beats.send({ player: { id: 'p1', tags: [] } });
      // @ts-expect-error not a Beat
      beats.send('72');
    }).toBeFunction();
  });

  it('In and Out may differ: what the server answers is not what the client sends', () => {
    // Compiled, never run: the checks are the compiler's.
    expectTypeOf(() => {
      const input = conn.channel<Accepted, Submission>('manual-input');
      expectTypeOf(input).toExtend<Observable<Accepted>>();
      input.send({ team: 'home', note: 'goal' });
      // @ts-expect-error Accepted is what comes in, not what goes out
      input.send({ seq: 1 });
    }).toBeFunction();
  });

  it('values JSON cannot carry are refused at compile time', () => {
    // Compiled, never run: the checks are the compiler's.
    expectTypeOf(() => {
      const dated = conn.channel<WithDate>('dated');
      // @ts-expect-error a Date is not JSON
      dated.send({ at: new Date() });
      expectTypeOf<JsonSafe<WithDate>>().toEqualTypeOf<{ readonly at: never }>();
      expectTypeOf<JsonSafe<() => void>>().toBeNever();
      expectTypeOf<JsonSafe<Uint8Array>>().toBeNever();
    }).toBeFunction();
  });

  it('without type arguments a channel carries JsonValue', () => {
    // Compiled, never run: the checks are the compiler's.
    expectTypeOf(() => {
      const plain = conn.channel('plain');
      expectTypeOf(plain).toEqualTypeOf<Channel<JsonValue, JsonValue>>();
      plain.send({ any: ['json', 1, null, { nested: true }] });
      // @ts-expect-error undefined is not JSON
      plain.send(undefined);
    }).toBeFunction();
  });

  it('binary frames have their own typed stream', () => {
    // Compiled, never run: the checks are the compiler's.
    expectTypeOf(() => {
      expectTypeOf(conn.channel<Beat>('player-1').binary$).toEqualTypeOf<Observable<Uint8Array>>();
    }).toBeFunction();
  });

  it('request<Res, Req>: the answer is typed, the request data checked like send', () => {
    // Compiled, never run: the checks are the compiler's.
    expectTypeOf(() => {
      const stats = conn.channel('match').request<{ avg: number }>({ op: 'stats' });
      expectTypeOf(stats).toEqualTypeOf<Observable<{ avg: number }>>();
      expectTypeOf(conn.channel('match').request(null)).toEqualTypeOf<Observable<JsonValue>>();
      conn.channel('match').request<number, Submission>({ team: 'away', note: '' });
      // @ts-expect-error a function is not JSON
      conn.channel('match').request(() => 1);
    }).toBeFunction();
  });

  it('events<T>(conn, id) emits T; { binary: true } its bytes', () => {
    // Compiled, never run: the checks are the compiler's.
    expectTypeOf(() => {
      expectTypeOf(events<Beat>(conn, 'score')).toEqualTypeOf<Observable<Beat>>();
      expectTypeOf(events(conn, 'score', { binary: true })).toEqualTypeOf<Observable<Uint8Array>>();
      // The event stream is not part of Connection (import events from '@rxmux/core/events'): nothing to tree-shake away.
      expectTypeOf<Connection>().not.toHaveProperty('events');
    }).toBeFunction();
  });
});
