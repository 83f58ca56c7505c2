// @vitest-environment happy-dom
/**
 * Interoperability with Lit, which this package does not depend on: a
 * `LitElement` hosts the controllers as it is, Lit's own context consumer
 * (`@lit/context`, what `@consume` uses) is answered by `<rxmux-connection>`,
 * and the controllers are answered by Lit's context provider. The type
 * checks at the bottom run in `npm run typecheck:tests`.
 */
import { connect, type Connection } from '@rxmux/core';
import { FakeServer } from '@rxmux/core/testing';
import { ChannelController, ConnectionController, rxmuxContext, type ControllerHost, type ReactiveController, type ReactiveControllerHost } from '@rxmux/elements';
import { ContextConsumer, ContextProvider, type ContextType } from '@lit/context';
import { html, LitElement, type PropertyDeclaration, type PropertyDeclarations, type ReactiveController as LitReactiveController } from 'lit';
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { defineOnce, joins, provider, via } from './helpers.js';

/** A Lit element with a channel, exactly as an app would write it. */
class LitHeartRate extends LitElement {
  static override properties: PropertyDeclarations = { player: {} };
  declare player: string;
  readonly beats = new ChannelController<{ bpm: number }>(this, () => this.player);

  constructor() {
    super();
    this.player = 'player-1';
  }

  override render(): unknown {
    return html`<span>${this.beats.value?.bpm ?? '–'} bpm · ${this.beats.state}</span>`;
  }
}
defineOnce(LitHeartRate, 'lit-heart-rate');

/** What `@consume({ context: rxmuxContext, subscribe: true })` does, without decorators. */
class LitConsumer extends LitElement {
  readonly conn = new ContextConsumer(this, { context: rxmuxContext, subscribe: true });
}
defineOnce(LitConsumer, 'lit-consumer');

/** A Lit provider of the rxmux context (what `@provide` does). */
class LitProvider extends LitElement {
  readonly provider = new ContextProvider(this, { context: rxmuxContext });
}
defineOnce(LitProvider, 'lit-provider');

describe('a LitElement as the host', () => {
  it('joins, renders the channel, follows its property and leaves when removed', async () => {
    const fake = new FakeServer({ autoWelcome: true });
    const el = new LitHeartRate();
    document.body.append(provider('ws://test/rt', via(fake), el));
    await vi.waitFor(() => expect(joins(fake)).toEqual(['+player-1']));
    fake.last.subscribed('player-1');
    fake.last.publish('player-1', { bpm: 64 });
    await el.updateComplete;
    expect(el.shadowRoot?.textContent).toContain('64 bpm · joined');

    el.player = 'player-2'; // a Lit property: the controller reads the id again in hostUpdate
    await el.updateComplete;
    await vi.waitFor(() => expect(joins(fake)).toEqual(['+player-1', '+player-2', '-player-1']));

    el.remove();
    await vi.waitFor(() => expect(joins(fake)).toEqual(['+player-1', '+player-2', '-player-1', '-player-2']));
  });
});

describe("Lit's @lit/context and <rxmux-connection>", () => {
  it("Lit's ContextConsumer gets the connection, and the new one when the url changes", () => {
    const fake = new FakeServer({ autoWelcome: true });
    const consumer = new LitConsumer();
    const el = provider('ws://test/a', via(fake), consumer);
    document.body.append(el);
    expect(consumer.conn.value).toBe(el.connection);
    el.url = 'ws://test/b';
    expect(consumer.conn.value?.url).toBe('ws://test/b');

    consumer.remove(); // Lit's consumer unsubscribes: the provider stops calling it
    el.url = 'ws://test/c';
    expect(consumer.conn.value?.url).toBe('ws://test/b');
  });

  it("the controllers get their connection from Lit's ContextProvider", async () => {
    const fake = new FakeServer({ autoWelcome: true });
    const conn: Connection = connect('ws://test/lit', via(fake));
    const litProvider = new LitProvider();
    litProvider.provider.setValue(conn);
    const el = new LitHeartRate();
    litProvider.append(el);
    document.body.append(litProvider);
    await vi.waitFor(() => expect(joins(fake)).toEqual(['+player-1']));
    expect(el.beats.connection).toBe(conn);
    el.remove();
    conn.close();
  });
});

// ---- types (checked by `npm run typecheck:tests`) ----

/**
 * The host shape of Lit's `ReactiveElement`, as its declaration file has it:
 * `requestUpdate` with optional parameters, `updateComplete`, both
 * controller methods. The controllers accept it as it is.
 */
interface LitShapedHost extends HTMLElement {
  addController(controller: LitReactiveController): void;
  removeController(controller: LitReactiveController): void;
  requestUpdate(name?: PropertyKey, oldValue?: unknown, options?: PropertyDeclaration): void;
  readonly updateComplete: Promise<boolean>;
}

describe('types', () => {
  it('a Lit host is a ControllerHost, and the controllers are Lit controllers', () => {
    expectTypeOf<LitShapedHost>().toExtend<ControllerHost>();
    expectTypeOf<LitElement>().toExtend<ControllerHost>();
    expectTypeOf<LitElement>().toExtend<ReactiveControllerHost>();
    expectTypeOf<ChannelController<number>>().toExtend<LitReactiveController>();
    expectTypeOf<ConnectionController<string>>().toExtend<LitReactiveController>();
    expectTypeOf<LitReactiveController>().toExtend<ReactiveController>();
    // The constructors take a Lit host as it is.
    expectTypeOf<ConstructorParameters<typeof ChannelController<number>>[0]>().toExtend<LitShapedHost | ControllerHost>();
    const accepts = (host: LitShapedHost): ChannelController<number> => new ChannelController<number>(host, 'score');
    expectTypeOf(accepts).returns.toEqualTypeOf<ChannelController<number>>();
  });

  it('rxmuxContext is a Lit context of Connection | undefined', () => {
    expectTypeOf<ContextType<typeof rxmuxContext>>().toEqualTypeOf<Connection | undefined>();
    expectTypeOf<LitConsumer['conn']['value']>().toEqualTypeOf<Connection | undefined>();
  });

  it('a host that cannot request updates is refused', () => {
    // @ts-expect-error: an element without addController / requestUpdate is no host
    expectTypeOf<HTMLElement>().toExtend<ControllerHost>();
  });
});
