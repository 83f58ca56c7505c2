// @vitest-environment happy-dom
/**
 * `<rxmux-connection>` as a Context Protocol provider: one-shot and
 * `subscribe: true` requests (a new `url` calls the subscribers again with
 * the same unsubscribe), nested providers (the nearest wins, also one
 * inserted later), a provider upgraded after its consumers, release after
 * leaving the document and a new connection on re-insertion, adopted
 * connections, and url resolution.
 */
import type { Connection } from '@rxmux/core';
import { connect } from '@rxmux/core';
import { FakeServer } from '@rxmux/core/testing';
import { ContextRequestEvent, observeConnection, requestConnection, RxmuxConnectionElement, rxmuxContext } from '@rxmux/elements';
import { describe, expect, it, vi } from 'vitest';
import { resolveUrl } from '../src/connection-element.js';
import { provider, via } from './helpers.js';

/** A `subscribe: true` request from `consumer`, recording each call. */
function subscribeFrom(consumer: Element): { calls: { conn: Connection | undefined; unsubscribe: (() => void) | undefined }[] } {
  const calls: { conn: Connection | undefined; unsubscribe: (() => void) | undefined }[] = [];
  consumer.dispatchEvent(new ContextRequestEvent(rxmuxContext, (conn, unsubscribe) => void calls.push({ conn, unsubscribe }), true));
  return { calls };
}

describe('<rxmux-connection> answers context requests', () => {
  it('answers a one-shot request from a descendant with its connection, and stops the event there', () => {
    const fake = new FakeServer({ autoWelcome: true });
    const child = document.createElement('div');
    const el = provider('ws://test/rt', via(fake), child);
    document.body.append(el);
    const outside = vi.fn();
    document.addEventListener('context-request', outside);

    const conn = requestConnection(child);

    expect(conn).toBeDefined();
    expect(conn).toBe(el.connection);
    expect(conn?.url).toBe('ws://test/rt');
    expect(outside).not.toHaveBeenCalled();
    document.removeEventListener('context-request', outside);
    expect(fake.connections).toHaveLength(0); // nothing is opened until a channel needs it
  });

  it('answers across shadow roots (the request is composed)', () => {
    const fake = new FakeServer({ autoWelcome: true });
    const host = document.createElement('div');
    const inner = document.createElement('span');
    host.attachShadow({ mode: 'open' }).append(inner);
    const el = provider('ws://test/rt', via(fake), host);
    document.body.append(el);
    expect(requestConnection(inner)).toBe(el.connection);
  });

  it('leaves requests for other contexts alone', () => {
    const el = provider('ws://test/rt', via(new FakeServer({ autoWelcome: true })), document.createElement('div'));
    document.body.append(el);
    const other = Symbol('other') as typeof rxmuxContext;
    const seen = vi.fn();
    document.addEventListener('context-request', seen);
    el.firstElementChild?.dispatchEvent(new ContextRequestEvent(other, () => undefined));
    document.removeEventListener('context-request', seen);
    expect(seen).toHaveBeenCalledOnce();
  });

  it('returns undefined where no provider is above', () => {
    const lonely = document.createElement('div');
    document.body.append(lonely);
    expect(requestConnection(lonely)).toBeUndefined();
  });

  it('calls subscribers again when the url changes, with the same unsubscribe, and stops after unsubscribe', () => {
    const fake = new FakeServer({ autoWelcome: true });
    const child = document.createElement('div');
    const el = provider('ws://test/a', via(fake), child);
    document.body.append(el);
    const { calls } = subscribeFrom(child);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.conn?.url).toBe('ws://test/a');
    expect(calls[0]?.unsubscribe).toBeTypeOf('function');

    el.url = 'ws://test/b';

    expect(el.getAttribute('url')).toBe('ws://test/b');
    expect(calls).toHaveLength(2);
    expect(calls[1]?.conn?.url).toBe('ws://test/b');
    expect(calls[1]?.conn).not.toBe(calls[0]?.conn);
    expect(calls[1]?.unsubscribe).toBe(calls[0]?.unsubscribe); // one subscription: Lit's consumer compares it

    calls[0]?.unsubscribe?.();
    el.setAttribute('url', 'ws://test/c');
    expect(calls).toHaveLength(2);
    expect(el.connection?.url).toBe('ws://test/c');
  });

  it('moves subscribers to a new connection when options change, and not when they are the same object', () => {
    const fake = new FakeServer({ autoWelcome: true });
    const child = document.createElement('div');
    const options = via(fake);
    const el = provider('ws://test/rt', options, child);
    document.body.append(el);
    const { calls } = subscribeFrom(child);
    el.options = options;
    expect(calls).toHaveLength(1);
    el.options = via(fake, { linger: 50 });
    expect(calls).toHaveLength(2);
    expect(calls[1]?.conn).toBe(el.connection);
    expect(calls[1]?.conn).not.toBe(calls[0]?.conn);
  });

  it('keeps calling the other subscribers when one of them throws, and reports the error', () => {
    const child = document.createElement('div');
    const el = provider('ws://test/a', via(new FakeServer({ autoWelcome: true })), child);
    document.body.append(el);
    let throwing = false;
    child.dispatchEvent(
      new ContextRequestEvent(
        rxmuxContext,
        () => {
          if (throwing) throw new Error('consumer bug');
        },
        true,
      ),
    );
    const { calls } = subscribeFrom(child);
    const reported = vi.fn();
    vi.stubGlobal('reportError', reported);
    throwing = true;
    el.url = 'ws://test/b';
    expect(calls.map((c) => c.conn?.url)).toEqual(['ws://test/a', 'ws://test/b']);
    vi.unstubAllGlobals();
    expect(reported).toHaveBeenCalledWith(expect.objectContaining({ message: 'consumer bug' }));
  });
});

