import type { ConnectionStatus, StatusTransition } from '../connection/status.js';
import type { Frame } from '../protocol/frames.js';
import {
  DEBUG_PROTOCOL_VERSION,
  DEVTOOLS_HOOK_KEY,
  type DebugAction,
  type DebugEvent,
  type DebugTap,
  type DebugTransport,
  type DevtoolsHook,
} from './events.js';
import { stripQuery } from './frames.js';
import { loadedRecorder, loadRecorder } from './load.js';
import type { ChannelAction, DropReport, ErrorReport, GapReport, StreamSnapshot, TapRecorder, TapSnapshot } from './recorder.js';

export type { StreamSnapshot } from './recorder.js';

/** What the tap reads from its connection when a debugger starts listening, and what runs its actions. @internal */
export interface TapHost {
  status(): ConnectionStatus;
  /** Joined channels: their local subscriber counts, and whether the server confirmed them. */
  channels(): Iterable<readonly [channel: string, subscribers: number, confirmed: boolean]>;
  /** Channels whose delivery a debugger paused. */
  paused(): Iterable<string>;
  /** Runs a debugger action (only called when actions are allowed). */
  act(action: DebugAction): void;
}

/** Most steps kept while the tap's code loads; past it, events are counted as lost (and the count reported). */
export const MAX_WAITING_STEPS = 10_000;

/** Most bytes of frames kept while the tap's code loads (a stalled chunk must not hold a flood of large frames). */
export const MAX_WAITING_BYTES = 16 * 1024 * 1024;

/** The recorder's methods the hook points call, each with the time it happened last. */
type Recorded = 'out' | 'in' | 'transition' | 'channel' | 'timedOut' | 'ackTimedOut' | 'gap' | 'drop' | 'error' | 'refused';

/** A parameter list without its last, the time (`never` when the last is not a number). */
type Head<T extends unknown[]> = T extends [...infer H, number] ? H : never;

/** A recorder method and its arguments but the time: one alternative per method, so no method takes another's. */
type RecordCall = { [K in Recorded]: [method: K, ...args: Head<Parameters<TapRecorder[K]>>] }[Recorded];

/** One thing that happened while the recorder's code loads, replayed in order once it is there. */
type Step = (recorder: TapRecorder) => void;

let taps = 0;

/**
 * A connection's debug tap. Every hook point in the connection reads
 * {@link Tap.active} first, so a tap nobody listens to costs one property
 * read per frame. Everything else (decoding what was written, naming
 * channels, timing replies) is {@link TapRecorder}'s, whose code is loaded
 * (a dynamic import) when somebody first listens: a page nobody debugs never
 * downloads it. What happens while it loads waits in order, with its time,
 * and is reported once it is there.
 *
 * ```
 *  Link.write ─▶ out() ─┐
 *  socket msg ─▶ in() ──┼─▶ (waiting steps, while the code loads) ─▶ TapRecorder ─▶ DebugEvent ─▶ listeners
 *  status, channels, requests, acks, gaps, drops, errors, SSE ─┘                    (the page hook, an app's logger)
 * ```
 * @internal
 */
export class Tap implements DebugTap {
  readonly version = DEBUG_PROTOCOL_VERSION;
  readonly id: string;
  readonly url: string;
  /** True while somebody listens (or a listener waits for the recorder's code). */
  active = false;
  /** Where the event stream stands, when `events()` made one (its `StreamTap` tells). */
  streams: (() => StreamSnapshot) | undefined;
  /** The listeners events go to (changed only in order with the events: see {@link Tap.listen}). */
  readonly #listeners = new Set<(event: DebugEvent) => void>();
  /** Listeners asked for and not yet stopped (`active` while there are any). */
  #wanted = 0;
  #recorder: TapRecorder | undefined;
  /**
   * What happened while the recorder's code loads, in order; once it is there, what a step run
   * now caused (a listener's reaction: it runs after the step, in turn). `undefined` once the load failed.
   */
  #waiting: Step[] | undefined = [];
  /** Whether the steps are running (what a step causes meanwhile joins the end of {@link Tap.#waiting}). */
  #draining = false;
  /** The frames' bytes among them. */
  #waitingBytes = 0;
  /** Steps dropped past {@link MAX_WAITING_STEPS} or {@link MAX_WAITING_BYTES}. */
  #lost = 0;
  /** Listeners whose first step waits for the recorder (told if its code cannot load). */
  readonly #joining = new Set<(event: DebugEvent) => void>();
  /** Bumped when every listener is let go at once (dispose, a failed load): older stop functions do nothing. */
  #generation = 0;
  #unregister: (() => void) | undefined;

