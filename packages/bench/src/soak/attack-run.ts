/**
 * The soak's attack mode (`npm run soak -- --attacks`): each attack of
 * `attacks.ts` against a fresh server with legitimate clients on it (ten
 * clients receiving a 50 msg/s feed), first a no-attack baseline on the same
 * server, then the attack. Server, legitimate clients and attacker are three
 * processes (the bench's IPC). Per attack it reports the legitimate clients'
 * delivery (lost, duplicated, disconnects) and latency p50/p99 against the
 * baseline, the server's event-loop delay p99 and its RSS against the memory
 * bound it runs with, and what the attacker saw, and checks issue 14's goal.
 */
import os from 'node:os';
import type { Limits } from '@rxmux/server';
import { setTimeout as sleep } from 'node:timers/promises';
import { Child } from '../ipc.js';
import { table } from '../report.js';
import { ATTACKER_ADDRESS } from './loopback.js';
import { attackNamed, type AttackTarget } from './attacks.js';
import { int, mib, ms } from './stats.js';
import type { AttackResult, ClientsReport, TargetReport, TargetStarted } from './types.js';

/** What an attack run does. */
export interface AttackRunOptions {
  /** Names of the attacks to run, in order. */
  readonly attacks: readonly string[];
  readonly attackSeconds: number;
  readonly baselineSeconds: number;
  /** Legitimate clients, each from its own loopback address. */
  readonly legit: number;
  /** Their feed, messages per second, and its message size. */
  readonly feedRate: number;
  readonly feedBytes: number;
  /** The server's memory bound: its V8 heap limit (`--max-old-space-size`) and the RSS the goal holds it to, MiB. */
  readonly memoryBoundMiB: number;
  /** Server limits other than the defaults (none: the defaults, as shipped). */
  readonly limits?: Partial<Limits>;
  readonly log?: (line: string) => void;
}

export const DEFAULT_ATTACK_RUN: Omit<AttackRunOptions, 'attacks'> = {
  attackSeconds: 20,
  baselineSeconds: 10,
  legit: 10,
  feedRate: 50,
  feedBytes: 128,
  memoryBoundMiB: 1024,
};

/** One phase (baseline or attack) as both sides saw it. */
export interface Phase {
  readonly delivery: ClientsReport;
  readonly server: TargetReport | undefined;
}

/** Issue 14's goal, per attack. */
export interface Goals {
  readonly rssUnderBound: boolean;
  readonly nothingLost: boolean;
  readonly p99Within2x: boolean;
  readonly eldP99Under50ms: boolean;
}

/** One attack's figures. */
export interface AttackOutcome {
  readonly name: string;
  readonly what: string;
  readonly baseline: Phase | undefined;
  readonly attack: Phase | undefined;
  readonly attacker: AttackResult | undefined;
  /** What went wrong with the run itself (the server died, a call stalled). */
  readonly error: string | undefined;
  readonly goals: Goals | undefined;
}

export interface AttackRunReport {
  readonly startedAt: string;
  readonly machine: { readonly cpu: string; readonly cores: number; readonly node: string; readonly loadAtStart: readonly number[] };
  readonly options: Omit<AttackRunOptions, 'log'>;
  readonly attacks: readonly AttackOutcome[];
}

const FEED = 'feed';

/** The attacker process's niceness (`nice -n`): the load generator yields the CPU to the server it attacks. */
export const ATTACKER_NICENESS = 10;

/**
 * Measures one phase: the feed runs while `during` does. A failure of
 * `during` (the server died, the attacker stalled) is returned with the
 * figures: the clients still report what they got.
 */
async function phase(server: Child, clients: Child, options: AttackRunOptions, during: () => Promise<void>): Promise<{ readonly phase: Phase; readonly error?: string }> {
  const { published } = await server.call<{ published: number }>('feed', { channel: FEED, rate: options.feedRate, bytes: options.feedBytes });
  await clients.call('arm', { from: published + 1 });
  await server.call('arm');
  let error: string | undefined;
  try {
    await during();
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }
  const to = await server.call<{ published: number }>('feedStop', {}, 30_000).then((r) => r.published, () => undefined);
  const report = to === undefined ? undefined : await server.call<TargetReport>('report', {}, 30_000).catch(() => undefined);
  const delivery = await clients.call<ClientsReport>('report', { to: to ?? published, timeoutMs: 15_000 }, 30_000);
  return { phase: { delivery, server: report }, ...(error === undefined ? {} : { error }) };
}

