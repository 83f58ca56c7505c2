/**
 * Scenario 6, in process: decode and deliver publication frames spread over
 * N channels with one subscriber each. rxmux's router is driven through a
 * real `Connection` on a `FakeServer` socket (the test kit's); RxJS
 * `webSocket().multiplex` through a fake socket given as `WebSocketCtor`.
 * Scenario 7 drives the same rxmux path with its debug tap absent, off or on.
 */
import { connect } from '@rxmux/core';
import { encodeText } from '@rxmux/core/protocol';
import { FakeServer } from '@rxmux/core/testing';
import type { Subscription } from 'rxjs';
import { webSocket, type WebSocketSubjectConfig } from 'rxjs/webSocket';
import { StallError } from './util.js';

/**
 * Which router is measured: rxmux with server-style batches, rxmux one frame
 * per message, RxJS multiplex, or the floor: `JSON.parse` of the same batches
 * and a `Map` lookup per frame, with no validation and no RxJS (the ceiling
 * any JSON router reaches on this machine); `floor-unbatched` is the same
 * with one envelope per message (the floor of `rxmux-unbatched`).
 */
export type RouterKind = 'rxmux' | 'rxmux-unbatched' | 'multiplex' | 'floor' | 'floor-unbatched';

/**
 * The rxmux connection's debug tap: `absent` (`devtools: false`, no tap
 * object at all), `off` (the default: a tap exists, nobody listens: Node has
 * no DevTools hook), `on` (`conn.debug()` with a listener that only counts).
 */
export type TapMode = 'absent' | 'off' | 'on';

export interface RoutingArgs {
  readonly kind: RouterKind;
  readonly channels: number;
  readonly frames: number;
  /** Envelopes per WebSocket message for `rxmux` (the server coalesces per turn). */
  readonly batch: number;
  readonly data: unknown;
  /** The debug tap of the rxmux connection (default `off`, what `connect()` gives). */
  readonly tap?: TapMode;
  /** Stop early (after whole cycles) once this many ms were measured; the rate stays exact. Default: no budget. */
  readonly budgetMs?: number;
  readonly timeoutMs: number;
}

export interface RoutingResult {
  readonly framesPerSec: number;
  readonly frames: number;
  readonly ms: number;
}

/** Frames in one pre-built cycle of messages (a multiple of every channel count used). */
function cycleOf(frames: number): number {
  return frames >= 20_000 ? 20_000 : 2_000;
}

const channelId = (i: number): string => `c${i}`;

/** Feeds `messages` (cycled) to `push` until `frames` frames went through; bounded by `timeoutMs`. */
function drive(messages: readonly string[], perMessage: number, frames: number, push: (m: string) => void, args: RoutingArgs): RoutingResult {
  const cycleFrames = messages.length * perMessage;
  const cycles = Math.max(1, Math.round(frames / cycleFrames));
  for (const m of messages) push(m); // warm-up: one cycle, not timed
  const deadline = Date.now() + args.timeoutMs;
  const t0 = performance.now();
  const budget = args.budgetMs ?? Number.POSITIVE_INFINITY;
  let done = 0;
  for (let c = 0; c < cycles; c++) {
    for (const m of messages) push(m);
    done++;
    if (performance.now() - t0 > budget) break;
    if (Date.now() > deadline) {
      throw new StallError(`routing ${args.kind} over ${args.channels} channels: only ${(c + 1) * cycleFrames} of ${cycles * cycleFrames} frames within ${args.timeoutMs / 1000} s`);
    }
  }
  const ms = performance.now() - t0;
  const total = done * cycleFrames;
  return { framesPerSec: (total / ms) * 1000, frames: total, ms };
}

function routeRxmux(args: RoutingArgs, batch: number): RoutingResult {
  const server = new FakeServer();
  const tap = args.tap ?? 'off';
  const conn = connect('ws://bench.invalid/rt', { WebSocket: server.WebSocket, shared: false, ...(tap === 'absent' ? { devtools: false } : {}) });
  let events = 0;
  const stopDebug = tap === 'on' ? conn.debug(() => {
    events++;
  }) : undefined;
  let delivered = 0;
  const subs: Subscription[] = [];
  for (let i = 0; i < args.channels; i++) subs.push(conn.channel(channelId(i)).subscribe(() => delivered++));
  server.last.welcome();
  const socket = server.last.socket;
  const cycle = cycleOf(args.frames);
  const envelopes: string[] = [];
  for (let i = 0; i < args.channels; i++) envelopes.push(encodeText({ type: 'publication', channel: channelId(i), data: args.data as never }));
  const messages: string[] = [];
  for (let j = 0; j < cycle; j += batch) {
    const group: string[] = [];
    for (let k = j; k < j + batch; k++) group.push(envelopes[k % args.channels] as string);
    messages.push(group.length === 1 ? (group[0] as string) : `[${group.join(',')}]`);
  }
  try {
    const result = drive(messages, batch, args.frames, (m) => socket.receive(m), args);
    const expected = result.frames + cycle;
    if (delivered !== expected) throw new Error(`rxmux router delivered ${delivered} of ${expected} frames`);
    // With the tap on, the listener saw every frame (one frame event each, plus the set-up's events).
    if (tap === 'on' && events < expected) throw new Error(`the debug listener saw ${events} events for ${expected} frames`);
    return result;
  } finally {
    stopDebug?.();
    for (const s of subs) s.unsubscribe();
    conn.close();
  }
}

