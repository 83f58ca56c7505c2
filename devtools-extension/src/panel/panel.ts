/**
 * The rxmux panel: a plain DOM module with no extension API, mounted on any
 * element and fed by a {@link PanelSource}. The extension mounts it in
 * `panel.html` with a port-backed source; tests mount it on a test DOM with
 * a fake source.
 *
 * ```
 *  ┌ toolbar: pause · clear · filter · channel · direction · type · export · import · capture ┐
 *  │ connections, each with its status timeline (attempts, delays, close codes) · Drop        │
 *  │ channels: subscribers, messages and bytes in/out, rate, seq/epoch, gaps, drops · actions │
 *  │ [Messages | Requests]                                                                    │
 *  │ virtualized log (rows in view only)                           │ detail: JSON tree / hex  │
 *  └──────────────────────────────────────────────────────────────────────────────────────────┘
 * ```
 * @example
 * const panel = mountPanel(document.getElementById('app')!, source, { theme: 'dark' });
 * // later
 * panel.unmount();
 * @packageDocumentation
 */
import type { DebugAction } from '@rxmux/core/debug';
import type { JsonValue } from '@rxmux/core/protocol';
import { exportCapture, importCapture } from './capture-file.js';
import { h } from './dom.js';
import { formatBytes, formatCount, formatDuration, formatRate, formatTime, hexRows } from './format.js';
import { jsonTree } from './json-tree.js';
import { jsonPreview, NO_FILTER, type LogFilter } from './filter.js';
import { CaptureModel, DEFAULT_LOG_CAPACITY, type ChannelStats, type ConnectionInfo, type LogEntry, type PanelRecord, type RequestPair, type Transition } from './model.js';
import type { PanelSource, SourceState } from './source.js';
import { connectionName, entryLatency, entryText, entryTone, STATUS_LABEL, streamText, transitionText } from './text.js';
import { VirtualList } from './virtual-list.js';

/** Options of {@link mountPanel}. */
export interface PanelOptions {
  /** The DevTools theme (`devtools.panels.themeName`); without it the panel follows `prefers-color-scheme`. */
  readonly theme?: 'light' | 'dark';
  /** Log records kept (default 100,000). */
  readonly capacity?: number;
  /** Schedules a render (default `requestAnimationFrame`): many events, one render per frame. */
  readonly schedule?: (render: () => void) => void;
  /** The clock rates are measured against (default `Date.now`). */
  readonly now?: () => number;
  /** Saves an export (default: a download through an `<a download>`). */
  readonly download?: (filename: string, text: string) => void;
}

/** A mounted panel. */
export interface PanelHandle {
  /** Renders pending changes now (tests, and the host after a resize). */
  flush(): void;
  /** Stops the source and removes the panel. */
  unmount(): void;
}

/** Row height of the log and the requests list, px (matches the CSS). */
export const ROW_HEIGHT = 20;

type Tab = 'messages' | 'requests';