describe('nested providers', () => {
  it('the nearest provider answers', () => {
    const fake = new FakeServer({ autoWelcome: true });
    const deep = document.createElement('div');
    const shallow = document.createElement('div');
    const inner = provider('ws://test/inner', via(fake), deep);
    const outer = provider('ws://test/outer', via(fake), shallow, inner);
    document.body.append(outer);
    expect(requestConnection(deep)?.url).toBe('ws://test/inner');
    expect(requestConnection(shallow)?.url).toBe('ws://test/outer');
    expect(requestConnection(inner)?.url).toBe('ws://test/outer'); // a provider asks the one above, never itself
  });

  it('a provider inserted above a subscribed consumer takes it over, and the outer one stops calling it', () => {
    const fake = new FakeServer({ autoWelcome: true });
    const consumer = document.createElement('div');
    const outer = provider('ws://test/outer', via(fake), consumer);
    document.body.append(outer);
    const seen: (string | undefined)[] = [];
    const sub = observeConnection(consumer).subscribe((conn) => seen.push(conn?.url));

    const inner = provider('ws://test/inner', via(fake));
    inner.append(consumer); // consumer leaves outer's subtree for a detached provider...
    outer.append(inner); // ...which joins the document and announces itself
    expect(seen).toEqual(['ws://test/outer', 'ws://test/inner']);

    outer.url = 'ws://test/outer-2';
    expect(seen).toEqual(['ws://test/outer', 'ws://test/inner']);
    inner.url = 'ws://test/inner-2';
    expect(seen).toEqual(['ws://test/outer', 'ws://test/inner', 'ws://test/inner-2']);
    sub.unsubscribe();
  });
});

describe('a provider upgraded after its consumers', () => {
  it('answers the requests nobody answered, and takes properties set before the upgrade', () => {
    const fake = new FakeServer({ autoWelcome: true });
    class LateConnection extends RxmuxConnectionElement {}
    const tag = 'late-connection';
    const late = document.createElement(tag) as Partial<RxmuxConnectionElement> & HTMLElement;
    late.setAttribute('url', 'ws://test/late');
    late.options = via(fake); // an own property of the not-yet-upgraded element
    const consumer = document.createElement('div');
    late.append(consumer);
    document.body.append(late);
    const seen: (string | undefined)[] = [];
    const sub = observeConnection(consumer).subscribe((conn) => seen.push(conn?.url));
    expect(seen).toEqual([]);

    customElements.define(tag, LateConnection);

    expect(seen).toEqual(['ws://test/late']);
    const upgraded = late as RxmuxConnectionElement;
    expect(upgraded.options.WebSocket).toBe(fake.WebSocket);
    expect(Object.prototype.hasOwnProperty.call(upgraded, 'options')).toBe(false);
    sub.unsubscribe();
  });
});

