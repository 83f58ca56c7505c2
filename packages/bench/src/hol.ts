/**
 * Scenario 11: head-of-line blocking (issue 15.5). A 100-byte message on
 * one channel while a 5 MB binary travels on another, through a proxy that
 * carries 20 MB/s each way (a fast uplink: the backlog of a whole frame sits
 * in the operating system's socket buffers, where `bufferedAmount` does not
 * see it). Both directions, against:
 *
 * - **rxmux** — chunked transfers (protocol v2) with the default limits:
 *   64 KiB pieces, a 64 KiB window credited by the receiver;
 * - **rxmux-w256k** — the same with a 256 KiB window (4 pieces in flight);
 * - **ws** — raw `ws`, the 5 MB as one frame, the probes as text frames on
 *   the same socket (what any one-frame-per-message library does).
 *
 * A probe's latency is from its send to its handler (upload) or to the
 * client's subscriber (download), on one clock: client, proxy and server run
 * in this process (the proxy's 20 MB/s, not the CPU, is the bottleneck).
 * Probes go every 10 ms: alone (`idle`), then while the 5 MB travels
 * (`loaded`). The transfer's throughput is measured alone and with the
 * probes. One piece's write time at 20 MB/s is 64 KiB / 20 MB/s = 3.3 ms.
 */
import { loadavg } from 'node:os';
import { filter, firstValueFrom } from 'rxjs';
import { WebSocket, WebSocketServer } from 'ws';
import { connect, type Connection } from '@rxmux/core';
import { createServer, type RxmuxServer } from '@rxmux/server';
import type { Metric, ScenarioResult, Verdict } from './harness.js';
import { LatencyProxy } from './latency-proxy.js';
import { emptyRuns, median, mediansOf, waitFor } from './util.js';

/** The link's rate each way, in bytes per second (the issue's 20 MB/s). */
const RATE = 20e6;
const BIG = 5 * 1024 * 1024;
const PROBES_IDLE = 20;
const PROBE_EVERY_MS = 10;
const TIMEOUT_MS = 30_000;
const PIECE_MS = ((64 * 1024) / RATE) * 1000;

const CONTENDERS = ['rxmux', 'rxmux-w256k', 'ws'] as const;
type Contender = (typeof CONTENDERS)[number];

/** One direction's figures for one contender and run. */
interface Figures {
  idleMs: number;
  loadedP50Ms: number;
  loadedMaxMs: number;
  aloneMBs: number;
  loadedMBs: number;
}

/** The two ends of one contender, through the proxy. */
interface Ends {
  /** Client: a probe on channel B (upload direction). */
  probeUp(i: number): void;
  /** Client: the 5 MB upload on channel A. */
  upload(bytes: Uint8Array): void;
  /** Server: a probe to the client (download direction). */
  probeDown(i: number): void;
  /** Server: the 5 MB download. */
  download(bytes: Uint8Array): void;
  close(): Promise<void>;
}

