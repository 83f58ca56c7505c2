/**
 * The client half of the fuzz: a hostile `ws` server feeds a real
 * `@rxmux/core` client (with `ws`) junk, mutated frames, frames out of place
 * and closes, and the client's behaviour is judged against PROTOCOL.md
 * (5, 8.1, 9): every malformed envelope is reported on `conn.errors$` with
 * its code and dropped; a publication reaches its channel once, in order,
 * only when its seq is above the last seen; `unsubscribed` ends only its
 * channel; a ping is answered; nothing else ends or breaks the connection;
 * a close is retried unless its code is fatal. Each case uses channels of
 * its own, and ends with a canary publication on a third channel: when it
 * arrives, everything before it was handled.
 */
import fc from 'fast-check';
import { config as rxjsConfig, type Subscription } from 'rxjs';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { connect, type Connection, type ConnectionStatus, type GapNotice } from '@rxmux/core';
import { binaryFrame, serverEnvelope } from './arbitraries.js';
import type { PropertyFigures } from './run.js';
import type { WsMessage } from './server-model.js';
import { CLIENT_MAX_FRAME, EPOCH, expectClient, type ClientCase, type ClientExpectation } from './client-model.js';
import { Code, FATAL_CLOSE_CODES, specDecode, type SpecFrame } from './spec.js';

const WAIT_MS = 10_000;
const KNOWN_CODES: ReadonlySet<string> = new Set(Object.values(Code));

// ---- generators ------------------------------------------------------------------------

/** Channel names of case `k` are `a<k>`, `b<k>`; the generators use placeholders replaced when sent. */
const A = '§A';
const B = '§B';
const channels = fc.constantFrom(A, B, A, B, 'zz-not-joined', '');

/** Envelopes a client must never get (client → server frames), and a second welcome. */
const misplaced = fc.constantFrom<readonly unknown[]>([0, A, 1], [2, 1], [4, A], [5, B], [10, A, 1, null], [13, 1], [18, 'token'], [3, 1, 'again', 0]);

const envelope = fc.oneof({ arbitrary: serverEnvelope(channels), weight: 5 }, { arbitrary: misplaced, weight: 1 });

/** Publications in order, out of order and again, so the seq rules run. */
const publications = fc.array(fc.tuple(fc.constantFrom(A, B), fc.nat(6), fc.jsonValue({ maxDepth: 2 })).map(([c, seq, d]) => [1, c, d, seq]), { minLength: 1, maxLength: 6 });

const text = (t: string): WsMessage => ({ kind: 'text', text: t });

const serverMessage: fc.Arbitrary<WsMessage> = fc.oneof(
  { arbitrary: envelope.map((e) => text(JSON.stringify(e))), weight: 25 },
  { arbitrary: fc.array(envelope, { minLength: 2, maxLength: 6 }).map((b) => text(JSON.stringify(b))), weight: 10 },
  { arbitrary: publications.map((b) => text(JSON.stringify(b))), weight: 10 },
  {
    arbitrary: fc.tuple(fc.constantFrom(A, B, 'zz-not-joined'), fc.option(fc.nat(6), { nil: undefined }), fc.uint8Array({ maxLength: 32 }), fc.constantFrom(0, 1)).map(
      ([c, seq, payload, type]): WsMessage => ({ kind: 'binary', bytes: binaryFrame(type, c, seq, payload) }),
    ),
    weight: 5,
  },
  // A publication over the client's maxFrameBytes: refused, and skipped by its seq.
  { arbitrary: fc.tuple(fc.constantFrom(A, B), fc.nat(6)).map(([c, seq]) => text(JSON.stringify([1, c, 'x'.repeat(CLIENT_MAX_FRAME), seq]))), weight: 1 },
);

