// @vitest-environment happy-dom
/**
 * The panel as an ordinary page fed by a fake source: rendering, filters,
 * pause and clear, request/reply pairing, binary, themes, export and import,
 * actions, and 100,000 frames with a bounded DOM.
 */
import type { DebugAction, DebugEvent } from '@rxmux/core/debug';
import { fireEvent, getByRole, queryAllByRole, within } from '@testing-library/dom';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mountPanel, type PanelHandle, type PanelOptions } from '../src/panel/panel.js';
import type { PanelSink, PanelSource, SourceState } from '../src/panel/source.js';
import { flood, session, T0 } from './fixtures/traffic.js';

class FakeSource implements PanelSource {
  sink: PanelSink | undefined;
  readonly acted: { conn: string; action: DebugAction }[] = [];
  readonly captures: boolean[] = [];
  cleared = 0;
  connect(sink: PanelSink): () => void {
    this.sink = sink;
    sink.state({ url: 'http://127.0.0.1:8080/app', capture: 'off' });
    return () => {
      this.sink = undefined;
    };
  }
  act(conn: string, action: DebugAction): void {
    this.acted.push({ conn, action });
  }
  capture(on: boolean): void {
    this.captures.push(on);
  }
  clear(): void {
    this.cleared++;
  }
  emit(events: readonly DebugEvent[]): void {
    this.sink?.events(events);
  }
  state(state: SourceState): void {
    this.sink?.state(state);
  }
}

/** What the core's tap reports when a debugger pauses or resumes player-1. */
const channelEvent = (action: 'paused' | 'resumed', subscribers = 2): DebugEvent => ({ type: 'channel', conn: 'c1', at: T0 + 2800, channel: 'player-1', transport: 'ws', action, subscribers });

let root: HTMLElement;
let panel: PanelHandle | undefined;
let source: FakeSource;
const downloads: { name: string; text: string }[] = [];

function mount(options: PanelOptions = {}, src: PanelSource = source): HTMLElement {
  panel = mountPanel(root, src, { schedule: (render) => render(), now: () => T0 + 3000, download: (name, text) => void downloads.push({ name, text }), ...options });
  return root;
}

beforeEach(() => {
  root = document.createElement('div');
  document.body.append(root);
  source = new FakeSource();
  downloads.length = 0;
});
afterEach(() => {
  panel?.unmount();
  panel = undefined;
  root.remove();
});

const logRows = (): HTMLElement[] => within(getByRole(root, 'grid', { name: 'Messages' })).queryAllByRole('row');
const channelRow = (name: string): HTMLElement => root.querySelector(`tr[data-channel="${name}"]`) as HTMLElement;
const cell = (name: string, col: string): string | undefined => root.querySelector(`tr[data-channel="${name}"] [data-col="${col}"]`)?.textContent;
const summary = (): string => getByRole(root, 'toolbar').querySelector('[role="status"]')?.textContent ?? '';
const select = (label: string, value: string): void => {
  const el = getByRole<HTMLSelectElement>(root, 'combobox', { name: label });
  el.value = value;
  fireEvent.change(el);
};

