/**
 * The stage of the short hostile-client suite (issue 14, item 6): the same
 * attacks as `npm run soak -- --attacks` (`packages/bench/src/soak/attacks.ts`),
 * a few seconds each, in process, against the same target server, with ten
 * legitimate clients (real `@rxmux/core` connections, each from its own
 * loopback address) on a 50 msg/s feed throughout. It reports what the
 * legitimate clients got (lost, duplicated, reordered, disconnects), what
 * the attacker saw, and the server's own counters (`server.metrics()`),
 * sampled during the attack: bounds are asserted on those, never on RSS or
 * on time.
 */
import { afterEach, expect } from 'vitest';
import type { AddressUsage, ServerMetrics } from '@rxmux/server';
import { ATTACKS, attackNamed } from '../../packages/bench/src/soak/attacks.js';
import { Feed, Tracker, type DeliveryReport } from '../../packages/bench/src/soak/feed.js';
import { ATTACKER_ADDRESS, boundWebSocket, clientAddress } from '../../packages/bench/src/soak/loopback.js';
import { startTarget, type Target } from '../../packages/bench/src/soak/target.js';
import type { AttackTally, TargetOptions } from '../../packages/bench/src/soak/types.js';
import { client, opened } from '../support/real.js';
import { sleep, until } from '../support/wait.js';

/** The names of every attack (each has a short test). */
export const ATTACK_NAMES: readonly string[] = ATTACKS.map((a) => a.name);

/** The numeric counters of `server.metrics()`. */
export type Counters = { readonly [K in keyof ServerMetrics as ServerMetrics[K] extends number ? K : never]: number };

/** What an attack came to. */
export interface AttackOutcome {
  readonly target: Target;
  /** The legitimate clients' feed over the whole attack. */
  readonly delivery: DeliveryReport;
  /** Whether every legitimate client is still open at the end (and none failed). */
  readonly allOpen: boolean;
  /** What the attacker saw (close codes, statuses, bytes). */
  readonly tally: AttackTally;
  /** The largest value of each counter while the attack ran (sampled every 20 ms). */
  readonly peak: Counters;
  /** The most the attacker's address held at once of each kind (`metrics().addresses`), sampled with the counters. */
  readonly attacker: AddressUsage;
  /** The counters once the attack stopped. */
  readonly end: ServerMetrics;
}

const targets: Target[] = [];

afterEach(async () => {
  await Promise.all(targets.splice(0).map((t) => t.server.close()));
});

/**
 * Runs attack `name` (its `'short'` size) for `seconds` against a fresh
 * target server (`options`, authenticating by default) with `legit`
 * legitimate clients on its feed.
 */
export async function underAttack(name: string, options: { readonly target?: TargetOptions; readonly seconds?: number; readonly legit?: number } = {}): Promise<AttackOutcome> {
  const attack = attackNamed(name);
  const target = await startTarget({ auth: true, ...options.target });
  targets.push(target);
  const { server, port } = target;
  const preload = attack.preload?.('short');
  if (preload !== undefined) {
    const pad = 'p'.repeat(preload.bytes);
    for (const channel of preload.channels) for (let i = 0; i < preload.count; i++) await server.publish(channel, { i, pad });
  }
  // Ten legitimate clients, each from its own address, on the feed.
  const tracker = new Tracker();
  const conns = Array.from({ length: options.legit ?? 10 }, (_, i) => {
    const conn = client(`ws://127.0.0.1:${port}/rt`, { WebSocket: boundWebSocket(clientAddress(i, 1)), token: `legit-${i}` });
    const { tally, receive } = tracker.add();
    conn.channel('feed').subscribe({ next: receive, error: () => undefined });
    let wasOpen = false;
    conn.status$.subscribe((s) => {
      if (s === 'open') wasOpen = true;
      else if (wasOpen) {
        tally.disconnects++;
        wasOpen = false;
      }
    });
    return conn;
  });
  await Promise.all(conns.map((c) => opened(c)));
  await until(async () => (await server.presence('feed')).length === conns.length, 10_000);
  const feed = new Feed((m) => void server.publish('feed', { ...m }).catch(() => undefined), 50, 128);
  tracker.arm(1);
  feed.start();
  await sleep(200); // the feed flows before the attack starts
  // The attack, from the attacker's own address, while the server's counters are sampled.
  const tally: AttackTally = {};
  const peak: Record<string, number> = {};
  const held = { connections: 0, streams: 0, polls: 0, requests: 0 };
  const sampler = setInterval(() => {
    const m = server.metrics();
    for (const [k, v] of Object.entries(m)) if (typeof v === 'number' && v > (peak[k] ?? Number.NEGATIVE_INFINITY)) peak[k] = v;
    for (const [address, usage] of Object.entries(m.addresses)) {
      if (!address.endsWith(ATTACKER_ADDRESS)) continue;
      for (const kind of ['connections', 'streams', 'polls', 'requests'] as const) held[kind] = Math.max(held[kind], usage[kind]);
    }
  }, 20);
  try {
    await attack.run({ port, localAddress: ATTACKER_ADDRESS, token: 'attacker' }, Date.now() + (options.seconds ?? 2.5) * 1000, 'short', tally);
  } finally {
    clearInterval(sampler);
  }
  await sleep(200); // and goes on after it
  const to = feed.stop();
  await until(() => tracker.caughtUp(to), 20_000);
  const statuses = await Promise.all(conns.map((c) => new Promise<string>((resolve) => c.status$.subscribe((s) => resolve(s)).unsubscribe())));
  return { target, delivery: tracker.report(to), allOpen: statuses.every((s) => s === 'open'), tally, peak: peak as Counters, attacker: held, end: server.metrics() };
}

/** The legitimate clients got every feed message once, in order, and are still connected. */
export function expectUnharmed(o: AttackOutcome): void {
  const d = o.delivery;
  expect(d.expected).toBeGreaterThan(0);
  expect({ lost: d.lost, duplicated: d.duplicated, disconnects: d.disconnects, behind: d.behind, allOpen: o.allOpen }).toEqual({ lost: 0, duplicated: 0, disconnects: 0, behind: 0, allOpen: true });
}