/** Arrival times, by probe id, and of the big payload, on each side. */
class Arrivals {
  readonly probes = new Map<number, number>();
  big: number | undefined;
  reset(): void {
    this.probes.clear();
    this.big = undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const probeData = (i: number): { i: number; pad: string } => ({ i, pad: 'x'.repeat(80) }); // about 100 bytes on the wire
const idOf = (data: unknown): number => (data as { i: number }).i;
/** A ws text message as a string (ws hands a Buffer, or Buffer[] / ArrayBuffer by binaryType). */
const textOf = (data: Buffer | ArrayBuffer | Buffer[]): string => (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)).toString('utf8');

async function rxmuxEnds(window: number | undefined, atServer: Arrivals, atClient: Arrivals): Promise<Ends> {
  const server: RxmuxServer = createServer({ host: '127.0.0.1', port: 0, limits: { ratePerSecond: 1e6, rateBurst: 1e6, slowConsumerBytes: 64 * 1024 * 1024, ...(window === undefined ? {} : { transferWindow: window }) } });
  await server.ready();
  server.handle('up', { onMessage: () => void (atServer.big = performance.now()) });
  server.handle('probe-up', { onMessage: (_ctx, data) => void atServer.probes.set(idOf(data), performance.now()) });
  const proxy = await LatencyProxy.throttled(server.port, RATE);
  const conn: Connection = connect(`ws://127.0.0.1:${proxy.port}/rt`, { WebSocket, shared: false, ...(window === undefined ? {} : { transfers: { window } }) });
  conn.channel('down').binary$.subscribe(() => void (atClient.big = performance.now()));
  conn.channel('probe-down').subscribe((data) => void atClient.probes.set(idOf(data), performance.now()));
  await firstValueFrom(conn.status$.pipe(filter((s) => s === 'open')));
  const joined = async (): Promise<boolean> => (await server.presence('down')).length + (await server.presence('probe-down')).length === 2;
  for (let k = 0; k < TIMEOUT_MS / 5 && !(await joined()); k++) await sleep(5);
  return {
    probeUp: (i) => conn.channel('probe-up').send(probeData(i)),
    upload: (bytes) => conn.channel('up').sendBinary(bytes),
    probeDown: (i) => void server.publish('probe-down', probeData(i)),
    download: (bytes) => void server.publish('down', bytes),
    close: async () => {
      conn.close();
      await proxy.close();
      await server.close();
    },
  };
}

async function wsEnds(atServer: Arrivals, atClient: Arrivals): Promise<Ends> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const address = wss.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  let peer: WebSocket | undefined;
  wss.on('connection', (socket) => {
    peer = socket;
    socket.on('message', (data, isBinary) => {
      if (isBinary) atServer.big = performance.now();
      else atServer.probes.set(idOf(JSON.parse(textOf(data))), performance.now());
    });
  });
  const proxy = await LatencyProxy.throttled(port, RATE);
  const client = new WebSocket(`ws://127.0.0.1:${proxy.port}`);
  client.on('message', (data, isBinary) => {
    if (isBinary) atClient.big = performance.now();
    else atClient.probes.set(idOf(JSON.parse(textOf(data))), performance.now());
  });
  await new Promise<void>((resolve, reject) => {
    client.once('open', () => resolve());
    client.once('error', reject);
  });
  const server = await waitFor(() => peer, TIMEOUT_MS, () => 'the ws server never saw the client');
  return {
    probeUp: (i) => client.send(JSON.stringify(probeData(i))),
    upload: (bytes) => client.send(bytes),
    probeDown: (i) => server.send(JSON.stringify(probeData(i))),
    download: (bytes) => server.send(bytes),
    close: async () => {
      client.terminate();
      await proxy.close();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** One direction: probes alone, the big payload alone, then the big payload with probes every 10 ms. */
async function direction(send: (i: number) => void, big: () => void, arrivals: Arrivals): Promise<Figures> {
  let next = 0;
  const latencies = async (ids: number[], sentAt: Map<number, number>): Promise<number[]> => {
    await waitFor(() => (ids.every((i) => arrivals.probes.has(i)) ? true : undefined), TIMEOUT_MS, () => `${ids.filter((i) => !arrivals.probes.has(i)).length} probes never arrived`);
    return ids.map((i) => (arrivals.probes.get(i) as number) - (sentAt.get(i) as number));
  };
  // Probes alone.
  arrivals.reset();
  const idleSent = new Map<number, number>();
  for (let k = 0; k < PROBES_IDLE; k++) {
    const i = next++;
    idleSent.set(i, performance.now());
    send(i);
    await sleep(PROBE_EVERY_MS);
  }
  const idle = await latencies([...idleSent.keys()], idleSent);
  // The big payload alone.
  arrivals.reset();
  let t0 = performance.now();
  big();
  await waitFor(() => arrivals.big, TIMEOUT_MS, () => 'the 5 MB never arrived (alone)');
  const aloneMs = (arrivals.big as number) - t0;
  await sleep(50);
  // The big payload with probes every 10 ms until it arrived.
  arrivals.reset();
  const loadedSent = new Map<number, number>();
  t0 = performance.now();
  big();
  while (arrivals.big === undefined && performance.now() - t0 < TIMEOUT_MS) {
    await sleep(PROBE_EVERY_MS);
    const i = next++;
    loadedSent.set(i, performance.now());
    send(i);
  }
  await waitFor(() => arrivals.big, TIMEOUT_MS, () => 'the 5 MB never arrived (with probes)');
  const loadedMs = (arrivals.big as number) - t0;
  const loaded = await latencies([...loadedSent.keys()], loadedSent);
  return {
    idleMs: median(idle),
    loadedP50Ms: median(loaded),
    loadedMaxMs: Math.max(...loaded),
    aloneMBs: BIG / 1e6 / (aloneMs / 1000),
    loadedMBs: BIG / 1e6 / (loadedMs / 1000),
  };
}

/** The same five figures each way. */
const METRICS: Metric[] = (['up', 'down'] as const).flatMap((d): Metric[] => {
  const name = d === 'up' ? 'upload' : 'download';
  return [
    { key: `${d}IdleMs`, label: `${name}: 100 B probe alone, p50 ms`, better: 'lower' },
    { key: `${d}LoadedP50Ms`, label: `${name}: probe during 5 MB, p50 ms`, better: 'lower' },
    { key: `${d}LoadedMaxMs`, label: `${name}: probe during 5 MB, max ms`, better: 'lower' },
    { key: `${d}AloneMBs`, label: `${name}: 5 MB alone, MB/s`, better: 'higher' },
    { key: `${d}LoadedMBs`, label: `${name}: 5 MB with probes, MB/s`, better: 'higher' },
  ];
});

/** Runs the scenario `runs` times per contender (contender order rotated per run). */
export async function runHol(runs: number, log?: (line: string) => void): Promise<ScenarioResult> {
  const started = Date.now();
  const loadBefore = loadavg();
  const title = `11. Head-of-line blocking: a 100 B message on channel B while 5 MB travels on channel A, through a ${RATE / 1e6} MB/s proxy, both directions`;
  log?.(`\n${title}`);
  const all = emptyRuns(CONTENDERS, METRICS);
  const errors: string[] = [];
  const payload = new Uint8Array(BIG).map((_, i) => (i * 131) & 0xff);
  for (let r = 0; r < runs; r++) {
    for (const contender of [...CONTENDERS.slice(r % CONTENDERS.length), ...CONTENDERS.slice(0, r % CONTENDERS.length)] as Contender[]) {
      const atServer = new Arrivals();
      const atClient = new Arrivals();
      let ends: Ends | undefined;
      try {
        ends = contender === 'ws' ? await wsEnds(atServer, atClient) : await rxmuxEnds(contender === 'rxmux' ? undefined : 256 * 1024, atServer, atClient);
        const e = ends;
        const up = await direction((i) => e.probeUp(i), () => e.upload(payload), atServer);
        const down = await direction((i) => e.probeDown(i), () => e.download(payload), atClient);
        const f: Record<string, number> = {};
        for (const [k, v] of Object.entries(up) as [string, number][]) f[`up${k[0]?.toUpperCase()}${k.slice(1)}`] = v;
        for (const [k, v] of Object.entries(down) as [string, number][]) f[`down${k[0]?.toUpperCase()}${k.slice(1)}`] = v;
        for (const [key, value] of Object.entries(f)) all[contender]?.[key]?.push(value);
        log?.(`  run ${r + 1} ${contender.padEnd(12)} up: probe ${up.idleMs.toFixed(1)} → ${up.loadedP50Ms.toFixed(1)} ms (max ${up.loadedMaxMs.toFixed(0)}), ${up.aloneMBs.toFixed(1)}/${up.loadedMBs.toFixed(1)} MB/s; down: probe ${down.idleMs.toFixed(1)} → ${down.loadedP50Ms.toFixed(1)} ms (max ${down.loadedMaxMs.toFixed(0)}), ${down.aloneMBs.toFixed(1)}/${down.loadedMBs.toFixed(1)} MB/s`);
      } catch (error) {
        const message = `hol run ${r + 1} ${contender}: ${error instanceof Error ? error.message : String(error)}`;
        errors.push(message);
        log?.(`  ERROR ${message}`);
      } finally {
        await ends?.close().catch(() => undefined);
      }
    }
  }
  const medians = mediansOf(all);
  const m = (c: Contender, k: string): number => medians[c]?.[k] ?? Number.NaN;
  const verdicts: Verdict[] = [];
  for (const c of ['rxmux', 'rxmux-w256k'] as const) {
    for (const d of ['up', 'down'] as const) {
      const extra = m(c, `${d}LoadedP50Ms`) - m(c, `${d}IdleMs`);
      verdicts.push({
        target: `${c} ${d}load: a probe during 5 MB within one piece's write time (${PIECE_MS.toFixed(1)} ms) of its idle latency`,
        met: extra <= PIECE_MS,
        detail: `p50 ${m(c, `${d}LoadedP50Ms`).toFixed(1)} ms vs ${m(c, `${d}IdleMs`).toFixed(1)} ms idle (+${extra.toFixed(1)} ms); raw ws ${m('ws', `${d}LoadedP50Ms`).toFixed(1)} ms`,
      });
      const own = m(c, `${d}LoadedMBs`) / m(c, `${d}AloneMBs`);
      const vsWs = m(c, `${d}LoadedMBs`) / m('ws', `${d}AloneMBs`);
      verdicts.push({
        target: `${c} ${d}load: 5 MB throughput with probes ≥ 0.9× alone`,
        met: own >= 0.9,
        detail: `${own.toFixed(2)}× its own alone; ${vsWs.toFixed(2)}× raw ws's whole frame alone (${m('ws', `${d}AloneMBs`).toFixed(1)} MB/s)`,
      });
    }
  }
  const ratios = [['rxmux', 'ws'], ['rxmux-w256k', 'ws']] as const;
  return { id: 'hol', title, contenders: CONTENDERS, metrics: METRICS, ratios, runs: all, medians, verdicts, loadBefore, seconds: (Date.now() - started) / 1000, errors };
}