describe('rendering', () => {
  it('shows the connection with its status timeline, and every channel with its counters', () => {
    mount();
    source.emit(session());
    const conn = getByRole(root, 'region', { name: 'Connections' });
    expect(conn.textContent).toContain('ws://127.0.0.1:8080/rt');
    expect(conn.querySelector('[data-status]')?.getAttribute('data-status')).toBe('open');
    const steps = within(conn).getAllByRole('listitem').map((li) => li.querySelector('.step-text')?.textContent);
    expect(steps).toEqual(['connecting', 'open', 'reconnecting #1 in 500 ms (1006 abnormal closure)', 'open · resumed']);

    const table = getByRole(root, 'table', { name: 'Channels' });
    expect(within(table).getAllByRole('row').length).toBe(1 + 4); // header + player-1, audio, match-score, admin
    expect(cell('player-1', 'subscribers')).toBe('2');
    expect(cell('player-1', 'in')).toBe('3'); // two publications and the response (the tap names a reply's channel)
    expect(cell('player-1', 'out')).toBe('2'); // one message, one request
    expect(cell('player-1', 'seq')).toBe('250'); // moved by the gap
    expect(cell('player-1', 'gaps')).toBe('1');
    expect(cell('player-1', 'drops')).toBe('1');
    expect(cell('audio', 'subscribers')).toBe('–'); // never reported
    expect(cell('match-score', 'in')).toBe('1');
    expect(channelRow('match-score').textContent).toContain('sse');
    expect(channelRow('player-1').textContent).toContain('Xk3p9qL2');
    expect(cell('player-1', 'rate')).toBe('0.5/s'); // 5 data frames in the last 10 s
    expect(summary()).toContain(`${session().length} events`);
  });

  it("shows the connection's event stream as the tap reports it, and its SSE channels joined", () => {
    mount();
    source.emit([
      ...session(),
      { type: 'channel', conn: 'c1', at: T0 + 2900, channel: 'match-score', transport: 'sse', action: 'join', subscribers: 1 },
      { type: 'stream', conn: 'c1', at: T0 + 2900, transport: 'sse', state: 'retrying', channels: 1, retryIn: 2000, code: 'RXMUX_ERR_CONNECTION_LOST' },
    ]);
    const conn = getByRole(root, 'region', { name: 'Connections' });
    expect(conn.querySelector('.conn-stream')?.textContent).toBe('sse retrying in 2 s (RXMUX_ERR_CONNECTION_LOST)');
    source.emit([
      { type: 'stream', conn: 'c1', at: T0 + 2950, transport: 'sse', state: 'open', channels: 1 },
      { type: 'channel', conn: 'c1', at: T0 + 2950, channel: 'match-score', transport: 'sse', action: 'joined', subscribers: 1 },
    ]);
    expect(conn.querySelector('.conn-stream')?.getAttribute('data-stream')).toBe('open');
    expect(cell('match-score', 'subscribers')).toBe('1');
  });

  it('shows the log in order, sent and received apart', () => {
    mount();
    source.emit(session());
    const rows = logRows();
    expect(rows).toHaveLength(session().length);
    const first = rows.find((r) => r.dataset.kind === 'publication');
    expect(first?.textContent).toContain('{"bpm":72,"player":"p1"}');
    expect(rows.find((r) => r.dataset.kind === 'hello')?.querySelector('[aria-label="sent"]')).not.toBeNull();
    expect(rows.find((r) => r.dataset.kind === 'error')?.className).toContain('tone-error');
  });

  it('renders page data as text, never as markup', () => {
    mount();
    source.emit([{ type: 'frame', conn: 'c1', at: T0, dir: 'in', transport: 'ws', frame: 'publication', channel: '<img src=x onerror=alert(1)>', bytes: 10, data: '<script>alert(1)</script>' }]);
    expect(root.querySelector('img')).toBeNull();
    expect(root.querySelector('script')).toBeNull();
    expect(logRows()[0]?.textContent).toContain('<script>alert(1)</script>');
  });

  it('offers the debugger and HAR import when the page reports nothing', () => {
    mount();
    const empty = root.querySelector('.empty') as HTMLElement;
    expect(empty.hidden).toBe(false);
    expect(empty.textContent).toContain('No rxmux connection');
    fireEvent.click(within(empty).getByRole('button', { name: 'Capture with debugger' }));
    expect(source.captures).toEqual([true]);
    source.state({ capture: 'on' });
    expect(getByRole(root, 'button', { name: 'Stop capture' }).getAttribute('aria-pressed')).toBe('true');
    source.state({ capture: 'error', captureError: 'Another debugger is already attached' });
    expect(root.querySelector('.banner')?.textContent).toContain('Another debugger is already attached');
  });
});

describe('filters', () => {
  beforeEach(() => {
    mount();
    source.emit(session());
  });

  it('by channel (also from the channel table), direction, type and text', () => {
    select('Channel', 'audio');
    expect(logRows().map((r) => r.dataset.kind)).toEqual(['subscribe', 'message']);
    fireEvent.click(channelRow('player-1'));
    expect(logRows().every((r) => r.querySelector('.c-channel')?.textContent === 'player-1')).toBe(true);
    expect(logRows().some((r) => r.dataset.kind === 'response')).toBe(true); // a response takes its request's channel
    fireEvent.click(channelRow('player-1')); // again: off
    select('Direction', 'out');
    expect(logRows().map((r) => r.dataset.kind)).toEqual(['hello', 'subscribe', 'subscribe', 'message', 'message', 'request']);
    select('Direction', '');
    select('Type', 'publication');
    expect(logRows()).toHaveLength(3);
    select('Type', '');
    const text = getByRole(root, 'searchbox', { name: 'Filter text' });
    fireEvent.input(text, { target: { value: 'NESTED' } });
    expect(logRows()).toHaveLength(1);
    fireEvent.input(text, { target: { value: 'forbidden' } });
    expect(logRows().map((r) => r.dataset.kind)).toEqual(['error']);
    expect(summary()).toMatch(/^1 of \d+ events/);
  });

  it('keeps filtering what arrives later', () => {
    select('Channel', 'audio');
    source.emit(flood(20, 2));
    source.emit([{ type: 'frame', conn: 'c1', at: T0 + 9000, dir: 'in', transport: 'ws', frame: 'publication', channel: 'audio', bytes: 10, data: 1 }]);
    expect(logRows()).toHaveLength(3);
  });
});

