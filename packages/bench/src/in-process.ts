/**
 * The in-process client scenarios: routing (scenario 6: decode and deliver
 * publication frames, rxmux against RxJS `multiplex` and the JSON floor) and
 * the debug tap's cost (scenario 7), each kind in a child process of its own.
 */
import { loadavg } from 'node:os';
import type { BenchOptions, Metric, ScenarioResult, Verdict } from './harness.js';
import { Child } from './ipc.js';
import type { RouterKind, RoutingResult, TapMode } from './routing.js';
import { emptyRuns, mediansOf, PAYLOAD, ratio, ratioText, rotation } from './util.js';

/** Scenario 6. */
export async function runRouting(options: BenchOptions, runs: number): Promise<ScenarioResult> {
  const { profile } = options;
  const started = Date.now();
  const loadBefore = loadavg();
  const kinds: RouterKind[] = ['multiplex', 'rxmux-unbatched', 'rxmux', 'floor', 'floor-unbatched'];
  const metrics: Metric[] = profile.routing.channels.map((n) => ({ key: `ch${n}`, label: `frames/s, ${n.toLocaleString('en-US')} channel${n === 1 ? '' : 's'}`, better: 'higher' }));
  const all = emptyRuns(kinds, metrics);
  const errors: string[] = [];
  const title = `6. Client routing (in process): ${profile.routing.budgetMs ? 'up to ' : ''}${profile.routing.frames.toLocaleString('en-US')} publication frames per point${profile.routing.budgetMs ? ` or ${profile.routing.budgetMs / 1000} s` : ''}, one subscriber per channel`;
  options.log?.(`\n${title}  [load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}]`);
  await measurePoints(options, runs, 'routing', kinds, all, errors, (kind) =>
    profile.routing.channels.map((n) => ({
      key: `ch${n}`,
      label: `${kind.padEnd(15)} ${String(n).padStart(5)} channels`,
      args: { kind, channels: n, frames: profile.routing.frames, batch: profile.routing.batch, ...(profile.routing.budgetMs ? { budgetMs: profile.routing.budgetMs } : {}) },
    })),
  );
  const medians = mediansOf(all);
  const rx = medians.rxmux ?? {};
  const rxValues = profile.routing.channels.map((n) => rx[`ch${n}`] ?? Number.NaN);
  const flatness = Math.min(...rxValues) / Math.max(...rxValues);
  const verdicts: Verdict[] = [];
  /** The worst point's ratio of `kind` to its floor. */
  const toFloor = (kind: RouterKind, floor: RouterKind): number =>
    Math.min(...profile.routing.channels.map((n) => ratio(medians[kind]?.[`ch${n}`], medians[floor]?.[`ch${n}`])));
  const batched = toFloor('rxmux', 'floor');
  const unbatched = toFloor('rxmux-unbatched', 'floor-unbatched');
  verdicts.push({ target: 'batched within 10 % of the JSON floor', met: batched >= 0.9, detail: `worst point rxmux / floor = ${ratioText(batched)}` });
  verdicts.push({ target: 'unbatched within 20 % of the JSON floor', met: unbatched >= 0.8, detail: `worst point rxmux-unbatched / floor-unbatched = ${ratioText(unbatched)}` });
  if (profile.routing.channels.includes(100)) {
    const r100 = ratio(rx.ch100, medians.multiplex?.ch100);
    verdicts.push({ target: '≥ 10× multiplex at 100 channels (issue 6)', met: r100 >= 10, detail: `rxmux / multiplex = ${ratioText(r100)}` });
  }
  verdicts.push({ target: 'flat in the channel count', met: flatness >= 0.7, detail: `slowest / fastest rxmux point = ${flatness.toFixed(2)} (bar: ≥ 0.70)` });
  return {
    id: 'routing',
    title,
    contenders: kinds,
    metrics,
    ratios: [['rxmux', 'multiplex'], ['rxmux-unbatched', 'multiplex'], ['floor', 'multiplex'], ['rxmux', 'floor'], ['rxmux-unbatched', 'floor-unbatched']],
    runs: all,
    medians,
    verdicts,
    loadBefore,
    seconds: (Date.now() - started) / 1000,
    errors,
  };
}

/**
 * Scenario 7: what the debug tap costs the client's delivery. The routing
 * scenario's rxmux path (a real `Connection` on a fake socket, publication
 * frames to one subscriber per channel) with the tap absent, off and on;
 * batched as the server writes under load, and one envelope per message.
 */
