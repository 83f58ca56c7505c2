/**
 * A runtime port that survives the background service worker being stopped.
 *
 * Chrome stops an idle MV3 service worker, and every port connected to it
 * disconnects. The end that opened the port reconnects: the panel at once
 * (it must hear live events), the content script when it next has something
 * to say (a page with no rxmux traffic keeps no worker alive). Each new port
 * starts with the owner's hello (`onConnect`), so the worker, which may have
 * just started cold, learns again who is talking.
 * @packageDocumentation
 */

/** An event on a port, as `runtime.Port` has it (add and remove a listener). */
export interface PortEvent<Listener> {
  addListener(listener: Listener): void;
  removeListener(listener: Listener): void;
}

/** The part of `runtime.Port` the extension uses; fakes in tests implement it. */
export interface PortLike {
  readonly name: string;
  /** Set on the background's end: who opened the port. */
  readonly sender?: { readonly tab?: { readonly id?: number }; readonly frameId?: number; readonly url?: string };
  postMessage(message: unknown): void;
  disconnect(): void;
  readonly onMessage: PortEvent<(message: unknown) => void>;
  readonly onDisconnect: PortEvent<() => void>;
}

/** How a {@link ReconnectingPort} behaves. */
export interface ReconnectingPortOptions<In, Out> {
  /** Opens a new port (`runtime.connect({ name })`). May throw once the extension was reloaded. */
  readonly connect: () => PortLike;
  /** Validates an incoming message; invalid messages are dropped. */
  readonly parse: (data: unknown) => In | undefined;
  readonly onMessage: (message: In) => void;
  /** The first message(s) of every new port, sent before anything queued. */
  readonly hello?: () => readonly Out[];
  /** `'eager'`: reconnect as soon as the port drops; `'lazy'`: on the next {@link ReconnectingPort.post}. */
  readonly reconnect: 'eager' | 'lazy';
  /** Delay before an eager reconnect, doubled after each port that died young, up to 8x. Default 50 ms. */
  readonly retryDelay?: number;
  /** Called once when connecting is no longer possible (the extension context is gone). */
  readonly onClosed?: (reason: string) => void;
}

/** A port that reconnects; see the module comment. */
export class ReconnectingPort<In, Out> {
  #port: PortLike | undefined;
  #closed = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #failures = 0;
  #connectedAt = 0;
  readonly #options: ReconnectingPortOptions<In, Out>;

  constructor(options: ReconnectingPortOptions<In, Out>) {
    this.#options = options;
    if (options.reconnect === 'eager') this.#open();
  }

  /** Whether a port is open now. */
  get connected(): boolean {
    return this.#port !== undefined;
  }

  /** Sends `message`, opening a port first when there is none. Dropped once closed. */
  post(message: Out): void {
    const port = this.#port ?? this.#open();
    if (port === undefined) return;
    try {
      port.postMessage(message);
    } catch {
      // The port died between the check and the send (worker stopping): one retry on a fresh port.
      this.#drop();
      try {
        this.#open()?.postMessage(message);
      } catch {
        this.#drop(); // still no worker: this message is lost, the next post tries again
      }
    }
  }

  /** Disconnects for good. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    const port = this.#port;
    this.#drop();
    port?.disconnect();
  }

  #open(): PortLike | undefined {
    if (this.#closed) return undefined;
    let port: PortLike;
    try {
      port = this.#options.connect();
    } catch (err) {
      this.#closed = true;
      this.#options.onClosed?.(err instanceof Error ? err.message : String(err));
      return undefined;
    }
    const onMessage = (data: unknown): void => {
      if (this.#port !== port) return;
      const message = this.#options.parse(data);
      if (message !== undefined) this.#options.onMessage(message);
    };
    const onDisconnect = (): void => {
      port.onMessage.removeListener(onMessage);
      port.onDisconnect.removeListener(onDisconnect);
      if (this.#port !== port) return;
      this.#drop();
      if (this.#options.reconnect === 'eager') this.#scheduleReconnect();
    };
    port.onMessage.addListener(onMessage);
    port.onDisconnect.addListener(onDisconnect);
    this.#port = port;
    this.#connectedAt = Date.now();
    for (const hello of this.#options.hello?.() ?? []) port.postMessage(hello);
    return port;
  }

  #drop(): void {
    this.#port = undefined;
  }

  #scheduleReconnect(): void {
    // A port that lived a while died of a worker stop: come back at once. One that died young
    // means the other end refuses us: back off so we do not spin.
    this.#failures = Date.now() - this.#connectedAt < 1000 ? Math.min(this.#failures + 1, 3) : 0;
    const delay = (this.#options.retryDelay ?? 50) * 2 ** this.#failures;
    this.#timer = setTimeout(() => this.#open(), delay);
  }
}
