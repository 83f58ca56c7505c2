/** Counts per profile: `full` is the issue's, `quick` is scaled to finish in minutes, `smoke` is for the test. */
export interface Profile {
  readonly name: 'quick' | 'full' | 'smoke';
  /** Runs per contender (the table shows the median). */
  readonly runs: number;
  readonly faninOne: { readonly clients: 1; readonly each: number };
  readonly faninMany: { readonly clients: number; readonly each: number };
  /**
   * Round trip: requests measured after `warmup` unmeasured ones (the optimizing compiler of both
   * processes is still at work for the first few thousand: the bench README); the warm-up's last
   * nine tenths are reported apart as the p99 while the JIT warms up.
   */
  readonly rtt: { readonly n: number; readonly warmup: number };
  readonly fanout: { readonly clients: number; readonly publishes: number };
  /** Idle memory: connections, and the longest wait for V8 to give back the young generation the ramp grew. */
  readonly idle: { readonly clients: number; readonly settleTimeoutMs: number };
  readonly binary: { readonly chunks: number; readonly size: number };
  readonly routing: { readonly frames: number; readonly channels: readonly number[]; readonly batch: number; readonly budgetMs?: number };
  /** Scenario 7: rxmux delivery with the debug tap absent / off / on, at one channel count, batched and not; its own run count (the ratios are small, more runs steady the medians). */
  readonly tap: { readonly frames: number; readonly channels: number; readonly batch: number; readonly budgetMs?: number; readonly runs: number };
  /** Time to live: page loads per mode (each a fresh browser context). */
  readonly live: { readonly runs: number };
  /** Head-of-line blocking (scenario 11): runs per contender. */
  readonly hol: { readonly runs: number };
  /** Cross-node: publications timed one at a time (`latency`), then a burst of `count`, per run. */
  readonly crossNode: { readonly latency: number; readonly count: number };
  /** Pause after connecting, before measuring (lets handshakes and gc settle), in ms. */
  readonly settleMs: number;
  /** Bound on every wait of one run (connect, deliver, receive). */
  readonly timeoutMs: number;
  /** What differs from the counts, printed with the results. */
  readonly scaled: readonly string[];
}

/** The counts. */
export const FULL: Profile = {
  name: 'full',
  runs: 3,
  faninOne: { clients: 1, each: 200_000 },
  faninMany: { clients: 50, each: 4_000 },
  rtt: { n: 10_000, warmup: 5_000 },
  fanout: { clients: 1_000, publishes: 200 },
  idle: { clients: 2_000, settleTimeoutMs: 30_000 },
  binary: { chunks: 1_000, size: 16 * 1024 },
  routing: { frames: 1_000_000, channels: [1, 10, 100, 1_000], batch: 100 },
  tap: { frames: 1_000_000, channels: 10, batch: 100, runs: 5 },
  crossNode: { latency: 5_000, count: 100_000 },
  live: { runs: 5 },
  hol: { runs: 3 },
  settleMs: 300,
  timeoutMs: 120_000,
  scaled: ['round trip: 5,000 warm-up requests (issue: 500): the tail of the first 3,000 is the JIT warming up, reported on its own line'],
};

/** The default: the same scenarios with counts scaled down so the whole run stays under 5 minutes. */
export const QUICK: Profile = {
  ...FULL,
  name: 'quick',
  faninOne: { clients: 1, each: 50_000 },
  faninMany: { clients: 50, each: 1_000 },
  fanout: { clients: 500, publishes: 100 },
  idle: { clients: 1_000, settleTimeoutMs: 30_000 },
  routing: { frames: 200_000, channels: [1, 10, 100, 1_000], batch: 100, budgetMs: 1_000 },
  tap: { frames: 200_000, channels: 10, batch: 100, budgetMs: 1_000, runs: 5 },
  crossNode: { latency: 1_000, count: 20_000 },
  timeoutMs: 60_000,
  scaled: [
    'fan-in 1 client: 50,000 messages (issue: 200,000)',
    'fan-in 50 clients: 1,000 each (issue: 4,000)',
    'round trip: 5,000 warm-up requests (issue: 500): the tail of the first 3,000 is the JIT warming up, reported on its own line',
    'fan-out: 500 clients × 100 publishes (issue: 1,000 × 200)',
    'idle memory: 1,000 connections (issue: 2,000)',
    'routing: up to 200,000 frames or 1 s per point (issue: 1,000,000 frames)',
  ],
};

/** Tiny counts for the smoke test: checks the harness, measures nothing meaningful. */
export const SMOKE: Profile = {
  name: 'smoke',
  runs: 1,
  faninOne: { clients: 1, each: 300 },
  faninMany: { clients: 3, each: 100 },
  rtt: { n: 30, warmup: 5 },
  fanout: { clients: 4, publishes: 5 },
  idle: { clients: 5, settleTimeoutMs: 2_000 },
  binary: { chunks: 5, size: 16 * 1024 },
  routing: { frames: 2_000, channels: [1, 10], batch: 100, budgetMs: 200 },
  tap: { frames: 2_000, channels: 10, batch: 100, budgetMs: 200, runs: 1 },
  crossNode: { latency: 20, count: 200 },
  live: { runs: 1 },
  hol: { runs: 1 },
  settleMs: 10,
  timeoutMs: 10_000,
  scaled: ['smoke profile: tiny counts, numbers are not meaningful'],
};

export const PROFILES = { quick: QUICK, full: FULL, smoke: SMOKE } as const;
