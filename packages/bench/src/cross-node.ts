/**
 * Scenario 8, cross-node: what a publish costs when its subscriber sits on
 * another node (two node processes on one redis-server), against local
 * delivery on the Redis engine and on the memory engine.
 */
import { loadavg } from 'node:os';
import type { BenchOptions, Metric, ScenarioResult } from './harness.js';
import { Child } from './ipc.js';
import type { CrossNodeFigures } from './node-main.js';
import { freePort, launchRedis, stopRedis } from './redis-process.js';
import { emptyRuns, mediansOf, rotation } from './util.js';

export async function runCrossNode(options: BenchOptions, runs: number): Promise<ScenarioResult> {
  const { latency, count } = options.profile.crossNode;
  const started = Date.now();
  const loadBefore = loadavg();
  const kinds = ['memory-local', 'redis-local', 'redis-cross'] as const;
  const metrics: Metric[] = [
    { key: 'p50', label: 'publish → delivered p50 µs', better: 'lower' },
    { key: 'p99', label: 'publish → delivered p99 µs', better: 'lower' },
    { key: 'perSecond', label: `burst of ${count.toLocaleString('en-US')}: delivered/s`, better: 'higher' },
  ];
  const all = emptyRuns(kinds, metrics);
  const errors: string[] = [];
  const title = `8. Cross-node: publish on node A, deliver on node B (separate processes, one redis-server), against local delivery; ${latency.toLocaleString('en-US')} publications one at a time, then a burst of ${count.toLocaleString('en-US')}`;
  options.log?.(`\n${title}  [load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}]`);
  const redisPort = await freePort();
  let redisServer: Awaited<ReturnType<typeof launchRedis>>;
  try {
    redisServer = await launchRedis(redisPort);
  } catch (error) {
    const message = `cross-node: redis-server did not start (${error instanceof Error ? error.message : String(error)}); run node scripts/ensure-redis.mjs`;
    options.log?.(`  ERROR ${message}`);
    return { id: 'cross-node', title, contenders: kinds, metrics, ratios: [], runs: all, medians: mediansOf(all), verdicts: [], loadBefore, seconds: 0, errors: [message] };
  }
  const url = `redis://127.0.0.1:${redisPort}`;
  const t = options.profile.timeoutMs;
  try {
    for (let r = 0; r < runs; r++) {
      for (const kind of rotation(kinds, r)) {
        const engine = kind === 'memory-local' ? 'memory' : 'redis';
        const prefix = `bench${r}${kind}`;
        const a = await Child.start('./node-main.js', `node A (${kind})`);
        const b = kind === 'redis-cross' ? await Child.start('./node-main.js', `node B (${kind})`) : undefined;
        try {
          const { port } = await a.call<{ port: number }>('start', { engine, url, prefix }, t);
          const target = b === undefined ? port : (await b.call<{ port: number }>('start', { engine, url, prefix }, t)).port;
          const f = await a.call<CrossNodeFigures>('measure', { port: target, channel: `bench-${kind}`, latency, count }, t);
          for (const m of metrics) all[kind]?.[m.key]?.push(f[m.key as keyof CrossNodeFigures]);
          options.log?.(`  run ${r + 1} ${kind.padEnd(12)} p50=${f.p50.toFixed(0)} p99=${f.p99.toFixed(0)} µs, ${Math.round(f.perSecond).toLocaleString('en-US')}/s`);
        } catch (error) {
          const message = `cross-node run ${r + 1} ${kind}: ${error instanceof Error ? error.message : String(error)}`;
          errors.push(message);
          options.log?.(`  ERROR ${message}`);
        } finally {
          await Promise.all([a.call('stop', {}, t).catch(() => undefined), b?.call('stop', {}, t).catch(() => undefined)]);
          await Promise.all([a.stop(), b?.stop()]);
        }
      }
    }
  } finally {
    await stopRedis(redisServer);
  }
  return {
    id: 'cross-node',
    title,
    contenders: kinds,
    metrics,
    ratios: [['redis-cross', 'redis-local'], ['redis-local', 'memory-local']],
    runs: all,
    medians: mediansOf(all),
    verdicts: [], // the issue asks for the cost, not a target
    loadBefore,
    seconds: (Date.now() - started) / 1000,
    errors,
  };
}