async function runOne(name: string, options: AttackRunOptions): Promise<AttackOutcome> {
  const attack = attackNamed(name);
  const log = options.log ?? (() => undefined);
  const server = await Child.start('./soak/server-main.js', 'server', { execArgv: [`--max-old-space-size=${options.memoryBoundMiB}`, '--expose-gc'] });
  const clients = await Child.start('./soak/clients-main.js', 'legitimate clients');
  // The attacker runs at a lower priority: on a machine of 2 cores its own CPU (reading GB of replays,
  // 800 handshakes a second) would otherwise be taken from the server and the legitimate clients, which
  // an attacker on the internet does not do. What it achieved is in its tally.
  const attacker = await Child.start('./soak/attacker-main.js', 'attacker', { wrapper: ['nice', '-n', String(ATTACKER_NICENESS)] });
  let baseline: Phase | undefined;
  let measured: Phase | undefined;
  let attackerResult: AttackResult | undefined;
  let error: string | undefined;
  try {
    const started = await server.call<TargetStarted>('start', { auth: true, ...(options.limits === undefined ? {} : { limits: options.limits }) });
    const preload = attack.preload?.('long');
    if (preload !== undefined) {
      log(`  preloading ${preload.channels.length} channels × ${preload.count} publications of ${preload.bytes} bytes`);
      await server.call('preload', preload, 300_000);
    }
    await clients.call('connect', { port: started.port, n: options.legit, channel: FEED, perAddress: 1, token: 'legit', timeoutMs: 30_000 }, 40_000);
    // Warm-up: the feed flows once before anything is measured.
    await server.call('feed', { channel: FEED, rate: options.feedRate, bytes: options.feedBytes });
    await sleep(2_000);
    await server.call('feedStop');
    log(`  baseline ${options.baselineSeconds} s`);
    baseline = (await phase(server, clients, options, () => sleep(options.baselineSeconds * 1000))).phase;
    log(`  attack ${options.attackSeconds} s`);
    const target: AttackTarget = { port: started.port, localAddress: ATTACKER_ADDRESS, token: 'attacker' };
    const attacked = await phase(server, clients, options, async () => {
      attackerResult = await attacker.call<AttackResult>('run', { name, target, seconds: options.attackSeconds, size: 'long' }, (options.attackSeconds + 120) * 1000);
    });
    measured = attacked.phase;
    // A server that died (out of memory, a crash) is the attack's result, said as such.
    error = server.exited ?? attacked.error;
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  } finally {
    await clients.call('close').catch(() => undefined);
    await server.call('stop').catch(() => undefined);
    await Promise.all([attacker.stop(), clients.stop(), server.stop()]);
  }
  if (error !== undefined) log(`  ERROR ${error}`);
  const goals = measured === undefined || baseline === undefined ? undefined : {
    rssUnderBound: measured.server !== undefined && measured.server.rssMax < options.memoryBoundMiB * 1024 * 1024,
    nothingLost: measured.delivery.lost === 0 && measured.delivery.duplicated === 0 && measured.delivery.disconnects === 0 && measured.delivery.failed === 0,
    p99Within2x: measured.delivery.p99 <= 2 * baseline.delivery.p99,
    eldP99Under50ms: measured.server !== undefined && measured.server.eld.p99 < 50,
  };
  return { name, what: attack.what, baseline, attack: measured, attacker: attackerResult, error, goals };
}

/** Runs every attack of `options.attacks`, one after the other, each on a fresh server. */
export async function runAttacks(options: AttackRunOptions): Promise<AttackRunReport> {
  const log = options.log ?? (() => undefined);
  const startedAt = new Date().toISOString();
  const loadAtStart = os.loadavg();
  const attacks: AttackOutcome[] = [];
  for (const name of options.attacks) {
    log(`${name}: ${attackNamed(name).what}`);
    attacks.push(await runOne(name, options));
  }
  const { attacks: names, attackSeconds, baselineSeconds, legit, feedRate, feedBytes, memoryBoundMiB, limits = {} } = options;
  return {
    startedAt,
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, loadAtStart },
    options: { attacks: names, attackSeconds, baselineSeconds, legit, feedRate, feedBytes, memoryBoundMiB, limits },
    attacks,
  };
}

/** The limits a run changed, or "default limits". */
const limitsText = (limits: Partial<Limits> | undefined): string => {
  const changed = Object.entries(limits ?? {});
  return changed.length === 0 ? 'default limits' : `default limits but ${changed.map(([k, v]) => `${k} ${String(v)}`).join(', ')}`;
};

