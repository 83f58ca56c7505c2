// @vitest-environment happy-dom
/**
 * The controllers in plain custom elements (ControllerHostElement) over a
 * fake WebSocket: a channel is joined when the host enters the document and
 * left when it leaves (the subscribe / unsubscribe frames the fake socket
 * recorded), values, join state and gaps reach the host, a new id or a new
 * provider url moves the subscription, and failures stay in the controller.
 */
import type { ChannelState, Connection, GapNotice } from '@rxmux/core';
import { connect } from '@rxmux/core';
import { FakeServer } from '@rxmux/core/testing';
import { ChannelController, ConnectionController, ControllerHostElement, type ReactiveController } from '@rxmux/elements';
import { findByText } from '@testing-library/dom';
import { config, map } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { countingHost, defineOnce, joins, provider, via } from './helpers.js';

interface Beat {
  readonly bpm: number;
}

/** `<heart-rate player="…">`: a plain element that renders its channel. */
class HeartRate extends ControllerHostElement {
  static readonly observedAttributes = ['player'];
  readonly states: ChannelState[] = [];
  readonly values: Beat[] = [];
  readonly gaps: GapNotice[] = [];
  readonly beats = new ChannelController<Beat>(this, () => this.getAttribute('player') ?? 'player-1', {
    onValue: (beat) => this.values.push(beat),
    onState: (state) => this.states.push(state),
    onGap: (gap) => this.gaps.push(gap),
  });

  attributeChangedCallback(): void {
    this.requestUpdate();
  }

  protected override update(): void {
    this.textContent = `${this.beats.value?.bpm ?? '–'} bpm, ${this.beats.state}`;
  }
}
defineOnce(HeartRate, 'heart-rate');