describe('pause and clear', () => {
  it('pause holds new events without losing them; resume shows them', () => {
    mount();
    source.emit(session().slice(0, 5));
    fireEvent.click(getByRole(root, 'button', { name: 'Pause' }));
    source.emit(session().slice(5));
    expect(logRows()).toHaveLength(5);
    expect(root.querySelector('.banner')?.textContent).toContain(`${session().length - 5} new events held`);
    fireEvent.click(getByRole(root, 'toolbar').querySelector('[aria-label="Resume"]') as HTMLElement);
    expect(logRows()).toHaveLength(session().length);
  });

  it('clear empties the log and the counters but keeps what is live, and clears the source', () => {
    mount();
    source.emit(session());
    fireEvent.click(getByRole(root, 'button', { name: 'Clear' }));
    expect(logRows()).toHaveLength(0);
    expect(source.cleared).toBe(1);
    expect(cell('player-1', 'in')).toBe('0');
    expect(cell('player-1', 'subscribers')).toBe('2');
    expect(root.querySelector('.connection')?.getAttribute('data-status')).toBe('open');
  });

  it('starts over when the source resets (the page navigated)', () => {
    mount();
    source.emit(session());
    source.sink?.reset();
    expect(logRows()).toHaveLength(0);
    expect(root.querySelector('tr[data-channel]')).toBeNull();
  });
});

describe('request/reply pairs', () => {
  it('pairs a request with its response by id, with latency', () => {
    mount();
    source.emit(session());
    const response = logRows().find((r) => r.dataset.kind === 'response');
    expect(response?.querySelector('.latency')?.textContent).toBe('85 ms');
    fireEvent.click(getByRole(root, 'tab', { name: /Requests \(1\)/ }));
    const rows = within(getByRole(root, 'grid', { name: 'Requests' })).getAllByRole('row');
    expect(rows).toHaveLength(1);
    expect(rows[0]?.textContent).toContain('{"op":"stats"}');
    expect(rows[0]?.textContent).toContain('{"avg":71.5}');
    expect(rows[0]?.querySelector('[data-col="latency"]')?.textContent).toBe('85 ms');
  });

  it('shows errors and timeouts, from frames and from the tap’s request events', () => {
    mount();
    const c = 'c1';
    source.emit([
      { type: 'frame', conn: c, at: T0, dir: 'out', transport: 'ws', frame: 'request', channel: 'a', bytes: 10, id: 1, data: 1 },
      { type: 'frame', conn: c, at: T0 + 40, dir: 'in', transport: 'ws', frame: 'request-error', bytes: 10, id: 1, code: 'RXMUX_ERR_NO_HANDLER' },
      { type: 'frame', conn: c, at: T0 + 50, dir: 'out', transport: 'ws', frame: 'request', channel: 'b', bytes: 10, id: 2, data: 2 },
      { type: 'request', conn: c, at: T0 + 5050, channel: 'b', id: 2, latency: 5000, outcome: 'timeout', code: 'RXMUX_ERR_REQUEST_TIMEOUT' },
    ]);
    fireEvent.click(getByRole(root, 'tab', { name: /Requests/ }));
    const rows = within(getByRole(root, 'grid', { name: 'Requests' })).getAllByRole('row');
    expect(rows.map((r) => r.querySelector('[data-col="latency"]')?.textContent)).toEqual(['40 ms', '5 s']);
    expect(rows[0]?.textContent).toContain('error RXMUX_ERR_NO_HANDLER');
    expect(rows[1]?.textContent).toContain('timeout');
  });
});