/** Scenario 7. */
export async function runTap(options: BenchOptions, runs: number): Promise<ScenarioResult> {
  const { profile } = options;
  const { tap } = profile;
  const started = Date.now();
  const loadBefore = loadavg();
  const modes: TapMode[] = ['absent', 'off', 'on'];
  const shapes = [
    { key: 'batched', batch: tap.batch, kind: 'rxmux' as const, label: `frames/s, batches of ${tap.batch}` },
    { key: 'unbatched', batch: 1, kind: 'rxmux-unbatched' as const, label: 'frames/s, one frame per message' },
  ];
  const metrics: Metric[] = shapes.map((s) => ({ key: s.key, label: s.label, better: 'higher' }));
  const all = emptyRuns(modes, metrics);
  const errors: string[] = [];
  const title = `7. Debug tap overhead (in process): rxmux delivery over ${tap.channels} channels, ${tap.budgetMs ? 'up to ' : ''}${tap.frames.toLocaleString('en-US')} frames per point${tap.budgetMs ? ` or ${tap.budgetMs / 1000} s` : ''}; tap absent (devtools: false), off (nobody listens), on (conn.debug with a counting listener)`;
  options.log?.(`\n${title}  [load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}]`);
  await measurePoints(options, runs, 'tap', modes, all, errors, (mode) =>
    shapes.map((shape) => ({
      key: shape.key,
      label: `tap ${mode.padEnd(7)} ${shape.key.padEnd(10)}`,
      args: { kind: shape.kind, tap: mode, channels: tap.channels, frames: tap.frames, batch: shape.batch, ...(tap.budgetMs ? { budgetMs: tap.budgetMs } : {}) },
    })),
  );
  const medians = mediansOf(all);
  return {
    id: 'tap',
    title,
    contenders: modes,
    metrics,
    ratios: [['off', 'absent'], ['on', 'absent']],
    runs: all,
    medians,
    verdicts: [], // the issue sets no target: the ratios are the figures
    loadBefore,
    seconds: (Date.now() - started) / 1000,
    errors,
  };
}

/**
 * Scenario 8: what a publish costs when its subscriber is on another node.
 * Each node is a process of its own on one redis-server (started here on a
 * free loopback port); node A publishes to a raw subscriber (in A's process,
 * so latency is timed on one clock) connected to A itself ("redis-local") or
 * to node B ("redis-cross"), with the memory engine ("memory-local") as the
 * floor a single node has.
 */

/** One point of an in-process scenario: the metric it feeds, how the log names it, the `routing` call's arguments. */
interface Point {
  readonly key: string;
  readonly label: string;
  readonly args: Readonly<Record<string, unknown>>;
}

/**
 * Measures every contender's points, `runs` times in rotated order: each
 * contender in a fresh child process per run (heaps and JIT state apart; a
 * smoke run shares one), each point one `routing` call whose frames/s goes
 * into `all`. A point that fails is an error of the scenario; the others go on.
 */
async function measurePoints<C extends string>(
  options: BenchOptions,
  runs: number,
  scenario: string,
  contenders: readonly C[],
  all: Record<string, Record<string, number[]>>,
  errors: string[],
  points: (contender: C) => readonly Point[],
): Promise<void> {
  const t = options.profile.timeoutMs;
  const shared = options.reuseProcesses ? await Child.start('./client-main.js', scenario) : undefined;
  for (let r = 0; r < runs; r++) {
    for (const contender of rotation(contenders, r)) {
      const child = shared ?? (await Child.start('./client-main.js', `${scenario} ${contender}`));
      try {
        for (const point of points(contender)) {
          try {
            const res = await child.call<RoutingResult>('routing', { ...point.args, data: PAYLOAD, timeoutMs: t }, t + 10_000);
            all[contender]?.[point.key]?.push(res.framesPerSec);
            options.log?.(`  run ${r + 1} ${point.label}: ${Math.round(res.framesPerSec).toLocaleString('en-US')} frames/s`);
          } catch (error) {
            const message = `${scenario} run ${r + 1} ${point.label.trim()}: ${error instanceof Error ? error.message : String(error)}`;
            errors.push(message);
            options.log?.(`  ERROR ${message}`);
          }
        }
      } finally {
        if (child !== shared) await child.stop();
      }
    }
  }
  await shared?.stop();
}
