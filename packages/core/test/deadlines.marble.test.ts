import { asyncScheduler, type SchedulerAction, type SchedulerLike, type Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { Deadlines } from '../src/connection/deadlines.js';

/** Runs `body` on virtual time; returns what fired, as [key, virtual ms]. */
function run(body: (deadlines: Deadlines<string>, at: (ms: number, f: () => void) => void, log: (key: string) => () => void) => void): [string, number][] {
  const fired: [string, number][] = [];
  const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
  scheduler.run(({ flush }) => {
    // Inside `run`, asyncScheduler is virtual: what Deadlines schedules and `at` line up.
    const deadlines = new Deadlines<string>(asyncScheduler);
    const log = (key: string) => () => void fired.push([key, asyncScheduler.now()]);
    body(deadlines, (ms, f) => asyncScheduler.schedule(f, ms), log);
    flush();
  });
  return fired;
}

describe('Deadlines (one scheduler action for many timeouts)', () => {
  it('fires each deadline at its exact time, in time order, whatever order they came in', () => {
    const fired = run((d, at, log) => {
      d.add('a', 100, log('a'));
      at(10, () => d.add('b', 30, log('b'))); // due at 40: earlier than a, re-arms
      at(20, () => d.add('c', 200, log('c'))); // due at 220
    });
    expect(fired).toEqual([
      ['b', 40],
      ['a', 100],
      ['c', 220],
    ]);
  });

  it('a deleted deadline never fires; the rest still do', () => {
    const fired = run((d, at, log) => {
      d.add('answered', 50, log('answered'));
      d.add('slow', 80, log('slow'));
      at(30, () => d.delete('answered'));
    });
    expect(fired).toEqual([['slow', 80]]);
  });

  it('requests answered one after another cost no timer each: the action re-arms once per look', () => {
    let schedules = 0;
    const fired: string[] = [];
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ flush }) => {
      const counting: SchedulerLike = {
        now: () => asyncScheduler.now(),
        schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T): Subscription {
          schedules++;
          return asyncScheduler.schedule(work, delay, state);
        },
      };
      const d = new Deadlines<number>(counting);
      // 1,000 sequential requests, each answered 1 ms after it was sent, each with a 100 ms timeout.
      for (let i = 0; i < 1000; i++) {
        asyncScheduler.schedule(() => d.add(i, 100, () => fired.push(`late ${i}`)), i);
        asyncScheduler.schedule(() => d.delete(i), i + 1);
      }
      flush();
    });
    expect(fired).toEqual([]);
    expect(schedules).toBeLessThanOrEqual(11); // the first arm, then one re-arm per 100 ms look
  });

  it('a deadline added or deleted by a fire is honoured; clear() cancels everything', () => {
    const fired = run((d, at, log) => {
      d.add('first', 10, () => {
        log('first')();
        d.add('chained', 5, log('chained'));
        d.delete('doomed');
      });
      d.add('doomed', 12, log('doomed'));
      d.add('cleared', 50, log('cleared'));
      at(20, () => d.clear());
    });
    expect(fired).toEqual([
      ['first', 10],
      ['chained', 15],
    ]);
  });
});