describe('acknowledged sends', () => {
  it('show the ack’s latency on the message row once the tap reports it, and its outcome in the detail', () => {
    mount();
    const sent: DebugEvent = { type: 'frame', conn: 'c1', at: T0, dir: 'out', transport: 'ws', frame: 'message', channel: 'manual-input', bytes: 40, id: 7, data: { kind: 'goal' } };
    source.emit([sent]);
    const row = (): HTMLElement | undefined => logRows().find((r) => r.dataset.kind === 'message');
    expect(row()?.querySelector('.latency')).toBeNull(); // pending
    source.emit([
      { type: 'frame', conn: 'c1', at: T0 + 58, dir: 'in', transport: 'ws', frame: 'ack', channel: 'manual-input', bytes: 5, id: 7 },
      { type: 'ack', conn: 'c1', at: T0 + 58, channel: 'manual-input', id: 7, latency: 58, outcome: 'acked' },
    ]);
    expect(row()?.querySelector('.latency')?.textContent).toBe('58 ms');
    fireEvent.click(row() as HTMLElement);
    const detail = getByRole(root, 'complementary', { name: 'Detail' });
    expect(detail.textContent).toContain('Ackacked');
    expect(detail.textContent).toContain('Latency58 ms');
  });
});

describe('detail', () => {
  it('shows a binary payload as its size and a hex dump', () => {
    mount();
    source.emit(session());
    fireEvent.click(logRows().find((r) => r.textContent.includes('binary')) as HTMLElement);
    const detail = getByRole(root, 'complementary', { name: 'Detail' });
    expect(detail.textContent).toContain('Binary, 4,096 bytes (first 64 shown)');
    const dump = within(detail).getByLabelText('Hex dump').textContent;
    expect(dump.split('\n')[0]).toBe(`00000000  ${'de ad be ef '.repeat(4).trim()}  ${'....'.repeat(4)}`);
    expect(dump.split('\n')).toHaveLength(4);
    expect(logRows().find((r) => r.textContent.includes('binary'))?.textContent).toContain('binary 4.1 kB  de ad be ef');
  });

  it('shows JSON as a collapsible tree, built when opened', () => {
    mount();
    source.emit(session());
    fireEvent.click(logRows().find((r) => r.textContent.includes('nested')) as HTMLElement);
    const detail = getByRole(root, 'complementary', { name: 'Detail' });
    const nodes = detail.querySelectorAll('details');
    const nested = [...nodes].find((d) => d.querySelector('summary')?.textContent.startsWith('nested')) as HTMLDetailsElement;
    expect(nested.open).toBe(false);
    expect(nested.querySelector('.json-children')).toBeNull();
    nested.open = true;
    nested.dispatchEvent(new Event('toggle'));
    expect(nested.textContent).toContain('"green"');
    expect(nested.querySelector('.json-children details > summary')?.textContent).toContain('history: Array(3)');
    fireEvent.click(within(detail).getByRole('button', { name: 'Close detail' }));
    expect(detail.hidden).toBe(true);
  });
});

