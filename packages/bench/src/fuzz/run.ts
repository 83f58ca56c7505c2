/**
 * The fuzz run (`npm run fuzz`): fast-check properties, seeded, against a
 * real server in its own process on 127.0.0.1 with ten well-behaved clients
 * on it (another process), and against a real `@rxmux/core` client fed by a
 * hostile server. Bounded in cases and in time; prints the figures.
 *
 * | property | what is sent | share of the cases |
 * | --- | --- | --- |
 * | ws-random | random strings, bytes, text that is not UTF-8, JSON token soup | 12 % |
 * | ws-mutated | valid frames mutated: text, structure, binary header | 28 % |
 * | ws-valid | valid frames and batches, in any order (duplicate ids, unsubscribe first, server frames) | 15 % |
 * | ws-order | a fresh socket: frames before hello, hello twice, other versions | 10 % |
 * | ws-oversize | frames over maxFrameBytes (close 1009) | 0.3 % |
 * | ws-rate | bursts around the rate limit, on a server with default limits (RATE_LIMITED, close 1008) | 2 % |
 * | http | SSE and long-poll with hostile query strings, cursors, headers, methods | 11 % |
 * | http-origin | the door without allowedOrigins (same origin only): Origins and Hosts around the server's | 1 % |
 * | http-raw | malformed HTTP heads | 2 % |
 * | client | a hostile server feeding a real client junk, mutations, frames out of place, closes | 18.7 % |
 */
import os from 'node:os';
import fc from 'fast-check';
import { DEFAULT_LIMITS } from '@rxmux/server';
import { Child } from '../ipc.js';
import { clientAddress } from '../soak/loopback.js';
import type { ClientsReport, TargetReport, TargetStarted } from '../soak/types.js';
import { mutatedMessage, orderCase, oversize, randomMessage, validMessage } from './arbitraries.js';
import { rateCase, rateCaseRun } from './rate-fuzz.js';
import { runClientFuzz, type ClientFuzzFigures } from './client-fuzz.js';
import { httpCase, originCase, rawHttp, send, sendRaw } from './http-fuzz.js';
import { expectHttp, judgeHttp, knownHttpDeviation, ThrottleModel, type HistoryFacts } from './http-model.js';
import type { ServerFacts, WsMessage } from './server-model.js';
import { WsWorker, type CaseOutcome } from './ws-fuzz.js';

/** What a fuzz run does. */
export interface FuzzOptions {
  /** Cases in all (default 100,000). */
  readonly cases: number;
  /** The seed every property's seed derives from. */
  readonly seed: number;
  /** Stop after this many seconds even if cases are left (default 900). */
  readonly seconds: number;
  /** Concurrent workers per WebSocket property (default 4). */
  readonly workers: number;
  readonly log?: (line: string) => void;
}

export const DEFAULT_FUZZ: Omit<FuzzOptions, 'log'> = { cases: 100_000, seed: 20261201, seconds: 900, workers: 4 };

/** One property's figures. */
export interface PropertyFigures {
  readonly name: string;
  readonly cases: number;
  readonly seconds: number;
  /** Outcome classes and how often each was seen. */
  readonly outcomes: Readonly<Record<string, number>>;
  /** The counterexample and what was wrong, when the property failed (after shrinking). */
  readonly failure: string | undefined;
}

export interface FuzzReport {
  readonly startedAt: string;
  readonly options: Omit<FuzzOptions, 'log'>;
  readonly machine: { readonly cpu: string; readonly cores: number; readonly node: string };
  readonly seconds: number;
  readonly properties: readonly PropertyFigures[];
  /** The server process was alive and answering at the end. */
  readonly serverAlive: boolean;
  /** What its `hooks.onError` reported, by kind, and how many of them were none of the expected kinds (see {@link EXPECTED_ERRORS}). */
  readonly serverErrors: Readonly<Record<string, number>>;
  readonly unexpectedServerErrors: number;
  /** The well-behaved clients on the server during the fuzz. */
  readonly bystanders: ClientsReport | undefined;
  readonly failures: number;
}

/**
 * What the fuzzed server may report on `hooks.onError` without a bug: `ws`
 * refusing a frame (invalid UTF-8, bad opcode, too big: the socket is closed
 * with 1007/1002/1009), the `fail` handler doing its job, and the relay's
 * `publish` refusing data it cannot send on (too big, nested too deep).
 * Anything else is an internal error and fails the run.
 */