function download(filename: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = h('a', { href: url, download: filename });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * Mounts the panel on `root` and connects `source`.
 * @returns a handle to render now or unmount.
 */
export function mountPanel(root: HTMLElement, source: PanelSource, options: PanelOptions = {}): PanelHandle {
  const capacity = options.capacity ?? DEFAULT_LOG_CAPACITY;
  const schedule = options.schedule ?? ((render: () => void) => void requestAnimationFrame(render));
  const now = options.now ?? Date.now;
  const save = options.download ?? download;

  let live = new CaptureModel(capacity);
  /** An imported capture being viewed; live events keep going into `live` meanwhile. */
  let imported: { model: CaptureModel; name: string } | undefined;
  const model = (): CaptureModel => imported?.model ?? live;
  let state: SourceState = { capture: source.capture === undefined ? 'unavailable' : 'off' };
  let paused = false;
  let held: PanelRecord[] = [];
  let filter: LogFilter = NO_FILTER;
  let tab: Tab = 'messages';
  let selected: LogEntry | undefined;
  let renderedVersion = -1;
  let renderedSelection: LogEntry | undefined;
  let pending = false;
  let notice: { text: string; tone: 'info' | 'error' } | undefined;
  let composerTarget: ChannelStats | undefined;

  // ── structure ────────────────────────────────────────────────────────────
  const panel = h('div', { class: 'rx' });
  const applyTheme = (dark: boolean): void => {
    panel.dataset.theme = dark ? 'dark' : 'light';
  };
  let media: MediaQueryList | undefined;
  const onMedia = (e: MediaQueryListEvent): void => applyTheme(e.matches);
  if (options.theme !== undefined) applyTheme(options.theme === 'dark');
  else {
    media = typeof matchMedia === 'function' ? matchMedia('(prefers-color-scheme: dark)') : undefined;
    applyTheme(media?.matches ?? false);
    media?.addEventListener('change', onMedia);
  }

  const pauseButton = h('button', { type: 'button', class: 'tb-button tb-pause', 'aria-pressed': 'false', 'aria-label': 'Pause', title: 'Pause: hold new events (nothing is lost)', onclick: () => setPaused(!paused) });
  const clearButton = h('button', { type: 'button', class: 'tb-button tb-clear', 'aria-label': 'Clear', title: 'Clear the log and counters', onclick: () => clear() });
  const textInput = h('input', { type: 'search', class: 'tb-filter', placeholder: 'Filter', 'aria-label': 'Filter text', spellcheck: false });
  const channelSelect = h('select', { class: 'tb-select', 'aria-label': 'Channel' });
  const dirSelect = h('select', { class: 'tb-select', 'aria-label': 'Direction' }, h('option', { value: '' }, 'All directions'), h('option', { value: 'out' }, '↑ Sent'), h('option', { value: 'in' }, '↓ Received'));
  const kindSelect = h('select', { class: 'tb-select', 'aria-label': 'Type' });
  const exportButton = h('button', { type: 'button', class: 'tb-button tb-text', title: 'Save the capture as JSON (tokens redacted)', onclick: () => exportNow() }, 'Export');
  const fileInput = h('input', { type: 'file', accept: '.json,.har,application/json', hidden: true, 'aria-label': 'Import file' });
  const importButton = h('button', { type: 'button', class: 'tb-button tb-text', title: 'Open a capture (.json) or a HAR file saved from the Network panel', onclick: () => fileInput.click() }, 'Import');
  const captureButton = h('button', { type: 'button', class: 'tb-button tb-text tb-capture', 'aria-pressed': 'false', title: 'Decode this page’s rxmux sockets with chrome.debugger (for apps built without the DevTools hook)', onclick: () => source.capture?.(state.capture !== 'on') }, 'Capture with debugger');
  const summary = h('span', { class: 'tb-summary', role: 'status' });
  const toolbar = h(
    'div',
    { class: 'toolbar', role: 'toolbar', 'aria-label': 'rxmux' },
    pauseButton,
    clearButton,
    h('span', { class: 'tb-sep' }),
    textInput,
    channelSelect,
    dirSelect,
    kindSelect,
    h('span', { class: 'tb-sep' }),
    exportButton,
    importButton,
    fileInput,
    source.capture === undefined ? undefined : h('span', { class: 'tb-sep' }),
    source.capture === undefined ? undefined : captureButton,
    h('span', { class: 'tb-spacer' }),
    summary,
  );
  const banner = h('div', { class: 'banner', role: 'status', hidden: true });
  const connectionsBox = h('section', { class: 'connections', 'aria-label': 'Connections' });
  const channelsBody = h('tbody');
  const channelsTable = h(
    'table',
    { class: 'grid channels', 'aria-label': 'Channels' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['Channel', 'Transport', 'Subs', 'In', 'Out', 'Bytes in', 'Bytes out', 'Rate', 'Seq', 'Epoch', 'Gaps', 'Drops', ''].map((label) => h('th', { scope: 'col', class: label === 'Channel' || label === 'Epoch' || label === '' ? '' : 'num' }, label)),
      ),
    ),
    channelsBody,
  );
  const channelsBox = h('section', { class: 'channels-box' }, channelsTable);

  const tabMessages = h('button', { type: 'button', role: 'tab', class: 'tab', 'aria-selected': 'true', onclick: () => setTab('messages') }, 'Messages');
  const tabRequests = h('button', { type: 'button', role: 'tab', class: 'tab', 'aria-selected': 'false', onclick: () => setTab('requests') }, 'Requests');
  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Views' }, tabMessages, tabRequests);

  const logHeader = h('div', { class: 'row head log-row', role: 'row' }, ...['Time', '', 'Channel', 'Type', 'Data', 'Size'].map((label) => h('span', { role: 'columnheader' }, label)));
  const log = new VirtualList(ROW_HEIGHT, (i) => logRow(i), 'Messages');
  const emptyState = h('div', { class: 'empty' });
  const logBox = h('div', { class: 'log-box', role: 'tabpanel' }, logHeader, log.element, emptyState);
  const reqHeader = h('div', { class: 'row head req-row', role: 'row' }, ...['Time', 'Channel', 'Id', 'Request', 'Response', 'Status', 'Latency'].map((label) => h('span', { role: 'columnheader' }, label)));
  let pairsCache: RequestPair[] = [];
  const requests = new VirtualList(ROW_HEIGHT, (i) => requestRow(i), 'Requests');
  const reqBox = h('div', { class: 'log-box', role: 'tabpanel', hidden: true }, reqHeader, requests.element);
  const detail = h('aside', { class: 'detail', 'aria-label': 'Detail', hidden: true });
  const main = h('div', { class: 'main' }, logBox, reqBox, detail);

  const composerLabel = h('span', { class: 'composer-label' });
  const composerInput = h('textarea', { class: 'composer-input', rows: 3, 'aria-label': 'JSON to send', spellcheck: false });
  const composerError = h('span', { class: 'composer-error', role: 'alert' });
  const composer = h(
    'form',
    { class: 'composer', hidden: true, 'aria-label': 'Send a message' },
    composerLabel,
    composerInput,
    h('div', { class: 'composer-actions' }, composerError, h('button', { type: 'button', class: 'tb-button tb-text', onclick: () => closeComposer() }, 'Cancel'), h('button', { type: 'submit', class: 'tb-button tb-text primary' }, 'Send')),
  );
  composer.addEventListener('submit', (e) => {
    e.preventDefault();
    sendFromComposer();
  });

  panel.append(toolbar, banner, connectionsBox, channelsBox, composer, tabs, main);
  root.replaceChildren(panel);

  // ── rendering ────────────────────────────────────────────────────────────
  function requestRender(): void {
    if (pending) return;
    pending = true;
    schedule(() => {
      if (pending) render();
    });
  }

  function render(): void {
    pending = false;
    const m = model();
    if (m.structure !== renderedVersion) {
      renderedVersion = m.structure;
      renderSelects(m);
      renderConnections(m);
    }
    renderChannels(m);
    renderToolbar(m);
    renderBanner();
    if (tab === 'messages') log.update(m.viewSize);
    else {
      pairsCache = [...m.pairs.values()];
      requests.update(pairsCache.length);
    }
    renderEmpty(m);
    if (selected !== renderedSelection) renderDetail();
  }

  function renderToolbar(m: CaptureModel): void {
    const shown = m.viewSize;
    const total = m.log.size;
    const text = `${formatCount(shown)}${shown === total ? '' : ` of ${formatCount(total)}`} events · ${m.channels.size} channel${m.channels.size === 1 ? '' : 's'} · ${m.connections.size} connection${m.connections.size === 1 ? '' : 's'}`;
    if (summary.textContent !== text) summary.textContent = text;
    tabRequests.textContent = `Requests (${formatCount(m.pairs.size)})`;
    tabMessages.textContent = `Messages (${formatCount(total)})`;
    captureButton.textContent = state.capture === 'on' ? 'Stop capture' : 'Capture with debugger';
    captureButton.setAttribute('aria-pressed', String(state.capture === 'on'));
    captureButton.disabled = state.capture === 'unavailable' || imported !== undefined;
  }

  function renderBanner(): void {
    let text: string | undefined;
    let tone = 'info';
    let action: HTMLElement | undefined;
    if (imported !== undefined) {
      text = `Viewing ${imported.name}: live events keep being captured.`;
      action = h('button', { type: 'button', class: 'link', onclick: () => backToLive() }, 'Back to live');
    } else if (paused) {
      text = `Paused: ${formatCount(held.length)} new event${held.length === 1 ? '' : 's'} held.`;
      action = h('button', { type: 'button', class: 'link', onclick: () => setPaused(false) }, 'Resume');
    } else if (notice !== undefined) {
      text = notice.text;
      tone = notice.tone;
    } else if (state.capture === 'error' && state.captureError !== undefined) {
      text = `Debugger capture stopped: ${state.captureError}`;
      tone = 'error';
    } else if (state.capture === 'on') {
      text = 'Capturing with chrome.debugger: rxmux sockets of this page are decoded from the network.';
    }
    banner.hidden = text === undefined;
    banner.dataset.tone = tone;
    banner.replaceChildren(...(text === undefined ? [] : [h('span', {}, text), ...(action === undefined ? [] : [action])]));
  }

  function option(value: string, label: string): HTMLOptionElement {
    return h('option', { value }, label);
  }

  function renderSelects(m: CaptureModel): void {
    const names = [...new Set([...m.channels.values()].map((c) => c.channel))].sort();
    const cur = channelSelect.value;
    channelSelect.replaceChildren(option('', 'All channels'), ...names.map((n) => option(n, n)));
    channelSelect.value = names.includes(cur) ? cur : '';
    const kinds = [...m.kinds].sort();
    const curKind = kindSelect.value;
    kindSelect.replaceChildren(option('', 'All types'), ...kinds.map((k) => option(k, k === 'panel-action' ? 'DevTools action' : k)));
    kindSelect.value = kinds.includes(curKind) ? curKind : '';
  }

  function renderConnections(m: CaptureModel): void {
    const rows = [...m.connections.values()].filter((c) => c.url !== '' || c.timeline.length > 0).map((c) => connectionRow(c));
    connectionsBox.hidden = rows.length === 0;
    connectionsBox.replaceChildren(...rows);
  }

  function connectionRow(c: ConnectionInfo): HTMLElement {
    const steps = c.timeline.slice(-12);
    const timeline = h('ol', { class: 'timeline', 'aria-label': `Status timeline of ${c.url || c.id}` });
    let prev: Transition | undefined;
    for (const t of steps) {
      const delta = prev === undefined ? formatTime(t.at) : `+${formatDuration(t.at - prev.at)}`;
      timeline.append(h('li', { class: `step status-${t.to}${t.resumed === true ? ' resumed' : ''}`, title: `${formatTime(t.at)}  ${t.from} → ${transitionText(t)}` }, h('span', { class: 'step-time' }, delta), h('span', { class: 'step-text' }, transitionText(t))));
      prev = t;
    }
    if (c.timeline.length > steps.length) timeline.prepend(h('li', { class: 'step more' }, `${c.timeline.length - steps.length} earlier`));
    if (c.disposed) timeline.append(h('li', { class: 'step status-closed disposed', title: 'conn.close(): the connection reports nothing more' }, h('span', { class: 'step-text' }, 'closed for good')));
    const drop = c.actions && source.act !== undefined && imported === undefined
      ? h('button', { type: 'button', class: 'tb-button tb-text small', title: 'Drop the socket as a network loss would (watch reconnect and resume)', onclick: () => act(c.id, { type: 'drop' }) }, 'Drop connection')
      : undefined;
    return h(
      'div',
      { class: `connection${c.disposed ? ' disposed' : ''}`, 'data-conn': c.id, 'data-status': c.status, 'data-disposed': String(c.disposed) },
      h('span', { class: `dot status-${c.status}`, 'aria-hidden': 'true' }),
      h('span', { class: 'conn-status' }, c.disposed ? 'closed for good' : (STATUS_LABEL[c.status] ?? c.status)),
      h('span', { class: 'conn-url', title: c.id }, c.url || c.id),
      h('span', { class: 'conn-transports' }, [...c.transports].join(' + ')),
      c.stream === undefined || c.disposed
        ? undefined
        : h('span', { class: `conn-stream stream-${c.stream.state}`, 'data-stream': c.stream.state, title: 'The event stream of events(conn, id)' }, streamText(c.stream)),
      timeline,
      drop,
    );
  }

  function renderChannels(m: CaptureModel): void {
    const at = imported === undefined ? Math.max(now(), m.lastAt) : m.lastAt;
    const multi = m.connections.size > 1;
    const rows: HTMLElement[] = [];
    for (const c of m.channels.values()) {
      const conn = m.connections.get(c.conn);
      // Pause, resume and send act on WebSocket channels (the tap's actions do not reach the EventSource).
      const canAct = conn?.actions === true && !conn.disposed && c.transport === 'ws' && source.act !== undefined && imported === undefined && c.state !== 'left';
      const selectedRow = filter.channel === c.channel;
      rows.push(
        h(
          'tr',
          { 'data-channel': c.channel, class: `${selectedRow ? 'selected' : ''}${c.state === 'left' ? ' left' : ''}${c.paused ? ' paused' : ''}`, title: 'Show this channel’s messages', onclick: () => setFilter({ ...filter, channel: selectedRow ? '' : c.channel }) },
          h('td', { class: 'ch-name' }, h('span', { class: `dot ${c.state === 'left' ? 'status-closed' : c.paused ? 'status-reconnecting' : 'status-open'}`, 'aria-hidden': 'true' }), c.channel, multi ? h('span', { class: 'muted' }, ` ${connectionName(conn, c.conn)}`) : undefined, c.paused ? h('span', { class: 'badge' }, 'paused') : undefined),
          h('td', { class: 'num' }, c.transport),
          h('td', { class: 'num', 'data-col': 'subscribers' }, c.subscribers === undefined ? '–' : String(c.subscribers)),
          h('td', { class: 'num', 'data-col': 'in' }, formatCount(c.messagesIn)),
          h('td', { class: 'num', 'data-col': 'out' }, formatCount(c.messagesOut)),
          h('td', { class: 'num' }, formatBytes(c.bytesIn)),
          h('td', { class: 'num' }, formatBytes(c.bytesOut)),
          h('td', { class: 'num', 'data-col': 'rate' }, formatRate(c.meter.rate(at))),
          h('td', { class: 'num', 'data-col': 'seq' }, c.lastSeq === undefined ? '–' : String(c.lastSeq)),
          h('td', { class: 'mono' }, c.epoch ?? '–'),
          h('td', { class: `num${c.gaps > 0 ? ' warn' : ''}`, 'data-col': 'gaps' }, String(c.gaps)),
          h('td', { class: `num${c.drops > 0 ? ' err' : ''}`, 'data-col': 'drops' }, String(c.drops)),
          h(
            'td',
            { class: 'ch-actions' },
            canAct
              ? h('button', {
                  type: 'button',
                  class: 'tb-button tb-text small',
                  disabled: c.requested !== undefined,
                  title: c.paused ? 'Deliver the held messages and go on' : 'Hold this channel’s messages in the page (the app sees nothing until Resume)',
                  onclick: (e) => {
                    e.stopPropagation();
                    act(c.conn, { type: c.paused ? 'resume' : 'pause', channel: c.channel });
                  },
                }, c.requested === 'pause' ? 'Pausing…' : c.requested === 'resume' ? 'Resuming…' : c.paused ? 'Resume' : 'Pause')
              : undefined,
            canAct
              ? h('button', {
                  type: 'button',
                  class: 'tb-button tb-text small',
                  onclick: (e) => {
                    e.stopPropagation();
                    openComposer(c);
                  },
                }, 'Send…')
              : undefined,
          ),
        ),
      );
    }
    channelsBox.hidden = rows.length === 0;
    channelsBody.replaceChildren(...rows);
  }

  function logRow(i: number): HTMLElement {
    const entry = model().viewAt(i);
    if (entry === undefined) return h('div', { class: 'row log-row', role: 'row' });
    const r = entry.record;
    const dir = r.type === 'frame' ? (r.dir === 'out' ? '↑' : '↓') : r.type === 'panel-action' ? '⚑' : '•';
    const size = r.type === 'frame' ? formatBytes(r.bytes) : '';
    const ms = entryLatency(entry);
    const latency = ms === undefined ? undefined : h('span', { class: 'badge latency', title: 'Round trip' }, formatDuration(ms));
    const row = h(
      'div',
      {
        class: `row log-row tone-${entryTone(entry)}${selected === entry ? ' selected' : ''}`,
        role: 'row',
        'aria-selected': String(selected === entry),
        'data-kind': entry.kind,
        onclick: () => select(entry),
      },
      h('span', { class: 'c-time', role: 'gridcell' }, formatTime(r.at)),
      h('span', { class: 'c-dir', role: 'gridcell', 'aria-label': r.type === 'frame' ? (r.dir === 'out' ? 'sent' : 'received') : r.type }, dir),
      h('span', { class: 'c-channel', role: 'gridcell' }, entry.channel ?? ''),
      h('span', { class: 'c-kind', role: 'gridcell' }, entry.kind === 'panel-action' ? 'action' : entry.kind),
      h('span', { class: 'c-data', role: 'gridcell' }, h('span', { class: 'c-text' }, entryText(entry)), latency),
      h('span', { class: 'c-size', role: 'gridcell' }, size),
    );
    return row;
  }

  function requestRow(i: number): HTMLElement {
    const p = pairsCache[i];
    if (p === undefined) return h('div', { class: 'row req-row', role: 'row' });
    const status = p.outcome === 'error' ? `error ${p.code ?? ''}` : p.outcome;
    return h(
      'div',
      { class: `row req-row tone-${p.outcome === 'response' ? 'in' : p.outcome === 'pending' ? 'meta' : 'error'}`, role: 'row', 'data-id': String(p.id) },
      h('span', { role: 'gridcell' }, p.sentAt === undefined ? '' : formatTime(p.sentAt)),
      h('span', { role: 'gridcell', class: 'c-channel' }, p.channel ?? ''),
      h('span', { role: 'gridcell', class: 'num' }, String(p.id)),
      h('span', { role: 'gridcell', class: 'c-data' }, jsonPreview(p.request, 120)),
      h('span', { role: 'gridcell', class: 'c-data' }, jsonPreview(p.reply, 120)),
      h('span', { role: 'gridcell' }, status),
      h('span', { role: 'gridcell', class: 'num', 'data-col': 'latency' }, p.latency === undefined ? '–' : formatDuration(p.latency)),
    );
  }

  function renderEmpty(m: CaptureModel): void {
    const empty = m.log.size === 0;
    emptyState.hidden = !empty;
    if (!empty) return;
    const hasConnections = m.connections.size > 0;
    const children: (HTMLElement | string)[] = [h('p', { class: 'empty-title' }, hasConnections ? 'No messages yet.' : 'No rxmux connection reported by this page yet.')];
    if (!hasConnections) {
      children.push(h('p', {}, 'Connections register with the DevTools hook when they are created; reload the page if it was opened before DevTools.'));
      if (source.capture !== undefined && state.capture !== 'unavailable') {
        children.push(h('p', {}, 'An app built without the hook can still be inspected: ', h('button', { type: 'button', class: 'link', onclick: () => source.capture?.(true) }, 'Capture with debugger'), ' or ', h('button', { type: 'button', class: 'link', onclick: () => fileInput.click() }, 'import a HAR file'), '.'));
      }
    }
    emptyState.replaceChildren(...children);
  }

  function renderDetail(): void {
    renderedSelection = selected;
    detail.hidden = selected === undefined;
    if (selected === undefined) {
      detail.replaceChildren();
      return;
    }
    const entry = selected;
    const r = entry.record;
    const fields: [string, string][] = [
      ['Time', formatTime(r.at)],
      ['Connection', connectionName(model().connections.get(r.conn), r.conn)],
    ];
    if (entry.channel !== undefined) fields.push(['Channel', entry.channel]);
    fields.push(['Type', entry.kind === 'panel-action' ? 'DevTools action' : entry.kind]);
    let body: HTMLElement | undefined;
    if (r.type === 'frame') {
      fields.push(['Direction', r.dir === 'out' ? 'sent' : 'received'], ['Transport', r.transport], ['Size', formatBytes(r.bytes)]);
      if (r.seq !== undefined) fields.push(['Seq', String(r.seq)]);
      if (r.epoch !== undefined) fields.push(['Epoch', r.epoch]);
      if (r.id !== undefined) fields.push(['Id', String(r.id)]);
      if (r.code !== undefined) fields.push(['Code', r.code]);
      if (entry.ack !== undefined) fields.push(['Ack', `${entry.ack.outcome}${entry.ack.code === undefined ? '' : ` ${entry.ack.code}`}`]);
      const ms = entryLatency(entry);
      if (ms !== undefined) fields.push(['Latency', formatDuration(ms)]);
      if (r.binary !== undefined) body = hexView(r.binary.length, r.binary.head);
      else if (r.data !== undefined) body = jsonTree(r.data);
    } else {
      // The record without the fields listed above it.
      const rest: Record<string, JsonValue> = { ...r };
      delete rest.conn;
      delete rest.at;
      delete rest.type;
      body = jsonTree(rest);
    }
    detail.replaceChildren(
      h('div', { class: 'detail-head' }, h('span', {}, entryText(entry).slice(0, 80)), h('button', { type: 'button', class: 'tb-button close', 'aria-label': 'Close detail', onclick: () => select(undefined) }, '×')),
      h('dl', { class: 'fields' }, ...fields.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
      body ?? h('div', { class: 'muted' }, 'No payload.'),
    );
  }

  function hexView(length: number, head: string): HTMLElement {
    const shown = head.length / 2;
    return h(
      'div',
      { class: 'hex' },
      h('div', { class: 'hex-size' }, `Binary, ${formatCount(length)} bytes${shown < length ? ` (first ${shown} shown)` : ''}`),
      h('pre', { class: 'hex-dump', 'aria-label': 'Hex dump' }, hexRows(head).map((row) => `${row.offset}  ${row.hex.padEnd(47)}  ${row.ascii}`).join('\n')),
    );
  }

  // ── behaviour ────────────────────────────────────────────────────────────
  function select(entry: LogEntry | undefined): void {
    selected = entry;
    log.render();
    renderDetail();
  }

  function setTab(next: Tab): void {
    tab = next;
    tabMessages.setAttribute('aria-selected', String(next === 'messages'));
    tabRequests.setAttribute('aria-selected', String(next === 'requests'));
    logBox.hidden = next !== 'messages';
    reqBox.hidden = next !== 'requests';
    render();
  }

  function setFilter(next: LogFilter): void {
    filter = next;
    channelSelect.value = next.channel;
    dirSelect.value = next.dir;
    kindSelect.value = next.kind;
    if (textInput.value !== next.text) textInput.value = next.text;
    live.setFilter(next);
    imported?.model.setFilter(next);
    renderedVersion = -1;
    render();
  }

  const readFilter = (): LogFilter => ({ channel: channelSelect.value, dir: dirSelect.value as LogFilter['dir'], kind: kindSelect.value, text: textInput.value.trim() });
  textInput.addEventListener('input', () => setFilter(readFilter()));
  for (const select of [channelSelect, dirSelect, kindSelect]) select.addEventListener('change', () => setFilter(readFilter()));

  function setPaused(next: boolean): void {
    paused = next;
    pauseButton.setAttribute('aria-pressed', String(next));
    pauseButton.setAttribute('aria-label', next ? 'Resume' : 'Pause');
    pauseButton.title = next ? 'Resume: show the held events' : 'Pause: hold new events (nothing is lost)';
    if (!next && held.length > 0) {
      const batch = held;
      held = [];
      live.ingest(batch);
    }
    render();
  }

  function clear(): void {
    if (imported !== undefined) {
      backToLive();
      return;
    }
    held = [];
    selected = undefined;
    live.clear();
    notice = undefined;
    source.clear?.();
    renderedVersion = -1;
    render();
  }

  function act(conn: string, action: DebugAction): void {
    source.act?.(conn, action);
    const record: PanelRecord = { type: 'panel-action', conn, at: now(), action };
    // Paused, the action waits with the events it causes, in order.
    if (paused) held.push(record);
    else live.ingest([record]);
    requestRender();
  }

  function openComposer(c: ChannelStats): void {
    composerTarget = c;
    composerLabel.textContent = `Send on ${c.channel} (JSON)`;
    composerError.textContent = '';
    composer.hidden = false;
    composerInput.focus();
  }

  function closeComposer(): void {
    composerTarget = undefined;
    composer.hidden = true;
  }

  function sendFromComposer(): void {
    const target = composerTarget;
    if (target === undefined) return;
    let data: JsonValue;
    try {
      data = JSON.parse(composerInput.value) as JsonValue;
    } catch (err) {
      composerError.textContent = `Not JSON: ${err instanceof Error ? err.message : String(err)}`;
      return;
    }
    act(target.conn, { type: 'send', channel: target.channel, data });
    closeComposer();
  }

  function exportNow(): void {
    const m = model();
    const stamp = new Date(now()).toISOString().replace(/[:.]/g, '-');
    save(`rxmux-capture-${stamp}.json`, exportCapture(m.events(), state.url));
  }

  async function importFile(file: File): Promise<void> {
    try {
      const result = importCapture(await file.text());
      const m = new CaptureModel(capacity);
      m.setFilter(filter);
      m.ingest(result.events);
      imported = { model: m, name: `${file.name} (${formatCount(result.events.length)} events${result.kind === 'har' ? ' from HAR' : ''})` };
      selected = undefined;
      notice = undefined;
    } catch (err) {
      notice = { text: `Could not import ${file.name}: ${err instanceof Error ? err.message : String(err)}`, tone: 'error' };
    }
    renderedVersion = -1;
    render();
  }

  function backToLive(): void {
    imported = undefined;
    selected = undefined;
    renderedVersion = -1;
    render();
  }

  fileInput.addEventListener('change', () => {
    const file = fileInput.files?.[0];
    fileInput.value = '';
    if (file !== undefined) void importFile(file);
  });
  panel.addEventListener('dragover', (e) => e.preventDefault());
  panel.addEventListener('drop', (e) => {
    const file = e.dataTransfer?.files[0];
    if (file === undefined) return;
    e.preventDefault();
    void importFile(file);
  });
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !composer.hidden) closeComposer();
    if (tab !== 'messages' || (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') || e.target !== log.element) return;
    e.preventDefault();
    const m = model();
    let index = -1;
    if (selected !== undefined) for (let i = m.viewSize - 1; i >= 0; i--) if (m.viewAt(i) === selected) { index = i; break; }
    const next = Math.min(m.viewSize - 1, Math.max(0, index + (e.key === 'ArrowDown' ? 1 : -1)));
    const entry = m.viewAt(next);
    if (entry !== undefined) {
      select(entry);
      log.reveal(next);
    }
  });

  // Rates decay while nothing arrives: refresh the table once a second.
  const ticker = setInterval(() => {
    if (imported === undefined && live.channels.size > 0) renderChannels(live);
  }, 1000);

  const stop = source.connect({
    events(events) {
      if (paused) {
        held.push(...events);
        if (held.length > capacity) held.splice(0, held.length - capacity);
      } else live.ingest(events);
      requestRender();
    },
    reset() {
      held = [];
      selected = imported === undefined ? undefined : selected;
      const next = new CaptureModel(capacity);
      next.setFilter(filter);
      live = next;
      renderedVersion = -1;
      requestRender();
    },
    state(next) {
      state = source.capture === undefined ? { ...next, capture: 'unavailable' } : next;
      requestRender();
    },
  });

  setFilter(NO_FILTER);

  return {
    flush(): void {
      render();
    },
    unmount(): void {
      stop();
      clearInterval(ticker);
      media?.removeEventListener('change', onMedia);
      panel.remove();
    },
  };
}
