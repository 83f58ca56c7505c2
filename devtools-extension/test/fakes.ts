/**
 * Fakes of the platform pieces the extension talks through: a window whose
 * `postMessage` is seen by every listener of that window (as a page's is),
 * runtime ports that JSON-copy messages as Chrome's do, `storage.session`,
 * and a scripted debug tap.
 */
import type { DebugAction, DebugEvent, DebugTap } from '@rxmux/core/debug';
import type { JsonValue } from '@rxmux/core/protocol';
import type { PortEvent, PortLike } from '../src/messaging/port.js';
import type { StorageAreaLike } from '../src/background/tab-buffer.js';

type Listener = (event: MessageEvent) => void;

/** A page window: every world's listeners see every `postMessage`, one task later. */
export class FakeWindow {
  readonly location = { origin: 'http://127.0.0.1:8080', pathname: '/app' };
  readonly #listeners = new Set<Listener>();
  /** Every message posted, in order (what a page script could observe). */
  readonly posted: unknown[] = [];

  addEventListener(_type: 'message', listener: Listener): void {
    this.#listeners.add(listener);
  }

  removeEventListener(_type: 'message', listener: Listener): void {
    this.#listeners.delete(listener);
  }

  /** Posts `data` (a caller's target origin is not checked: everything here is one origin). */
  postMessage(data: unknown): void {
    this.dispatch(structuredClone(data), this);
  }

  /** Delivers `data` as if posted by `source` (another window, or this one). */
  dispatch(data: unknown, source: unknown): void {
    this.posted.push(data);
    const event = { data, source, origin: this.location.origin } as unknown as MessageEvent;
    setTimeout(() => {
      for (const listener of [...this.#listeners]) listener(event);
    }, 0);
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }
}

class FakeEvent<L extends (...args: never[]) => void> implements PortEvent<L> {
  readonly listeners = new Set<L>();
  addListener(listener: L): void {
    this.listeners.add(listener);
  }
  removeListener(listener: L): void {
    this.listeners.delete(listener);
  }
}

/** One end of a fake runtime port. */
export class FakePort implements PortLike {
  readonly onMessage = new FakeEvent<(message: unknown) => void>();
  readonly onDisconnect = new FakeEvent<() => void>();
  other: FakePort | undefined;
  connected = true;
  /** Messages this end posted, as the other end receives them. */
  readonly sent: unknown[] = [];

  constructor(
    readonly name: string,
    readonly sender?: PortLike['sender'],
  ) {}

  postMessage(message: unknown): void {
    if (!this.connected) throw new Error('Attempting to use a disconnected port object');
    const copy = JSON.parse(JSON.stringify(message)) as unknown; // Chrome serializes port messages as JSON
    this.sent.push(copy);
    const other = this.other;
    queueMicrotask(() => {
      if (other?.connected !== true) return;
      for (const listener of [...other.onMessage.listeners]) listener(copy);
    });
  }

  disconnect(): void {
    if (!this.connected) return;
    this.connected = false;
    const other = this.other;
    if (!other?.connected) return;
    other.connected = false;
    queueMicrotask(() => {
      for (const listener of [...other.onDisconnect.listeners]) listener();
    });
  }

  /**
   * The context owning this end is gone (a stopped service worker): this end
   * dies without a word, the other end hears `onDisconnect`.
   */
  kill(): void {
    this.connected = false;
    const other = this.other;
    if (!other?.connected) return;
    other.connected = false;
    queueMicrotask(() => {
      for (const listener of [...other.onDisconnect.listeners]) listener();
    });
  }
}

/** A connected pair: `[opener, receiver]`. */
export function portPair(name: string, sender?: PortLike['sender']): [FakePort, FakePort] {
  const opener = new FakePort(name);
  const receiver = new FakePort(name, sender);
  opener.other = receiver;
  receiver.other = opener;
  return [opener, receiver];
}

/** `storage.session`: survives a new {@link Router}, values JSON-copied. */
export class FakeStorage implements StorageAreaLike {
  readonly data = new Map<string, string>();
  sets = 0;

  get(keys: string | string[]): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const key of typeof keys === 'string' ? [keys] : keys) {
      const value = this.data.get(key);
      if (value !== undefined) out[key] = JSON.parse(value);
    }
    return Promise.resolve(out);
  }

  set(items: Record<string, unknown>): Promise<void> {
    this.sets++;
    for (const [key, value] of Object.entries(items)) this.data.set(key, JSON.stringify(value));
    return Promise.resolve();
  }

  remove(keys: string | string[]): Promise<void> {
    for (const key of typeof keys === 'string' ? [keys] : keys) this.data.delete(key);
    return Promise.resolve();
  }
}

/** A debug tap whose events the test emits. */
export class FakeTap implements DebugTap {
  readonly version = 1;
  readonly acted: DebugAction[] = [];
  #listener: ((event: DebugEvent) => void) | undefined;

  constructor(
    readonly id: string,
    readonly url = 'ws://127.0.0.1/rt',
    readonly actions = true,
  ) {}

  listen(listener: (event: DebugEvent) => void): () => void {
    this.#listener = listener;
    listener({ type: 'connection', conn: this.id, at: 1, url: this.url, actions: this.actions });
    return () => {
      this.#listener = undefined;
    };
  }

  /** Records the action; a pause or resume is reported back as the core's tap does. */
  act(action: DebugAction): void {
    this.acted.push(action);
    if (action.type === 'pause' || action.type === 'resume') {
      this.emit({ type: 'channel', conn: this.id, at: 2, channel: action.channel, transport: 'ws', action: action.type === 'pause' ? 'paused' : 'resumed', subscribers: 1 });
    }
  }

  emit(event: DebugEvent): void {
    this.#listener?.(event);
  }

  get listening(): boolean {
    return this.#listener !== undefined;
  }
}

/** A publication frame event. */
export function publication(conn: string, channel: string, seq: number, data: JsonValue = { seq }): DebugEvent {
  return { type: 'frame', conn, at: 1000 + seq, dir: 'in', transport: 'ws', frame: 'publication', channel, bytes: 20, data, seq };
}

/** Resolves when `check` holds, polling (no fixed sleeps). */
export async function until(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