  constructor(
    url: string,
    readonly actions: boolean,
    private readonly host: TapHost,
  ) {
    this.id = `rxmux-${++taps}`;
    this.url = stripQuery(url);
  }

  /** Registers with the page's DevTools hook, when one is installed. */
  register(): void {
    const hook = (globalThis as { [DEVTOOLS_HOOK_KEY]?: DevtoolsHook })[DEVTOOLS_HOOK_KEY];
    if (typeof hook?.register !== 'function') return;
    try {
      const unregister = hook.register(this);
      if (typeof unregister === 'function') this.#unregister = unregister;
    } catch {
      // A broken debugger must not break the app.
    }
  }

  /**
   * Starts reporting to `listener`: where the connection stands now first,
   * then every event. The state is read now; the listener joins in order
   * with the events (after those that happened before this call, while the
   * recorder's code loads).
   */
  listen(listener: (event: DebugEvent) => void): () => void {
    const at = Date.now();
    const send = (event: DebugEvent): void => {
      try {
        listener(event);
      } catch {
        // a listener's failure is its own
      }
    };
    const snapshot: TapSnapshot = {
      url: this.url,
      actions: this.actions,
      status: this.host.status(),
      channels: [...this.host.channels()],
      paused: [...this.host.paused()],
      streams: this.streams?.(),
    };
    if (this.#waiting === undefined) {
      send(this.#unavailable());
      return () => undefined;
    }
    const generation = this.#generation;
    this.#wanted++;
    this.active = true;
    if (this.#recorder === undefined) this.#joining.add(send);
    this.#run((recorder) => {
      this.#joining.delete(send);
      recorder.greet(send, snapshot, at);
      this.#listeners.add(send);
    }, 0, true);
    let stopped = false;
    return () => {
      if (stopped || generation !== this.#generation) return;
      stopped = true;
      this.#wanted--;
      this.active = this.#wanted > 0;
      this.#joining.delete(send);
      this.#run(() => this.#listeners.delete(send), 0, true);
    };
  }

  act(action: DebugAction): void {
    if (this.actions) this.host.act(action);
    else this.#record(0, 'refused', action.type);
  }

  // ---- hook points: callers check `active` first; each is the recorder's, at the time it happened ----

  /** A frame written on the socket (text envelope or batch, or binary). */
  out(wire: string | Uint8Array): void {
    this.#record(sizeOf(wire), 'out', wire);
  }

  /** A socket message and the frames it decoded to. */
  in(raw: unknown, frames: readonly Frame[]): void {
    this.#record(sizeOf(raw), 'in', raw, frames);
  }

  /** A status transition (and, on `'open'`, whether the session was resumed). */
  transition(t: StatusTransition, resumed: boolean | undefined): void {
    this.#record(0, 'transition', t, resumed);
  }

  /** A channel joined, confirmed, left, paused or resumed. */
  channel(channel: string, action: ChannelAction, subscribers: number, transport: DebugTransport = 'ws'): void {
    this.#record(0, 'channel', channel, action, subscribers, transport);
  }

  /** A request timed out locally (its cancel follows). */
  timedOut(id: number): void {
    this.#record(0, 'timedOut', id);
  }

  /** An acknowledged send gave up waiting. */
  ackTimedOut(id: number): void {
    this.#record(0, 'ackTimedOut', id);
  }

  gap(notice: GapReport, transport: DebugTransport): void {
    this.#record(0, 'gap', notice, transport);
  }

  drop(dropped: DropReport): void {
    this.#record(sizeOf(dropped.wire), 'drop', dropped);
  }

  error(error: ErrorReport): void {
    this.#record(0, 'error', error);
  }

  /** The connection closed for good: the last event, then the hook forgets the tap. */
  dispose(): void {
    const disposed: DebugEvent = { type: 'disposed', conn: this.id, at: Date.now() };
    this.#run(() => {
      this.#broadcast(disposed);
      this.#listeners.clear();
    }, 0, true);
    // A listener still waiting for the code stays in #joining: if the code cannot load, it is told.
    this.#generation++;
    this.#wanted = 0;
    this.active = false;
    try {
      this.#unregister?.();
    } catch {
      // as in register()
    }
  }

  /** Tells every listener, in order with the other events (callers check `active` first, or know the event is rare). */
  emit(event: DebugEvent): void {
    this.#run(() => this.#broadcast(event), event.type === 'frame' ? event.bytes : 0);
  }

  /** Has the recorder report `method` with `args`, at this moment (`bytes`: the frame's size, to bound what waits). */
  #record(bytes: number, ...[method, ...args]: RecordCall): void {
    const at = Date.now();
    this.#run((recorder) => (recorder[method] as (...values: unknown[]) => void)(...args, at), bytes);
  }

  #broadcast(event: DebugEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  /**
   * Runs `step` now when the recorder is there, else keeps it in order
   * (loading the recorder's code on the first). Past {@link MAX_WAITING_STEPS}
   * or {@link MAX_WAITING_BYTES} (`bytes`: the frame's size) an event's step
   * is dropped and counted; a listener's own steps and the end (`always`) are
   * always kept.
   */
  #run(step: Step, bytes = 0, always = false): void {
    const waiting = this.#waiting;
    // The code could not load: the tap is quiet for good (even once another connection loaded it).
    if (waiting === undefined) return;
    if (this.#recorder === undefined) {
      const Recorder = loadedRecorder();
      if (Recorder !== undefined) this.#adopt(Recorder);
    }
    if (this.#recorder !== undefined) {
      waiting.push(step);
      this.#drain(this.#recorder);
      return;
    }
    // Nobody listens and nothing waits (a connection closing undebugged): no code to load for it.
    if (waiting.length === 0 && this.#wanted === 0) return;
    if (!always && (waiting.length >= MAX_WAITING_STEPS || this.#waitingBytes + bytes > MAX_WAITING_BYTES)) {
      this.#lost++;
      return;
    }
    waiting.push(step);
    this.#waitingBytes += bytes;
    if (waiting.length === 1) this.#load();
  }

  #load(): void {
    loadRecorder().then(
      (Recorder) => {
        if (this.#recorder === undefined && this.#waiting !== undefined) this.#drain(this.#adopt(Recorder));
      },
      (error: unknown) => {
        // The tap gives up for good: what waited is dropped, every waiting listener (one whose
        // connection closed meanwhile too) is told once, and the connection reports nothing more,
        // even once another connection loaded the code (the app goes on as without a debugger).
        this.#waiting = undefined;
        const event = this.#unavailable(error);
        for (const send of this.#joining) send(event);
        this.#joining.clear();
        this.#generation++;
        this.#wanted = 0;
        this.active = false;
      },
    );
  }

  /** The recorder's code is there: this tap's recorder, after which what waited is to run (see {@link Tap.#drain}), then a count of what was lost. */
  #adopt(Recorder: typeof TapRecorder): TapRecorder {
    const recorder = new Recorder(this.id, (event) => this.#broadcast(event));
    this.#recorder = recorder;
    this.#waitingBytes = 0;
    const lost = this.#lost;
    this.#lost = 0;
    if (lost > 0) {
      const at = Date.now();
      this.#waiting?.push(() => this.#broadcast({ type: 'error', conn: this.id, at, code: 'RXMUX_DEVTOOLS_OVERFLOW', message: `${lost} debug events were dropped while the tap's code loaded (it keeps ${MAX_WAITING_STEPS} events and ${MAX_WAITING_BYTES / 1024 / 1024} MiB of frames)` }));
    }
    return recorder;
  }

  /**
   * Runs the steps in order, each to its end: what a step causes (a listener that reacts by sending,
   * listening, stopping, closing) joins the end and runs after it, so no event overtakes an older
   * one and a listener added meanwhile hears only what came after it.
   */
  #drain(recorder: TapRecorder): void {
    const waiting = this.#waiting;
    if (this.#draining || waiting === undefined) return;
    this.#draining = true;
    try {
      for (const step of waiting) step(recorder); // an array's iterator also reaches what is pushed meanwhile
    } finally {
      waiting.length = 0;
      this.#draining = false;
    }
  }

  #unavailable(cause?: unknown): DebugEvent {
    const why = cause instanceof Error ? `: ${cause.message}` : '';
    return { type: 'error', conn: this.id, at: Date.now(), code: 'RXMUX_DEVTOOLS_UNAVAILABLE', message: `the debug tap could not load its code${why}` };
  }
}

/** A frame's size on the wire, near enough to bound what waits (a string's length, a buffer's bytes). */
function sizeOf(data: unknown): number {
  if (typeof data === 'string') return data.length;
  return data instanceof ArrayBuffer || ArrayBuffer.isView(data) ? data.byteLength : 0;
}