export const EXPECTED_ERRORS: readonly RegExp[] = [/: WS_ERR_/, /^Error: this handler always fails$/, /^RxmuxError: RXMUX_ERR_FRAME_TOO_BIG$/, /^ProtocolError: RXMUX_ERR_INVALID_FIELD$/, /^RangeError: Maximum call stack/];

/** Shares of the cases per property (see the table above). */
const SHARES: readonly [string, number][] = [
  ['ws-random', 0.12],
  ['ws-mutated', 0.28],
  ['ws-valid', 0.15],
  ['ws-order', 0.1],
  ['ws-oversize', 0.003],
  ['ws-rate', 0.02],
  ['http', 0.11],
  ['http-origin', 0.01],
  ['http-raw', 0.02],
  ['client', 0.187],
];

/** Counts outcome classes. */
class Tally {
  readonly outcomes: Record<string, number> = {};
  cases = 0;
  add(kinds: readonly string[]): void {
    this.cases++;
    for (const k of kinds) this.outcomes[k] = (this.outcomes[k] ?? 0) + 1;
  }
}

/** Runs `workers` fast-check runs of `property` side by side (each its own seed and connection), bounded by `until`. */
async function parallel<T>(
  name: string,
  total: number,
  options: FuzzOptions,
  until: number,
  arb: (worker: number) => fc.Arbitrary<T>,
  check: (worker: number, input: T, tally: Tally) => Promise<string[]>,
  workers = options.workers,
): Promise<PropertyFigures> {
  const t0 = performance.now();
  const tally = new Tally();
  const failures: string[] = [];
  const seedOf = (w: number): number => (options.seed + hash(name) + w * 7919) | 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      const runs = Math.floor(total / workers) + (w < total % workers ? 1 : 0);
      if (runs === 0) return;
      const details = await fc.check(
        fc.asyncProperty(arb(w), async (input) => {
          const problems = await check(w, input, tally);
          if (problems.length > 0) throw new Error(problems.slice(0, 6).join('\n'));
        }),
        { numRuns: runs, seed: seedOf(w), plugins: [fc.interruptAfterTimeLimit(Math.max(1, until - Date.now()))] },
      );
      if (details.failed) {
        failures.push(
          `seed ${seedOf(w)}, path ${String(details.counterexamplePath)}: ${describe((details.counterexample as readonly unknown[] | null)?.[0])}\n    ${String(details.errorInstance instanceof Error ? details.errorInstance.message : details.errorInstance).replace(/\n/g, '\n    ')}`,
        );
      }
    }),
  );
  return { name, cases: tally.cases, seconds: (performance.now() - t0) / 1000, outcomes: tally.outcomes, failure: failures.length > 0 ? failures.join('\n  ') : undefined };
}

function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

function describe(input: unknown): string {
  return JSON.stringify(input, (_k, v: unknown) =>
    v instanceof Uint8Array ? `<${v.byteLength} bytes: ${Buffer.from(v.subarray(0, 48)).toString('hex')}>` : typeof v === 'string' && v.length > 300 ? `${v.slice(0, 300)}… (${v.length} chars)` : v,
  );
}

/** A frame over `maxFrameBytes` by `over` bytes, as text (a valid envelope around a long string) or binary. */
function oversized(maxFrameBytes: number, over: number, binary: boolean): WsMessage {
  const size = maxFrameBytes + over;
  if (binary) return { kind: 'binary', bytes: new Uint8Array(Buffer.concat([Buffer.from([0, 0, 1, 0x61]), Buffer.alloc(size - 4, 0x62)])) };
  const prefix = '[0,"plain",';
  return { kind: 'text', text: `${prefix}"${'x'.repeat(size - prefix.length - 3)}"]` };
}