describe('lifecycle', () => {
  it('owns no connection before it is in the document', () => {
    const el = provider('ws://test/rt', via(new FakeServer({ autoWelcome: true })));
    expect(el.connection).toBeUndefined();
    document.body.append(el);
    expect(el.connection).toBeDefined();
  });

  it('keeps its connection when moved, closes it once idle after removal, and connects anew when re-inserted', async () => {
    const fake = new FakeServer({ autoWelcome: true });
    const child = document.createElement('div');
    const el = provider('ws://test/rt', via(fake), child);
    const elsewhere = document.createElement('section');
    document.body.append(el, elsewhere);
    const first = el.connection as Connection;
    const sub = first.channel('a').subscribe();
    await vi.waitFor(() => expect(fake.openCount).toBe(1));

    elsewhere.append(el); // a move: disconnected and connected in one go
    await Promise.resolve();
    expect(el.connection).toBe(first);

    el.remove();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(el.connection).toBe(first); // still in use: released only once idle
    sub.unsubscribe(); // the channel leaves after the linger, then the socket goes
    await vi.waitFor(() => expect(el.connection).toBeUndefined());
    expect(fake.last.closed?.code).toBe(1000);
    expect(() => first.channel('a')).toThrow(/after close/); // closed for good

    document.body.append(el);
    const second = el.connection as Connection;
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    expect(requestConnection(child)).toBe(second);
  });

  it('releases an unused connection soon after removal, without calling the consumers that left with it', async () => {
    const fake = new FakeServer({ autoWelcome: true });
    const child = document.createElement('div');
    const el = provider('ws://test/rt', via(fake), child);
    document.body.append(el);
    const { calls } = subscribeFrom(child);
    el.remove();
    // Released at once (nothing was open), and the detached consumer is dropped, not called.
    await vi.waitFor(() => expect(el.connection).toBeUndefined());
    expect(calls).toHaveLength(1);
  });

  it('never closes a connection the application handed it', async () => {
    const fake = new FakeServer({ autoWelcome: true });
    const app = connect('ws://test/app', via(fake));
    const child = document.createElement('div');
    const el = provider('ws://test/ignored', via(fake), child);
    el.connection = app;
    document.body.append(el);
    expect(requestConnection(child)).toBe(app);
    const { calls } = subscribeFrom(child);

    // Beside it, a provider that owns its connection: once that one is released, ours would have been too.
    const owning = provider('ws://test/owned', via(fake));
    document.body.append(owning);
    el.remove();
    owning.remove();
    await vi.waitFor(() => expect(owning.connection).toBeUndefined());
    expect(() => app.channel('a')).not.toThrow();

    document.body.append(el);
    el.connection = undefined; // back to its url
    expect(requestConnection(child)?.url).toBe('ws://test/ignored');
    expect(calls.map((c) => c.conn?.url)).toEqual(['ws://test/app', 'ws://test/ignored']);
    app.close();
  });

  it('shares one pooled connection between providers with the same url and options', () => {
    const fake = new FakeServer({ autoWelcome: true });
    const options = via(fake);
    const a = provider('ws://test/rt', options);
    const b = provider('ws://test/rt', options);
    document.body.append(a, b);
    expect(a.connection).toBe(b.connection);
  });

  it('renders its children as if it were not there', () => {
    const el = provider('ws://test/rt', via(new FakeServer({ autoWelcome: true })));
    expect(el.shadowRoot?.innerHTML).toContain('display:contents');
    expect(el.shadowRoot?.querySelector('slot')).not.toBeNull();
  });
});

describe('url', () => {
  it('resolves relative urls against the document, with ws(s) for http(s)', () => {
    expect(resolveUrl('/rt', 'https://example.com/app/page')).toBe('wss://example.com/rt');
    expect(resolveUrl('rt', 'http://127.0.0.1:8080/app/')).toBe('ws://127.0.0.1:8080/app/rt');
    expect(resolveUrl('wss://other.example/rt', 'http://example.com/')).toBe('wss://other.example/rt');
    expect(resolveUrl('', 'http://example.com/')).toBe('');
  });

  it('has no connection without a url', () => {
    const child = document.createElement('div');
    const el = document.createElement('rxmux-connection');
    el.append(child);
    document.body.append(el);
    expect(el.url).toBe('');
    expect(el.connection).toBeUndefined();
    expect(requestConnection(child)).toBeUndefined();
  });
});
