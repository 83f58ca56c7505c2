import { HTMLElementBase, reportError } from './dom.js';

/**
 * A reactive controller: an object added to a host element that hooks into
 * its lifecycle. The same shape as Lit's `ReactiveController`, declared here
 * so nothing depends on Lit: a Lit controller is one of these and the
 * reverse.
 *
 * @example
 * class Clock implements ReactiveController {
 *   #timer?: ReturnType<typeof setInterval>;
 *   constructor(private host: ReactiveControllerHost) { host.addController(this); }
 *   hostConnected() { this.#timer = setInterval(() => this.host.requestUpdate(), 1000); }
 *   hostDisconnected() { clearInterval(this.#timer); }
 * }
 */
export interface ReactiveController {
  /** The host was added to the document (also: the controller was added to a host already there). */
  hostConnected?(): void;
  /** The host left the document. */
  hostDisconnected?(): void;
  /** The host is about to update (render): before it reads its state. */
  hostUpdate?(): void;
  /** The host updated. */
  hostUpdated?(): void;
}

/**
 * What the rxmux controllers need from their host: the part of Lit's
 * `ReactiveControllerHost` they call. Every `LitElement` is one as it is;
 * a plain custom element gets it from {@link ControllerHostElement}, or
 * implements the two methods itself.
 *
 * @example
 * class Plain extends HTMLElement implements ReactiveControllerHost {
 *   readonly #controllers = new Set<ReactiveController>();
 *   addController(c: ReactiveController) { this.#controllers.add(c); }
 *   requestUpdate() { this.render(); }
 *   connectedCallback() { for (const c of this.#controllers) c.hostConnected?.(); }
 *   disconnectedCallback() { for (const c of this.#controllers) c.hostDisconnected?.(); }
 * }
 */
export interface ReactiveControllerHost {
  /** Registers a controller; the host calls its lifecycle methods from then on. */
  addController(controller: ReactiveController): void;
  /** Unregisters a controller (optional: Lit has it). */
  removeController?(controller: ReactiveController): void;
  /** Asks the host to update (render) soon: the controllers call it when their state changed. */
  requestUpdate(): void;
}

/**
 * A host element of the rxmux controllers: something that hosts reactive
 * controllers and is an element (the context request starts from it).
 *
 * @example
 * function attach(host: ControllerHost) { return new ChannelController(host, 'player-1'); }
 */
export type ControllerHost = ReactiveControllerHost & HTMLElement;

/**
 * A base class for plain custom elements that host reactive controllers:
 * it calls their `hostConnected()` from `connectedCallback()` and
 * `hostDisconnected()` from `disconnectedCallback()`, and batches
 * `requestUpdate()` calls into one {@link ControllerHostElement.update}
 * per microtask (between the controllers' `hostUpdate()` and
 * `hostUpdated()`). Override `update()` to render.
 *
 * Subclasses that override `connectedCallback` or `disconnectedCallback`
 * call `super`.
 *
 * @example
 * class HeartRate extends ControllerHostElement {
 *   readonly beats = new ChannelController<{ bpm: number }>(this, () => this.getAttribute('player') ?? 'player-1');
 *   protected override update() {
 *     this.textContent = `${this.beats.value?.bpm ?? '–'} bpm (${this.beats.state})`;
 *   }
 * }
 * customElements.define('heart-rate', HeartRate);
 */
export abstract class ControllerHostElement extends HTMLElementBase implements ReactiveControllerHost {
  readonly #controllers = new Set<ReactiveController>();
  #connected = false;
  #pending: Promise<boolean> | undefined;

  /** Registers a controller; it is connected at once when the element is in the document. */
  addController(controller: ReactiveController): void {
    this.#controllers.add(controller);
    // Not from the constructor of an upgraded element: connectedCallback follows and does it.
    if (this.#connected) controller.hostConnected?.();
  }

  /** Unregisters a controller (it is not disconnected: call its `hostDisconnected()` first if it holds resources). */
  removeController(controller: ReactiveController): void {
    this.#controllers.delete(controller);
  }

  /** Schedules one update for the next microtask, however many times it is called before. */
  requestUpdate(): void {
    this.#pending ??= Promise.resolve().then(() => this.#perform());
  }

  /** Resolves once the pending update (if any) has run: `true`, or `false` when it threw. */
  get updateComplete(): Promise<boolean> {
    return this.#pending ?? Promise.resolve(true);
  }

  /** Connects the controllers and schedules a first update. */
  connectedCallback(): void {
    this.#connected = true;
    for (const controller of this.#controllers) controller.hostConnected?.();
    this.requestUpdate();
  }

  /** Disconnects the controllers. */
  disconnectedCallback(): void {
    this.#connected = false;
    for (const controller of this.#controllers) controller.hostDisconnected?.();
  }

  /**
   * Renders: called once per batch of `requestUpdate()` calls, after the
   * controllers' `hostUpdate()`. Does nothing unless overridden.
   */
  protected update(): void {
    // A subclass renders here.
  }

  #perform(): boolean {
    this.#pending = undefined;
    try {
      for (const controller of this.#controllers) controller.hostUpdate?.();
      this.update();
      for (const controller of this.#controllers) controller.hostUpdated?.();
      return true;
    } catch (error: unknown) {
      reportError(error);
      return false;
    }
  }
}