function heartRate(player: string): HeartRate {
  const el = new HeartRate();
  el.setAttribute('player', player);
  return el;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('ChannelController', () => {
  it('joins when the host enters the document and leaves when it goes', async () => {
    const fake = new FakeServer({ autoWelcome: true });
    const monitor = heartRate('player-1');
    document.body.append(provider('ws://test/rt', via(fake), monitor));

    await vi.waitFor(() => expect(joins(fake)).toEqual(['+player-1']));
    expect(monitor.beats.state).toBe('joining');
    expect(monitor.beats.connection).toBe(monitor.closest('rxmux-connection')?.connection);
    fake.last.subscribed('player-1');
    expect(monitor.beats.state).toBe('joined');
    fake.last.publish('player-1', { bpm: 72 });
    expect(monitor.beats.value).toEqual({ bpm: 72 });
    await findByText(document.body, '72 bpm, joined');

    monitor.remove();
    expect(monitor.beats.state).toBe('idle');
    expect(monitor.beats.channel).toBeUndefined();
    await vi.waitFor(() => expect(joins(fake)).toEqual(['+player-1', '-player-1'])); // after the linger
    expect(monitor.values).toEqual([{ bpm: 72 }]);
    expect(monitor.states).toEqual(['joining', 'joined', 'idle']);
    expect(monitor.beats.value).toEqual({ bpm: 72 }); // kept while away
  });

  it('joins again when the host comes back, on the same connection', async () => {
    const fake = new FakeServer({ autoWelcome: true });
    const monitor = heartRate('player-1');
    const el = provider('ws://test/rt', via(fake), monitor);
    document.body.append(el);
    await vi.waitFor(() => expect(joins(fake)).toEqual(['+player-1']));
    monitor.remove();
    await vi.waitFor(() => expect(joins(fake)).toEqual(['+player-1', '-player-1']));
    el.append(monitor);
    await vi.waitFor(() => expect(joins(fake)).toEqual(['+player-1', '-player-1', '+player-1']));
    expect(monitor.beats.state).toBe('joining');
  });

  it('two hosts on one channel share one join over one socket', async () => {
    const fake = new FakeServer({ autoWelcome: true });
    const a = heartRate('player-1');
    const b = heartRate('player-1');
    document.body.append(provider('ws://test/rt', via(fake), a, b));
    await vi.waitFor(() => expect(joins(fake)).toEqual(['+player-1']));
    fake.last.subscribed('player-1');
    fake.last.publish('player-1', { bpm: 90 });
    expect([a.beats.value, b.beats.value]).toEqual([{ bpm: 90 }, { bpm: 90 }]);
    a.remove();
    // A probe channel left after a did: once it has gone, a's leave would have gone too.
    b.beats.connection?.channel('probe').subscribe().unsubscribe();
    await vi.waitFor(() => expect(joins(fake)).toContain('-probe'));
    expect(joins(fake)).not.toContain('-player-1'); // b still needs it
    expect(fake.connections).toHaveLength(1);
  });

  it('follows its id: a new attribute leaves the old channel and joins the new one', async () => {
    const fake = new FakeServer({ autoWelcome: true });
    const monitor = heartRate('player-1');
    document.body.append(provider('ws://test/rt', via(fake), monitor));
    await vi.waitFor(() => expect(joins(fake)).toEqual(['+player-1']));
    fake.last.subscribed('player-1');
    fake.last.publish('player-1', { bpm: 72 });

    monitor.setAttribute('player', 'player-2');
    await monitor.updateComplete;

    expect(monitor.beats.id).toBe('player-2');
    expect(monitor.beats.value).toBeUndefined(); // another channel's value is not this one's
    await vi.waitFor(() => expect(joins(fake)).toEqual(['+player-1', '+player-2', '-player-1']));
  });

  it('follows the provider: a new url moves the channel to the new connection', async () => {
    const fake = new FakeServer({ autoWelcome: true });
    const monitor = heartRate('player-1');
    const el = provider('ws://test/a', via(fake), monitor);
    document.body.append(el);
    await vi.waitFor(() => expect(joins(fake)).toEqual(['+player-1']));
    const first = monitor.beats.connection;

    el.url = 'ws://test/b';

    expect(monitor.beats.connection).toBe(el.connection);
    expect(monitor.beats.connection).not.toBe(first);
    await vi.waitFor(() => expect(fake.connections.map((c) => c.url)).toEqual(['ws://test/a', 'ws://test/b']));
    await vi.waitFor(() => expect(fake.connections[1]?.frames).toContainEqual({ type: 'subscribe', channel: 'player-1' }));
    // The old connection is released once its channel has left and its socket is idle.
    await vi.waitFor(() => expect(fake.connections[0]?.closed?.code).toBe(1000));
    expect(() => first?.channel('x')).toThrow(/after close/);
  });

  it('reports gaps', async () => {
    const fake = new FakeServer({ autoWelcome: true });
    const monitor = heartRate('player-1');
    document.body.append(provider('ws://test/rt', via(fake), monitor));
    await vi.waitFor(() => expect(joins(fake)).toEqual(['+player-1']));
    fake.last.subscribed('player-1', { epoch: 'e1', seq: 0 });
    fake.last.gap('player-1', { epoch: 'e2', seq: 10, reason: 'epoch' });
    expect(monitor.beats.lastGap).toMatchObject({ channel: 'player-1', reason: 'epoch', seq: 10 });
    expect(monitor.gaps).toHaveLength(1);
  });

  it('works with an explicit connection, without a provider', async () => {
    const fake = new FakeServer({ autoWelcome: true });
    const conn = connect('ws://test/explicit', via(fake));
    const host = countingHost();
    const ch = new ChannelController<number>(host, 'score', { connection: conn });
    document.body.append(host);
    await vi.waitFor(() => expect(joins(fake)).toEqual(['+score']));
    expect(ch.connection).toBe(conn);
    host.remove();
    await vi.waitFor(() => expect(joins(fake)).toEqual(['+score', '-score']));
    conn.close();
  });

  it('stays idle without a provider, and joins once one appears above', async () => {
    const fake = new FakeServer({ autoWelcome: true });
    const monitor = heartRate('player-1');
    const wrapper = document.createElement('div');
    wrapper.append(monitor);
    document.body.append(wrapper);
    expect(monitor.beats.connection).toBeUndefined();
    expect(monitor.beats.state).toBe('idle');
    const el = provider('ws://test/rt', via(fake));
    el.append(wrapper); // moves the monitor: it asks again on connect
    document.body.append(el);
    await vi.waitFor(() => expect(joins(fake)).toEqual(['+player-1']));
  });

  it('turns an invalid id into `error`, not an exception', async () => {
    const fake = new FakeServer({ autoWelcome: true });
    const errors: unknown[] = [];
    const host = countingHost();
    const ch = new ChannelController(host, '', { onError: (error) => errors.push(error) });
    document.body.append(provider('ws://test/rt', via(fake), host));
    expect(ch.error).toMatchObject({ code: 'RXMUX_ERR_INVALID_ARGUMENT' });
    expect(errors).toHaveLength(1);
    expect(ch.state).toBe('idle');
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(fake.connections).toHaveLength(0);
  });

  it('ends with `error` when the server refuses the channel', async () => {
    const fake = new FakeServer({ autoWelcome: true });
    const host = countingHost();
    const ch = new ChannelController(host, 'secret');
    document.body.append(provider('ws://test/rt', via(fake), host));
    await vi.waitFor(() => expect(joins(fake)).toEqual(['+secret']));
    fake.last.refuse('secret', 'RXMUX_ERR_FORBIDDEN', 'no');
    expect(ch.error).toMatchObject({ code: 'RXMUX_ERR_FORBIDDEN' });
    expect(ch.state).toBe('idle');
  });

  it('stays joined when the server reports an error about the channel (a refused send): it is on channel.errors$', async () => {
    const fake = new FakeServer({ autoWelcome: true });
    const host = countingHost();
    const ch = new ChannelController(host, 'scores');
    document.body.append(provider('ws://test/rt', via(fake), host));
    await vi.waitFor(() => expect(joins(fake)).toEqual(['+scores']));
    fake.last.subscribed('scores');
    const reported: unknown[] = [];
    ch.channel?.errors$.subscribe((error) => reported.push(error));
    fake.last.send({ type: 'error', channel: 'scores', code: 'RXMUX_ERR_INVALID_ARGUMENT', message: 'bad send' }); // about the channel, answering no send of it
    expect(reported).toMatchObject([{ code: 'RXMUX_ERR_INVALID_ARGUMENT' }]);
    expect(ch.error).toBeUndefined();
    expect(ch.state).toBe('joined');
    fake.last.publish('scores', 3);
    expect(ch.value).toBe(3);
  });

  it('a callback that throws is reported and the channel carries on', async () => {
    const fake = new FakeServer({ autoWelcome: true });
    const reported: unknown[] = [];
    const previous = config.onUnhandledError;
    config.onUnhandledError = (error) => reported.push(error);
    try {
      const host = countingHost();
      const ch = new ChannelController<number>(host, 'n', {
        onValue: (n) => {
          if (n === 1) throw new Error('render bug');
        },
      });
      document.body.append(provider('ws://test/rt', via(fake), host));
      await vi.waitFor(() => expect(joins(fake)).toEqual(['+n']));
      fake.last.publish('n', 1);
      fake.last.publish('n', 2);
      expect(ch.value).toBe(2);
      await vi.waitFor(() => expect(reported).toMatchObject([{ message: 'render bug' }]));
    } finally {
      config.onUnhandledError = previous;
    }
  });

  it('asks the host to update, batched: one update per microtask', async () => {
    const fake = new FakeServer({ autoWelcome: true });
    const host = countingHost();
    const ch = new ChannelController<number>(host, 'n');
    document.body.append(provider('ws://test/rt', via(fake), host));
    await vi.waitFor(() => expect(joins(fake)).toEqual(['+n']));
    await host.updateComplete;
    const before = host.updates;
    fake.last.subscribed('n');
    for (let n = 1; n <= 5; n++) fake.last.publish('n', n);
    await host.updateComplete;
    expect(ch.value).toBe(5);
    expect(host.updates).toBe(before + 1);
  });
});

describe('ConnectionController', () => {
  it('gives the host the provider connection while it is in the document', () => {
    const fake = new FakeServer({ autoWelcome: true });
    const seen: (string | undefined)[] = [];
    const host = countingHost();
    const ctl = new ConnectionController(host, { onConnection: (conn) => seen.push(conn?.url) });
    const el = provider('ws://test/a', via(fake), host);
    document.body.append(el);
    expect(ctl.connection).toBe(el.connection);
    el.url = 'ws://test/b';
    expect(ctl.connection?.url).toBe('ws://test/b');
    host.remove();
    expect(ctl.connection).toBeUndefined();
    expect(seen).toEqual(['ws://test/a', 'ws://test/b', undefined]);
  });

  it('keeps `observe` subscribed while the host is in the document: values, then nothing after it left', async () => {
    const fake = new FakeServer({ autoWelcome: true });
    const host = countingHost();
    const values: string[] = [];
    const ctl = new ConnectionController(host, {
      observe: (conn: Connection) => conn.channel<number>('clock').pipe(map((n) => `t=${n}`)),
      onValue: (v) => values.push(v),
    });
    document.body.append(provider('ws://test/rt', via(fake), host));
    await vi.waitFor(() => expect(joins(fake)).toEqual(['+clock']));
    fake.last.publish('clock', 1);
    expect(ctl.value).toBe('t=1');
    host.remove();
    await vi.waitFor(() => expect(joins(fake)).toEqual(['+clock', '-clock']));
    expect(values).toEqual(['t=1']);
  });

  it('keeps a failure of `observe` in `error`', () => {
    const host = countingHost();
    const ctl = new ConnectionController(host, {
      observe: () => {
        throw new Error('bad observe');
      },
    });
    document.body.append(provider('ws://test/rt', via(new FakeServer({ autoWelcome: true })), host));
    expect(ctl.error).toMatchObject({ message: 'bad observe' });
  });
});

describe('ControllerHostElement', () => {
  it('connects a controller added while it is in the document, once, and disconnects it when it leaves', () => {
    const calls: string[] = [];
    const controller: ReactiveController = {
      hostConnected: () => calls.push('connected'),
      hostDisconnected: () => calls.push('disconnected'),
    };
    const host = countingHost();
    document.body.append(host);
    host.addController(controller);
    host.remove();
    host.removeController(controller);
    document.body.append(host);
    expect(calls).toEqual(['connected', 'disconnected']);
  });

  it('does not connect controllers from the constructor of an upgraded element (connectedCallback does, once)', () => {
    const calls: string[] = [];
    class Upgraded extends ControllerHostElement {
      constructor() {
        super();
        this.addController({ hostConnected: () => calls.push('connected') });
      }
    }
    const tag = 'upgraded-host';
    document.body.innerHTML = `<${tag}></${tag}>`;
    customElements.define(tag, Upgraded);
    expect(calls).toEqual(['connected']);
  });

  it('runs hostUpdate, update and hostUpdated in order, and reports an update that throws', async () => {
    const order: string[] = [];
    const reported = vi.fn();
    vi.stubGlobal('reportError', reported);
    let fail = false;
    class Ordered extends ControllerHostElement {
      protected override update(): void {
        order.push('update');
        if (fail) throw new Error('update bug');
      }
    }
    defineOnce(Ordered);
    const host = new Ordered();
    host.addController({ hostUpdate: () => order.push('hostUpdate'), hostUpdated: () => order.push('hostUpdated') });
    document.body.append(host);
    expect(await host.updateComplete).toBe(true);
    expect(order).toEqual(['hostUpdate', 'update', 'hostUpdated']);
    fail = true;
    host.requestUpdate();
    expect(await host.updateComplete).toBe(false);
    expect(reported).toHaveBeenCalledWith(expect.objectContaining({ message: 'update bug' }));
  });
});