function mutate(m: WsMessage): fc.Arbitrary<WsMessage> {
  if (m.kind !== 'text') {
    return fc.tuple(fc.nat(Math.max(0, m.bytes.length - 1)), fc.nat(255)).map(([i, v]) => {
      const b = Buffer.from(m.bytes);
      if (i < b.length) b[i] = v;
      return { kind: 'binary', bytes: new Uint8Array(b) };
    });
  }
  const t = m.text;
  const at = fc.nat(t.length);
  return fc.oneof(
    fc.tuple(at, fc.nat(6)).map(([i, n]) => text(t.slice(0, i) + t.slice(i + n))),
    fc.tuple(at, fc.constantFrom('[', ']', ',', '"', 'null', '-1', '1.5', '1e400', '{}', '"\\ud800"')).map(([i, tok]) => text(t.slice(0, i) + tok + t.slice(i))),
    at.map((i) => text(t.slice(0, i))),
    fc.integer({ min: -2, max: 25 }).map((n) => text(t.replace(/^(\[+)\d+/, `$1${n}`))),
  );
}

const junk: fc.Arbitrary<WsMessage> = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 100 }).map(text),
  fc.uint8Array({ maxLength: 100 }).map((bytes): WsMessage => ({ kind: 'binary', bytes })),
  fc.array(fc.constantFrom('[', ']', ',', '1', '"a"', 'null', '{', '}', '14', A), { maxLength: 20 }).map((t) => text(`[${t.join('')}`)),
);

const CLOSES = [1000, 1001, 1002, 1003, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4001, 4400, 4401, 4403, 4406, 4999];

/** The client properties and their arbitraries. */
export const CLIENT_PROPERTIES: readonly { readonly name: string; readonly share: number; readonly arb: fc.Arbitrary<ClientCase> }[] = [
  { name: 'client-junk', share: 0.25, arb: fc.array(junk, { minLength: 1, maxLength: 4 }).map((messages) => ({ early: false, messages, close: undefined })) },
  { name: 'client-mutated', share: 0.35, arb: fc.array(serverMessage.chain(mutate), { minLength: 1, maxLength: 4 }).map((messages) => ({ early: false, messages, close: undefined })) },
  { name: 'client-frames', share: 0.25, arb: fc.array(serverMessage, { minLength: 1, maxLength: 5 }).map((messages) => ({ early: false, messages, close: undefined })) },
  { name: 'client-early', share: 0.08, arb: fc.array(fc.oneof(serverMessage, junk), { minLength: 1, maxLength: 3 }).map((messages) => ({ early: true, messages, close: undefined })) },
  {
    name: 'client-close',
    share: 0.07,
    arb: fc.tuple(fc.array(serverMessage, { maxLength: 2 }), fc.constantFrom(...CLOSES)).map(([messages, close]) => ({ early: false, messages, close })),
  },
];

// ---- the hostile server and the client ----------------------------------------------------

/** The hostile server: a real handshake, welcomes and subscribes answered, everything else under the case's control. */
class HostileServer {
  readonly #wss: WebSocketServer;
  #socket: WebSocket | undefined;
  /** Frames the client sent (decoded), for pongs and unsubscribes. */
  readonly received: SpecFrame[] = [];
  /** What to send before the welcome on the next connection. */
  early: readonly (string | Uint8Array)[] | undefined;
  #wake: (() => void) | undefined;
  #sessions = 0;

  private constructor(wss: WebSocketServer) {
    this.#wss = wss;
    wss.on('connection', (ws) => this.#connection(ws));
  }

  static async start(): Promise<HostileServer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, handleProtocols: (p) => (p.has('rxmux.v1') ? 'rxmux.v1' : false) });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    return new HostileServer(wss);
  }

  get url(): string {
    const address = this.#wss.address();
    return `ws://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/rt`;
  }

  /** Sends raw messages on the current socket. */
  send(messages: readonly (string | Uint8Array)[]): void {
    for (const m of messages) this.#socket?.send(m, { binary: typeof m !== 'string' });
  }

  /** Ends the current socket with `code` (1006: no close frame). */
  end(code: number): void {
    if (code === 1006) this.#socket?.terminate();
    else this.#socket?.close(code, 'fuzz');
  }

  /** Waits (bounded) until `check` holds over what the client sent. */
  async until(check: () => boolean, ms = WAIT_MS): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(50, Math.max(1, deadline - Date.now())));
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return true;
  }

  close(): Promise<void> {
    for (const client of this.#wss.clients) client.terminate();
    return new Promise((resolve) => this.#wss.close(() => resolve()));
  }

  #connection(ws: WebSocket): void {
    this.#socket = ws;
    ws.on('error', () => undefined);
    ws.on('message', (raw: RawData, binary: boolean) => {
      const bytes = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw as Buffer);
      for (const e of specDecode(binary ? new Uint8Array(bytes) : bytes.toString('utf8'), { maxFrameBytes: 16 * 1024 * 1024, maxBatch: 100_000 })) {
        if (!('frame' in e)) continue;
        const f = e.frame;
        this.received.push(f);
        if (ws !== this.#socket) continue;
        if (f.type === 'hello') {
          const early = this.early;
          this.early = undefined;
          if (early !== undefined) for (const m of early) ws.send(m, { binary: typeof m !== 'string' });
          const named = typeof f.session === 'string';
          ws.send(JSON.stringify([3, 1, named ? f.session : `s-${++this.#sessions}`, 0, null, named ? true : null, 0, { maxFrameBytes: 1048576, maxBatch: 1024, rate: 100000, burst: 200000 }]));
        } else if (f.type === 'subscribe') {
          // A resume (since) or a fresh join: the channel is where the client says, in the same epoch.
          ws.send(JSON.stringify([6, f.channel, EPOCH, typeof f.since === 'number' ? f.since : 0]));
        } else if (f.type === 'ping') {
          ws.send(JSON.stringify(f.t === undefined ? [15] : [15, f.t]));
        }
      }
      const wake = this.#wake;
      this.#wake = undefined;
      wake?.();
    });
  }
}