describe('themes', () => {
  it('uses the DevTools theme it is given', () => {
    mount({ theme: 'dark' });
    expect(root.querySelector('.rx')?.getAttribute('data-theme')).toBe('dark');
  });

  it('follows prefers-color-scheme in a plain page', () => {
    const listeners: ((e: MediaQueryListEvent) => void)[] = [];
    const query = { matches: true, addEventListener: (_: string, l: (e: MediaQueryListEvent) => void) => listeners.push(l), removeEventListener: vi.fn() };
    vi.stubGlobal('matchMedia', vi.fn(() => query));
    try {
      mount();
      const rx = root.querySelector('.rx') as HTMLElement;
      expect(rx.dataset.theme).toBe('dark');
      for (const l of listeners) l({ matches: false } as MediaQueryListEvent);
      expect(rx.dataset.theme).toBe('light');
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe('export and import', () => {
  it('round-trips a capture, with tokens redacted', async () => {
    mount();
    source.emit([
      ...session(),
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- `link` is a key of the JSON data, not String.prototype.link (the rule looks it up on JsonValue's `string` member)
      { type: 'frame', conn: 'c1', at: T0 + 2700, dir: 'out', transport: 'ws', frame: 'message', channel: 'auth', bytes: 80, data: { token: 'abc', nested: { Authorization: 'Bearer xyz' }, jwt: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig', link: 'https://x.test/cb?access_token=s3cret', ok: 'fine' } },
    ]);
    fireEvent.click(getByRole(root, 'button', { name: 'Export' }));
    expect(downloads).toHaveLength(1);
    const text = downloads[0]?.text ?? '';
    expect(downloads[0]?.name).toMatch(/^rxmux-capture-.*\.json$/);
    expect(text).not.toMatch(/abc|xyz|eyJhbG|s3cret/);
    expect(text).toContain('"ok":"fine"');
    expect(text).toContain('https://x.test/cb"');

    panel?.unmount();
    source = new FakeSource();
    mount();
    const input = root.querySelector('input[type="file"]') as HTMLInputElement;
    fireEvent.change(input, { target: { files: [new File([text], 'capture.json', { type: 'application/json' })] } });
    await vi.waitFor(() => expect(root.querySelector('.banner')?.textContent).toContain('Viewing capture.json'));
    expect(logRows()).toHaveLength(session().length + 1);
    expect(cell('player-1', 'in')).toBe('3');
    expect(cell('player-1', 'gaps')).toBe('1');
    // Live traffic goes on underneath; "Back to live" shows it.
    source.emit(flood(3, 1));
    expect(logRows()).toHaveLength(session().length + 1);
    fireEvent.click(within(root.querySelector('.banner') as HTMLElement).getByRole('button', { name: 'Back to live' }));
    expect(logRows()).toHaveLength(3);
  });

  it('imports a HAR file and reports files it cannot read', async () => {
    mount();
    const har = { log: { entries: [{ _resourceType: 'websocket', startedDateTime: new Date(T0).toISOString(), request: { url: 'ws://h/rt' }, response: { headers: [{ name: 'Sec-WebSocket-Protocol', value: 'rxmux.v1' }] }, _webSocketMessages: [{ type: 'receive', time: T0 / 1000 + 1, opcode: 1, data: '[1,"score",{"home":2},9]' }] }] } };
    const input = root.querySelector('input[type="file"]') as HTMLInputElement;
    fireEvent.change(input, { target: { files: [new File([JSON.stringify(har)], 'bug.har')] } });
    await vi.waitFor(() => expect(root.querySelector('.banner')?.textContent).toContain('from HAR'));
    expect(cell('score', 'seq')).toBe('9');
    fireEvent.click(within(root.querySelector('.banner') as HTMLElement).getByRole('button', { name: 'Back to live' }));
    fireEvent.change(input, { target: { files: [new File(['{"nope":1}'], 'x.json')] } });
    await vi.waitFor(() => expect(root.querySelector('.banner')?.textContent).toContain('Could not import x.json'));
  });
});

describe('actions', () => {
  it('drops the connection, pauses and resumes a channel, sends JSON; each shows in the log', () => {
    mount();
    source.emit(session());
    fireEvent.click(getByRole(root, 'button', { name: 'Drop connection' }));
    fireEvent.click(within(channelRow('player-1')).getByRole('button', { name: 'Pause' }));
    // Pending until the tap says so: the table shows the page's state, not the panel's wish.
    expect(within(channelRow('player-1')).getByRole('button', { name: 'Pausing…' }).hasAttribute('disabled')).toBe(true);
    expect(channelRow('player-1').querySelector('.badge')).toBeNull();
    source.emit([channelEvent('paused')]);
    expect(channelRow('player-1').querySelector('.badge')?.textContent).toBe('paused');
    fireEvent.click(within(channelRow('player-1')).getByRole('button', { name: 'Resume' }));
    source.emit([channelEvent('resumed')]);
    expect(within(channelRow('player-1')).getByRole('button', { name: 'Pause' })).toBeDefined();
    fireEvent.click(within(channelRow('audio')).getByRole('button', { name: 'Send…' }));
    const form = getByRole(root, 'form', { name: 'Send a message' });
    const textarea = within(form).getByRole('textbox', { name: 'JSON to send' });
    fireEvent.input(textarea, { target: { value: '{ nope' } });
    fireEvent.submit(form);
    expect(within(form).getByRole('alert').textContent).toContain('Not JSON');
    fireEvent.input(textarea, { target: { value: '{"gain": 0.5}' } });
    fireEvent.submit(form);
    expect(form.hidden).toBe(true);
    expect(source.acted).toEqual([
      { conn: 'c1', action: { type: 'drop' } },
      { conn: 'c1', action: { type: 'pause', channel: 'player-1' } },
      { conn: 'c1', action: { type: 'resume', channel: 'player-1' } },
      { conn: 'c1', action: { type: 'send', channel: 'audio', data: { gain: 0.5 } } },
    ]);
    expect(logRows().filter((r) => r.dataset.kind === 'panel-action').map((r) => r.querySelector('.c-data')?.textContent)).toEqual([
      'DevTools: drop the connection',
      'DevTools: pause player-1',
      'DevTools: resume player-1',
      'DevTools: send {"gain":0.5}',
    ]);
  });

  it('shows a channel paused when the tap says so, also when this panel did not ask (a panel opened later)', () => {
    mount();
    source.emit([...session(), channelEvent('paused', 0)]);
    expect(channelRow('player-1').className).toContain('paused');
    expect(cell('player-1', 'subscribers')).toBe('2'); // a pause is no change of subscribers
    expect(logRows().at(-1)?.textContent).toContain('paused by DevTools');
    source.emit([channelEvent('resumed')]);
    expect(channelRow('player-1').className).not.toContain('paused');
  });

  it('shows a connection closed for good: no actions, its channels gone', () => {
    mount();
    source.emit([...session(), { type: 'status', conn: 'c1', at: T0 + 2700, from: 'open', to: 'closed' }, { type: 'disposed', conn: 'c1', at: T0 + 2700 }]);
    const conn = root.querySelector('.connection') as HTMLElement;
    expect(conn.dataset.disposed).toBe('true');
    expect(conn.querySelector('.conn-status')?.textContent).toBe('closed for good');
    expect(conn.querySelector('.timeline')?.lastElementChild?.textContent).toBe('closed for good');
    expect(queryAllByRole(root, 'button', { name: 'Drop connection' })).toHaveLength(0);
    expect(channelRow('player-1').className).toContain('left');
    expect(within(channelRow('player-1')).queryAllByRole('button')).toHaveLength(0);
    expect(logRows().at(-1)?.dataset.kind).toBe('disposed');
  });

  it('offers no actions for a tap that does not allow them', () => {
    mount();
    source.emit(session().map((e) => (e.type === 'connection' ? { ...e, actions: false } : e)));
    expect(queryAllByRole(root, 'button', { name: 'Drop connection' })).toHaveLength(0);
    expect(within(channelRow('player-1')).queryAllByRole('button')).toHaveLength(0);
  });
});

describe('100,000 frames', () => {
  it('keeps every count right and only the rows in view in the DOM', () => {
    mount();
    source.emit(session());
    const frames = flood(100_000, 8);
    for (let i = 0; i < frames.length; i += 1000) source.emit(frames.slice(i, i + 1000));
    // The log keeps the newest 100,000 records (its default capacity): the session scrolled out.
    expect(summary()).toContain('100,000 events');
    expect(getByRole(root, 'grid', { name: 'Messages' }).getAttribute('aria-rowcount')).toBe('100000');
    expect(logRows().length).toBeLessThanOrEqual(60);
    // Stuck to the bottom: the newest row is rendered.
    expect(logRows().at(-1)?.textContent).toContain('"i":99999');
    const perChannel = 100_000 / 8;
    expect(Number(cell('ch-0', 'in')?.replace(/,/g, '')) + Number(cell('ch-0', 'out')?.replace(/,/g, ''))).toBe(perChannel);
    expect(cell('ch-1', 'in')).toBe(perChannel.toLocaleString('en-US'));
    select('Channel', 'ch-3');
    expect(getByRole(root, 'grid', { name: 'Messages' }).getAttribute('aria-rowcount')).toBe(String(perChannel));
    expect(logRows().length).toBeLessThanOrEqual(60);
  });

  it('is capped: the oldest records go, the counters stay exact', () => {
    mount({ capacity: 1000 });
    const frames = flood(5000, 5);
    source.emit(frames);
    expect(getByRole(root, 'grid', { name: 'Messages' }).getAttribute('aria-rowcount')).toBe('1000');
    expect(cell('ch-1', 'in')).toBe('1,000');
    select('Channel', 'ch-2');
    expect(getByRole(root, 'grid', { name: 'Messages' }).getAttribute('aria-rowcount')).toBe('200');
  });
});