/** Runs the whole fuzz. */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const until = started + options.seconds * 1000;
  // Each property its share; the last (the client's) takes what rounding left, so the counts add up to `cases`.
  const share = (name: string): number => Math.max(1, Math.round(options.cases * (SHARES.find(([n]) => n === name)?.[1] ?? 0)));
  const count = (name: string): number => (name === 'client' ? Math.max(1, options.cases - SHARES.filter(([n]) => n !== 'client').reduce((sum, [n]) => sum + share(n), 0)) : share(name));
  const server = await Child.start('./soak/server-main.js', 'fuzzed server');
  const defaults = await Child.start('./soak/server-main.js', 'fuzzed server with default limits');
  const bystanders = await Child.start('./soak/clients-main.js', 'well-behaved clients');
  const properties: PropertyFigures[] = [];
  let report: FuzzReport | undefined;
  try {
    const target = await server.call<TargetStarted>('start', {
      // The rate limit would close the fuzz's sockets (it has its own test); polls are held 300 ms, not 25 s.
      limits: { ratePerSecond: 1e9, rateBurst: 1e9, pollTimeoutMs: 300 },
      allowedOrigins: ['http://allowed.example'],
    });
    const { port } = target;
    const facts: ServerFacts = { limits: { maxFrameBytes: target.limits.maxFrameBytes, maxBatch: target.limits.maxBatch }, maxChannelsPerConnection: target.limits.maxChannelsPerConnection };
    // History for the SSE and poll cursors: 120 publications on each hist channel (100 kept).
    await server.call('preload', { channels: ['hist-0', 'hist-1', 'hist-2', 'hist-3'], count: 120, bytes: 16 });
    const history = await readHistory(port, target);
    // Ten well-behaved clients on a 50 msg/s feed throughout.
    await bystanders.call('connect', { port, n: 10, channel: 'feed', perAddress: 1, timeoutMs: 30_000 });
    const { published } = await server.call<{ published: number }>('feed', { channel: 'feed', rate: 50, bytes: 128 });
    await bystanders.call('arm', { from: published + 1 });
    await server.call('arm');
    log(`fuzzing the server on port ${port} (pid ${target.pid}) with ${options.cases.toLocaleString('en-US')} cases, seed ${options.seed}, at most ${options.seconds} s`);

    const workers = new Map<number, WsWorker>();
    const worker = (w: number): WsWorker => {
      let ws = workers.get(w);
      if (ws === undefined) workers.set(w, (ws = new WsWorker(port, `127.20.${Math.floor(w / 200)}.${(w % 200) + 1}`, facts)));
      return ws;
    };
    const epochs = (w: number) => () => worker(w).epochs;
    const judged = (outcome: CaseOutcome, tally: Tally): string[] => {
      tally.add(outcome.kinds);
      return [...outcome.problems];
    };
    const ws = async (name: string, base: number, arb: (w: number) => fc.Arbitrary<WsMessage[]>, fresh = false): Promise<void> => {
      const figures = await parallel(name, count(name), options, until, (w) => arb(base + w), async (w, input, tally) =>
        judged(fresh ? await worker(base + w).fresh(input) : await worker(base + w).open(input), tally),
      );
      properties.push(figures);
      log(line(figures));
    };
    await ws('ws-random', 0, () => fc.array(randomMessage, { minLength: 1, maxLength: 3 }));
    await ws('ws-mutated', 10, (w) => fc.array(mutatedMessage(w, epochs(w)), { minLength: 1, maxLength: 3 }));
    await ws('ws-valid', 20, (w) => fc.array(validMessage(w, epochs(w)), { minLength: 1, maxLength: 5 }));
    await ws('ws-order', 30, (w) => orderCase(w, epochs(w)), true);
    await ws('ws-oversize', 40, () => oversize.map((o) => [oversized(facts.limits.maxFrameBytes, o.oversize, o.binary)]));
    for (const w of workers.values()) w.close();
    const { port: defaultsPort } = await defaults.call<TargetStarted>('start', {});
    const rate = await parallel('ws-rate', count('ws-rate'), options, until, () => rateCase(DEFAULT_LIMITS.maxFrameBytes), async (w, messages, tally) => {
      const { kinds, problems } = await rateCaseRun(defaultsPort, `127.23.0.${w + 1}`, messages);
      tally.add(kinds);
      return problems;
    });
    properties.push(rate);
    log(line(rate));

    const throttles = new Map<string, ThrottleModel>();
    const throttle = (address: string, facts: HistoryFacts): ThrottleModel => {
      let t = throttles.get(address);
      if (t === undefined) throttles.set(address, (t = new ThrottleModel(facts)));
      return t;
    };
    const http = await parallel('http', count('http'), options, until, () => httpCase(history), async (w, c, tally) => {
      const address = clientAddress(w, 1).replace('127.1.', '127.21.');
      const t = throttle(address, history);
      const x = expectHttp(c, history, `127.0.0.1:${port}`, t);
      const answer = await send(port, address, c, 150);
      if (answer.status === 401) t.failed();
      const problems = judgeHttp(c, x, answer, history);
      const known = problems.length > 0 ? knownHttpDeviation(c, problems) : undefined;
      tally.add([`${c.method} ${x.kind ?? 'other'} ${answer.status}`, ...(known === undefined ? [] : [`known:${known}`])]);
      return known === undefined ? problems : [];
    }, options.workers * 2);
    properties.push(http);
    log(line(http));
    const defaultsFacts: HistoryFacts = { ...history, channels: new Map(), allowedOrigins: undefined };
    const origin = await parallel('http-origin', count('http-origin'), options, until, () => originCase(defaultsPort), async (w, c, tally) => {
      const address = `127.24.0.${w + 1}`;
      const x = expectHttp(c, defaultsFacts, `127.0.0.1:${defaultsPort}`, throttle(address, defaultsFacts));
      const answer = await send(defaultsPort, address, c, 100);
      tally.add([`${c.method} ${answer.status}${c.headers.origin === undefined ? ' (no Origin)' : ''}`]);
      return judgeHttp(c, x, answer, defaultsFacts);
    });
    properties.push(origin);
    log(line(origin));
    const raw = await parallel('http-raw', count('http-raw'), options, until, () => rawHttp, async (w, head, tally) => {
      const status = await sendRaw(port, `127.22.0.${w + 1}`, head);
      tally.add([`status ${status}`]);
      return status >= 500 ? [`status ${status} for ${JSON.stringify(head.slice(0, 200))}`] : [];
    });
    properties.push(raw);
    log(line(raw));

    const client: ClientFuzzFigures = await runClientFuzz({ cases: count('client'), seed: options.seed, until, workers: options.workers });
    properties.push(...client.properties);
    for (const p of client.properties) log(line(p));

    // The server is alive and answers; the bystanders got everything, in order, and kept their connections.
    const { published: to } = await server.call<{ published: number }>('feedStop');
    const serverReport = await server.call<TargetReport>('report');
    const delivery = await bystanders.call<ClientsReport>('report', { to, timeoutMs: 15_000 }, 30_000);
    const unexpected = Object.entries(serverReport.errorKinds).filter(([kind]) => !EXPECTED_ERRORS.some((r) => r.test(kind))).reduce((n, [, c]) => n + c, 0);
    const failures = properties.filter((p) => p.failure !== undefined).length + (delivery.lost + delivery.duplicated + delivery.disconnects > 0 ? 1 : 0) + (unexpected > 0 ? 1 : 0);
    report = {
      startedAt: new Date(started).toISOString(),
      options: { cases: options.cases, seed: options.seed, seconds: options.seconds, workers: options.workers },
      machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version },
      seconds: (Date.now() - started) / 1000,
      properties,
      serverAlive: server.exited === undefined,
      serverErrors: serverReport.errorKinds,
      unexpectedServerErrors: unexpected,
      bystanders: delivery,
      failures,
    };
  } finally {
    await bystanders.call('close').catch(() => undefined);
    const alive = server.exited === undefined;
    await server.call('stop').catch(() => undefined);
    await defaults.call('stop').catch(() => undefined);
    await Promise.all([bystanders.stop(), server.stop(), defaults.stop()]);
    report ??= {
      startedAt: new Date(started).toISOString(),
      options: { cases: options.cases, seed: options.seed, seconds: options.seconds, workers: options.workers },
      machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version },
      seconds: (Date.now() - started) / 1000,
      properties,
      serverAlive: alive,
      serverErrors: {},
      unexpectedServerErrors: Number.NaN,
      bystanders: undefined,
      failures: properties.length + 1,
    };
  }
  return report;
}