/** The least a WebSocketSubject needs from its socket; the test pushes events through the handler properties. */
class FakeRxSocket {
  static last: FakeRxSocket | undefined;
  readyState = 0;
  binaryType = 'blob';
  protocol = '';
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  onclose: ((event: unknown) => void) | null = null;
  constructor(readonly url: string) {
    FakeRxSocket.last = this;
  }
  send(): void {
    // Nothing goes to a server: the bench times what the subject does with incoming frames.
  }
  close(): void {
    this.readyState = 3;
  }
}

function routeMultiplex(args: RoutingArgs): RoutingResult {
  const subject = webSocket<{ channel: string; data: unknown }>({
    url: 'ws://bench.invalid/rt',
    WebSocketCtor: FakeRxSocket as unknown as WebSocketSubjectConfig<unknown>['WebSocketCtor'],
  });
  let delivered = 0;
  const subs: Subscription[] = [];
  for (let i = 0; i < args.channels; i++) {
    const id = channelId(i);
    subs.push(
      subject
        .multiplex(() => ({ sub: id }), () => ({ unsub: id }), (m) => m.channel === id)
        .subscribe(() => delivered++),
    );
  }
  const socket = FakeRxSocket.last;
  if (socket === undefined || socket.onopen === null) throw new Error('WebSocketSubject did not open its fake socket');
  socket.readyState = 1;
  socket.onopen({});
  const onmessage = socket.onmessage;
  if (onmessage === null) throw new Error('WebSocketSubject set no onmessage');
  const cycle = cycleOf(args.frames);
  const messages: string[] = [];
  for (let j = 0; j < cycle; j++) messages.push(JSON.stringify({ channel: channelId(j % args.channels), data: args.data }));
  try {
    const result = drive(messages, 1, args.frames, (m) => onmessage({ data: m }), args);
    const expected = result.frames + cycle;
    if (delivered !== expected) throw new Error(`multiplex delivered ${delivered} of ${expected} frames`);
    return result;
  } finally {
    for (const s of subs) s.unsubscribe();
  }
}

function routeFloor(args: RoutingArgs, batch: number): RoutingResult {
  let delivered = 0;
  const handlers = new Map<string, (data: unknown) => void>();
  for (let i = 0; i < args.channels; i++) handlers.set(channelId(i), () => delivered++);
  const cycle = cycleOf(args.frames);
  const envelopes: string[] = [];
  for (let i = 0; i < args.channels; i++) envelopes.push(JSON.stringify([1, channelId(i), args.data]));
  const messages: string[] = [];
  for (let j = 0; j < cycle; j += batch) {
    const group: string[] = [];
    for (let k = j; k < j + batch; k++) group.push(envelopes[k % args.channels] as string);
    messages.push(batch === 1 ? (group[0] as string) : `[${group.join(',')}]`);
  }
  const push =
    batch === 1
      ? (m: string): void => {
          const e = JSON.parse(m) as [number, string, unknown];
          handlers.get(e[1])?.(e[2]);
        }
      : (m: string): void => {
          for (const e of JSON.parse(m) as [number, string, unknown][]) handlers.get(e[1])?.(e[2]);
        };
  const result = drive(messages, batch, args.frames, push, args);
  if (delivered !== result.frames + cycle) throw new Error(`floor delivered ${delivered} of ${result.frames + cycle} frames`);
  return result;
}

/** Runs one routing measurement. */
export function route(args: RoutingArgs): RoutingResult {
  if (args.kind === 'multiplex') return routeMultiplex(args);
  if (args.kind === 'floor' || args.kind === 'floor-unbatched') return routeFloor(args, args.kind === 'floor' ? args.batch : 1);
  return routeRxmux(args, args.kind === 'rxmux' ? args.batch : 1);
}