/** Errors nobody handled anywhere in this process: there must be none. */
const unhandled: string[] = [];
let watching = false;
function watchUnhandled(): void {
  if (watching) return;
  watching = true;
  rxjsConfig.onUnhandledError = (error: unknown) => unhandled.push(`rxjs: ${String(error)}`);
  process.on('uncaughtException', (error) => unhandled.push(`uncaught: ${error.stack ?? error.message}`));
  process.on('unhandledRejection', (error) => unhandled.push(`unhandled rejection: ${String(error)}`));
}

/** One worker: a hostile server and the client under test. */
class ClientWorker {
  #conn: Connection | undefined;
  #status: ConnectionStatus[] = [];
  #errors: string[] = [];
  #subs: Subscription[] = [];
  #k = 0;

  constructor(private readonly server: HostileServer, private readonly worker: number) {}

  async run(c: ClientCase): Promise<{ kinds: string[]; problems: string[] }> {
    const k = ++this.#k;
    const a = `a${this.worker}-${k}`;
    const b = `b${this.worker}-${k}`;
    const canary = `canary${this.worker}-${k}`;
    const fill = (t: string): string => t.replaceAll(A, a).replaceAll(B, b);
    // What travels is UTF-8: a lone surrogate in a generated string arrives as U+FFFD, so the model sees that.
    const wire = c.messages.map((m) => (m.kind === 'text' ? Buffer.from(fill(m.text)).toString('utf8') : m.kind === 'binary' ? fillBinary(m.bytes, a, b) : m.bytes));
    const expected = expectClient({ ...c, messages: wire.map((w): WsMessage => (typeof w === 'string' ? text(w) : { kind: 'binary', bytes: w })) }, a, b);
    const unhandledBefore = unhandled.length;
    if (c.early || this.#conn === undefined) {
      this.#dispose();
      if (c.early) this.server.early = wire;
    }
    const conn = (this.#conn ??= this.#connect());
    this.#errors = [];
    this.#status = [];
    const statusSub = conn.status$.subscribe((s) => this.#status.push(s));
    const seen = new Map<string, unknown[]>([[a, []], [b, []], [canary, []]]);
    const ended = new Map<string, string>();
    const gaps: GapNotice[] = [];
    const subs = [a, b, canary].map((name) =>
      conn.channel(name).subscribe({
        next: (v) => seen.get(name)?.push(v),
        error: (e: unknown) => ended.set(name, (e as { code?: string }).code ?? 'error'),
        complete: () => ended.set(name, 'complete'),
      }),
    );
    // Bytes arrive on binary$, JSON on the channel itself: both go into one list, in the order they came.
    // (Their errors are the channel's, already recorded above.)
    for (const name of [a, b]) subs.push(conn.channel(name).binary$.subscribe({ next: (v) => seen.get(name)?.push(v), error: () => undefined }));
    subs.push(conn.channel(a).gaps$.subscribe({ next: (g) => gaps.push(g), error: () => undefined }));
    const received = this.server.received.length;
    const problems: string[] = [];
    const joined = await this.server.until(() => [a, b, canary].every((n) => this.server.received.slice(received).some((f) => f.type === 'subscribe' && f.channel === n)));
    if (!joined) problems.push('the client did not subscribe its channels');
    else {
      await settle(); // the subscribed answers reach the client
      if (!c.early) this.server.send(wire);
      if (c.close !== undefined) this.server.end(c.close);
      const fatal = c.close !== undefined && FATAL_CLOSE_CODES.has(c.close);
      if (c.close !== undefined && !fatal) {
        // 9: a retryable close: the client reconnects and re-joins; the canary goes to the new socket.
        const back = await until(() => this.#status.includes('reconnecting') && this.#status.at(-1) === 'open');
        if (!back) problems.push(`close ${c.close}: status ${this.#status.join(' → ')}, expected a reconnect`);
        else await this.server.until(() => this.server.received.slice(received).filter((f) => f.type === 'subscribe' && f.channel === canary).length >= 2);
        await settle();
      }
      if (fatal) {
        if (!(await until(() => this.#status.includes('failed')))) problems.push(`close ${String(c.close)}: status ${this.#status.join(' → ')}, expected failed`);
      } else {
        this.server.send([JSON.stringify([1, canary, { canary: k }, 1])]);
        if (!(await until(() => (seen.get(canary)?.length ?? 0) > 0))) problems.push(`the canary never arrived (status ${this.#status.join(' → ')})`);
        // A new connection starts closed → connecting → open; from its first open on it must stay open.
        const since = this.#status.indexOf('open');
        if (c.close === undefined && (since === -1 || this.#status.slice(since).some((s) => s !== 'open'))) problems.push(`the connection left open: ${this.#status.join(' → ')}`);
        const pongs = await this.server.until(() => expected.pongs.every((t) => this.server.received.slice(received).some((f) => f.type === 'pong' && (f.t ?? null) === t)), 2_000);
        if (!pongs) problems.push(`pongs for ${JSON.stringify(expected.pongs)} not all received`);
      }
      if (c.close === undefined) problems.push(...this.#judge(expected, seen, ended, a, b, received));
    }
    for (const s of subs) s.unsubscribe();
    statusSub.unsubscribe();
    if (c.close !== undefined && FATAL_CLOSE_CODES.has(c.close)) this.#dispose();
    if (unhandled.length > unhandledBefore) problems.push(...unhandled.slice(unhandledBefore));
    // Codes the server made up (the fuzz mutates them too) count as one kind.
    const codes = new Set(this.#errors.map((e) => `error:${KNOWN_CODES.has(e) ? e : 'another code'}`));
    const kinds = [c.early ? 'early' : c.close !== undefined ? `close:${c.close}${FATAL_CLOSE_CODES.has(c.close) ? ' (failed)' : ' (reconnected)'}` : 'open', ...codes];
    if (gaps.length > 0) kinds.push('gap');
    if (ended.size > 0) kinds.push('channel ended');
    return { kinds, problems };
  }

  close(): void {
    this.#dispose();
  }

  #judge(x: ClientExpectation, seen: Map<string, unknown[]>, ended: Map<string, string>, a: string, b: string, received: number): string[] {
    const problems: string[] = [];
    for (const name of [a, b]) {
      const want = x.values.get(name) ?? [];
      const got = seen.get(name) ?? [];
      if (!sameValues(want, got)) problems.push(`${name}: delivered ${preview(got)}, expected ${preview(want)}`);
      if (ended.get(name) !== x.ended.get(name)) problems.push(`${name}: ended ${String(ended.get(name))}, expected ${String(x.ended.get(name))}`);
    }
    const errors = [...this.#errors];
    for (const e of x.errors) {
      const i = errors.findIndex((code) => e.codes.includes(code));
      if (i !== -1) errors.splice(i, 1);
      else if (!e.optional) problems.push(`no error ${e.codes.join('|')} on conn.errors$`);
    }
    for (const code of errors) problems.push(`unexpected error ${code} on conn.errors$`);
    for (const channel of x.unwanted) {
      if (!this.server.received.slice(received).some((f) => f.type === 'unsubscribe' && f.channel === channel)) problems.push(`known: no unsubscribe for the unwanted subscribed ${JSON.stringify(channel)} (5.6)`);
    }
    return problems;
  }

  #connect(): Connection {
    const conn = connect(this.server.url, {
      WebSocket,
      shared: false,
      devtools: false,
      heartbeat: false,
      linger: 0,
      maxFrameBytes: CLIENT_MAX_FRAME,
      reconnect: { initialDelay: 5, maxDelay: 50, jitter: 0, minUptime: 10 },
    });
    this.#subs.push(conn.errors$.subscribe((e) => this.#errors.push(e.code)));
    return conn;
  }

  #dispose(): void {
    for (const s of this.#subs.splice(0)) s.unsubscribe();
    this.#conn?.close();
    this.#conn = undefined;
  }
}

/** Replaces the placeholder channel in a binary frame (its length byte follows). */
function fillBinary(bytes: Uint8Array, a: string, b: string): Uint8Array {
  const length = bytes[2] ?? 0;
  const channel = Buffer.from(bytes.subarray(3, 3 + length)).toString('utf8');
  if (channel !== A && channel !== B) return bytes;
  const name = Buffer.from(channel === A ? a : b);
  const out = Buffer.concat([Buffer.from([bytes[0] ?? 0, bytes[1] ?? 0, name.length]), name, Buffer.from(bytes.subarray(3 + length))]);
  return new Uint8Array(out);
}

const sameValues = (a: readonly unknown[], b: readonly unknown[]): boolean =>
  a.length === b.length && a.every((v, i) => (v instanceof Uint8Array || b[i] instanceof Uint8Array ? Buffer.from(v as Uint8Array).equals(Buffer.from(b[i] as Uint8Array)) : JSON.stringify(v) === JSON.stringify(b[i])));

const preview = (values: readonly unknown[]): string => JSON.stringify(values.map((v) => (v instanceof Uint8Array ? `<${v.byteLength} bytes>` : v))).slice(0, 200);

/** A few event-loop turns (what the client needs to handle a message). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 1));
}

async function until(check: () => boolean, ms = WAIT_MS): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return true;
}

/** The client fuzz's figures. */
export interface ClientFuzzFigures {
  readonly properties: PropertyFigures[];
}

/** Runs the client properties: `cases` in all, split by their shares, `workers` side by side. */
export async function runClientFuzz(options: { readonly cases: number; readonly seed: number; readonly until: number; readonly workers: number }): Promise<ClientFuzzFigures> {
  watchUnhandled();
  const properties: PropertyFigures[] = [];
  const servers = await Promise.all(Array.from({ length: options.workers }, () => HostileServer.start()));
  const workers = servers.map((s, w) => new ClientWorker(s, w));
  try {
    for (const p of CLIENT_PROPERTIES) {
      const t0 = performance.now();
      const outcomes: Record<string, number> = {};
      let cases = 0;
      const failures: string[] = [];
      // The last property takes what rounding left, so the counts add up to `cases`.
      const others = CLIENT_PROPERTIES.filter((q) => q !== p).reduce((n, q) => n + Math.max(1, Math.round(options.cases * q.share)), 0);
      const total = p === CLIENT_PROPERTIES.at(-1) ? Math.max(1, options.cases - others) : Math.max(1, Math.round(options.cases * p.share));
      await Promise.all(
        workers.map(async (worker, w) => {
          const runs = Math.floor(total / workers.length) + (w < total % workers.length ? 1 : 0);
          if (runs === 0) return;
          const seed = (options.seed + w * 104_729 + p.name.length * 31) | 0;
          const details = await fc.check(
            fc.asyncProperty(p.arb, async (c) => {
              const { kinds, problems } = await worker.run(c);
              cases++;
              const known = problems.length > 0 && problems.every((x) => x.startsWith('known: '));
              for (const kind of known ? [...kinds, 'known:client-ignores-unwanted-subscribed'] : kinds) outcomes[kind] = (outcomes[kind] ?? 0) + 1;
              if (problems.length > 0 && !known) throw new Error(problems.slice(0, 6).join('\n'));
            }),
            { numRuns: runs, seed, plugins: [fc.interruptAfterTimeLimit(Math.max(1, options.until - Date.now()))] },
          );
          if (details.failed) {
            const input = JSON.stringify((details.counterexample as readonly unknown[] | null)?.[0], (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : typeof v === 'string' && v.length > 200 ? `${v.slice(0, 200)}…` : v));
            failures.push(`seed ${seed}: ${input}\n    ${String(details.errorInstance instanceof Error ? details.errorInstance.message : details.errorInstance).replace(/\n/g, '\n    ')}`);
          }
        }),
      );
      properties.push({ name: p.name, cases, seconds: (performance.now() - t0) / 1000, outcomes, failure: failures.length > 0 ? failures.join('\n  ') : undefined });
    }
  } finally {
    for (const w of workers) w.close();
    await Promise.all(servers.map((s) => s.close()));
  }
  return { properties };
}