const yes = (v: boolean | undefined): string => (v === undefined ? '—' : v ? 'yes' : 'NO');

/** Whether an attack met every part of issue 14's goal (a run that failed, or a goal not measured, did not). */
export function passed(a: AttackOutcome): boolean {
  const g = a.goals;
  return a.error === undefined && g !== undefined && g.rssUnderBound && g.nothingLost && g.p99Within2x && g.eldP99Under50ms;
}

/** The attack run as tables: the goals, the figures behind them, and what each attacker saw. */
export function formatAttackRun(r: AttackRunReport): string {
  const o = r.options;
  const goals = [['attack', 'goal', 'RSS max < bound (MiB)', 'nothing lost', 'p99 ≤ 2× baseline', 'loop p99 < 50 ms']];
  const figures = [['attack', 'legit p50 base → attack (ms)', 'legit p99 base → attack (ms)', 'p99 ratio', 'lost / dup / disconnects', 'loop p99 / max (ms)', 'RSS max (MiB)', 'heap max (MiB)', 'server CPU (s)', 'errors']];
  const tallies: string[] = [];
  for (const a of r.attacks) {
    const b = a.baseline?.delivery;
    const d = a.attack?.delivery;
    const s = a.attack?.server;
    goals.push([
      a.name,
      passed(a) ? 'PASS' : 'FAIL',
      `${yes(a.goals?.rssUnderBound)} (${s === undefined ? '—' : mib(s.rssMax)} < ${o.memoryBoundMiB})`,
      `${yes(a.goals?.nothingLost)}${d === undefined ? '' : ` (${int(d.delivered)} / ${int(d.expected)})`}`,
      `${yes(a.goals?.p99Within2x)}${b === undefined || d === undefined ? '' : ` (${ms(d.p99)} ≤ 2 × ${ms(b.p99)})`}`,
      `${yes(a.goals?.eldP99Under50ms)}${s === undefined ? '' : ` (${ms(s.eld.p99)})`}`,
    ]);
    figures.push([
      a.name,
      `${ms(b?.p50 ?? Number.NaN)} → ${ms(d?.p50 ?? Number.NaN)}`,
      `${ms(b?.p99 ?? Number.NaN)} → ${ms(d?.p99 ?? Number.NaN)}`,
      b !== undefined && d !== undefined ? `${(d.p99 / b.p99).toFixed(2)}×` : '—',
      d === undefined ? '—' : `${int(d.lost)} / ${int(d.duplicated)} / ${int(d.disconnects + d.failed)}`,
      s === undefined ? 'server gone' : `${ms(s.eld.p99)} / ${ms(s.eld.max)}`,
      s === undefined ? '—' : mib(s.rssMax),
      s === undefined ? '—' : mib(s.heapMax),
      s === undefined ? '—' : (s.cpuMs / 1000).toFixed(1),
      s === undefined ? '—' : int(s.errors),
    ]);
    const t = a.attacker?.tally ?? {};
    const closes = s === undefined ? '' : `; server closes ${JSON.stringify(s.closes)}, slow consumers ${s.slowConsumers}, rate-limited ${s.rateLimited}`;
    tallies.push(`  ${a.name}: ${Object.entries(t).map(([k, v]) => `${k} ${int(v)}`).join(', ') || '(nothing)'}${closes}${a.error === undefined ? '' : `; ERROR ${a.error}`}`);
  }
  return [
    `rxmux attacks — ${r.startedAt}; ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}; load at start ${r.machine.loadAtStart.map((l) => l.toFixed(2)).join(' ')}`,
    `${o.legit} legitimate clients (one loopback address each) on a ${o.feedRate} msg/s feed of ${o.feedBytes} bytes; the attacker from ${ATTACKER_ADDRESS}; ` +
      `each attack ${o.attackSeconds} s after a ${o.baselineSeconds} s baseline on a fresh server (${limitsText(o.limits)}, authenticate, heap limit ${o.memoryBoundMiB} MiB); the attacker at nice ${ATTACKER_NICENESS}`,
    '',
    "goal (issue 14): during the attack, server RSS under its bound, no legitimate message or connection lost, legit p99 within 2× of the baseline, event-loop delay p99 under 50 ms",
    table(goals),
    `${r.attacks.filter(passed).length} of ${r.attacks.length} attacks met the goal`,
    '',
    table(figures),
    '',
    'what the attacker saw:',
    ...tallies,
  ].join('\n');
}
