import { asyncScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { HeartbeatTimeoutError } from '@rxmux/core';
import { runMarbles } from '@rxmux/core/testing';
import { backoffTimer, DEFAULT_BACKOFF } from '../src/operators/backoff.js';
import { heartbeat } from '../src/operators/heartbeat.js';
import { linger } from '../src/operators/linger.js';
import { toEqual } from './helpers.js';

// Inside `run`, the async scheduler is virtual: the operators under test use it.

describe('heartbeat operator (marbles)', () => {
  it('errors when the first event is later than connectTimeout', () => {
    const dead: unknown[] = [];
    runMarbles(toEqual, ({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('     50ms a');
      const result = source.pipe(heartbeat({ interval: 10, timeout: 5 }, 30, asyncScheduler, (e) => dead.push(e)));
      expectObservable(result).toBe('30ms #', undefined, new HeartbeatTimeoutError('no connection within 30 ms'));
      expectSubscriptions(source.subscriptions).toBe('^ 29ms !');
    });
    expect(dead).toEqual([new HeartbeatTimeoutError('no connection within 30 ms')]); // onDead ran, once, with the error
  });

  it('errors after interval + timeout of silence; every event moves the deadline', () => {
    runMarbles(toEqual, ({ cold, expectObservable }) => {
      //                         events at 0, 10, 20, then silence: the 15 ms window ends at 35
      const source = cold('      a 9ms b 9ms c 99ms d');
      expectObservable(source.pipe(heartbeat({ interval: 10, timeout: 5 }, 30, asyncScheduler))).toBe(
        'a 9ms b 9ms c 14ms #',
        undefined,
        new HeartbeatTimeoutError('no frame for 15 ms: link presumed dead'),
      );
    });
  });

  it('with heartbeat false only the connect timeout applies', () => {
    runMarbles(toEqual, ({ cold, expectObservable }) => {
      expectObservable(cold('a 999ms b|').pipe(heartbeat(false, 30, asyncScheduler))).toBe('a 999ms b|');
    });
  });
});

describe('linger operator (marbles)', () => {
  it('keeps the source subscribed for the linger after the last subscriber, and reuses it within the window', () => {
    runMarbles(toEqual, ({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a 9ms b 9ms c 9ms d 9ms e 9ms f');
      const shared = source.pipe(linger(15, asyncScheduler));
      expectObservable(shared, '^ 12ms !').toBe('a 9ms b');
      expectObservable(shared, '20ms ^ 10ms !').toBe('20ms c 9ms d'); // resubscribed 7 ms after: same source
      expectSubscriptions(source.subscriptions).toBe('^ 45ms !'); // released 15 ms after the last one left at 31
    });
  });
});

describe('backoff timer (marbles)', () => {
  it('fires after the exponential, capped delay', () => {
    runMarbles(toEqual, ({ expectObservable }) => {
      const policy = { ...DEFAULT_BACKOFF, initialDelay: 10, maxDelay: 30, jitter: 0 };
      expectObservable(backoffTimer(1, policy, asyncScheduler)).toBe('10ms (0|)', { 0: 0 });
      expectObservable(backoffTimer(3, policy, asyncScheduler)).toBe('30ms (0|)', { 0: 0 });
      expectObservable(backoffTimer(9, policy, asyncScheduler)).toBe('30ms (0|)', { 0: 0 });
    });
  });
});