/** The epoch and range of each preloaded channel, read with one poll (no cursor: the answer's cursor says where each stands). */
async function readHistory(port: number, target: TargetStarted): Promise<HistoryFacts> {
  const answer = await send(port, '127.21.255.1', { method: 'GET', path: '/rt/poll', query: 'channels=hist-0,hist-1,hist-2,hist-3', headers: {} }, 100);
  const body = JSON.parse(answer.body) as { cursor: string };
  const channels = new Map<string, { epoch: string; first: number; last: number }>();
  for (const part of body.cursor.split(',')) {
    const [name, value] = part.split('=') as [string, string];
    const [seq, epoch] = value.split('.') as [string, string];
    const last = Number(seq);
    channels.set(decodeURIComponent(name), { epoch, first: last - target.limits.historySize + 1, last });
  }
  const { maxChannelsPerConnection, sseRetryMs, authFailureBurst, authFailureRate } = target.limits;
  return { channels, allowedOrigins: ['http://allowed.example'], maxChannels: maxChannelsPerConnection, sseRetryMs, authFailureBurst, authFailureRate };
}

function line(p: PropertyFigures): string {
  return `  ${p.name.padEnd(12)} ${p.cases.toLocaleString('en-US').padStart(8)} cases in ${p.seconds.toFixed(1).padStart(6)} s${p.failure === undefined ? '' : `  FAILED\n  ${p.failure}`}`;
}
