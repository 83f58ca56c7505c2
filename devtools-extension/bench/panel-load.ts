/**
 * How the panel copes with 100,000 captured frames: prints timings, asserts
 * nothing (the tests check correctness and the bounded DOM; timings belong
 * to a machine, not to a test).
 *
 *   npm run bench -w @rxmux/devtools-extension
 *
 * Runs in Node on happy-dom (no layout: the list assumes a 600 px viewport),
 * so figures are for the panel's own work: model, filter, and rendering the
 * rows in view, not the browser's paint.
 */
import { performance } from 'node:perf_hooks';
import { Window } from 'happy-dom';
import { CaptureModel } from '../src/panel/model.js';
import { mountPanel } from '../src/panel/panel.js';
import type { PanelSink } from '../src/panel/source.js';
import { flood, session } from '../test/fixtures/traffic.js';

const FRAMES = 100_000;
const BATCH = 500; // what the background sends per message at most

const window = new Window({ width: 1280, height: 720 });
Object.assign(globalThis, { document: window.document });

function time<T>(fn: () => T): [T, number] {
  const start = performance.now();
  const result = fn();
  return [result, performance.now() - start];
}

const row = (label: string, ms: number, extra = ''): void => console.log(`${label.padEnd(52)} ${ms.toFixed(1).padStart(9)} ms${extra ? `   ${extra}` : ''}`);

const events = [...session(), ...flood(FRAMES, 8)];
console.log(`rxmux DevTools panel bench: ${events.length.toLocaleString('en-US')} events, batches of ${BATCH}, Node ${process.version}\n`);

// 1. The model alone: ring push, channel stats, pairing.
{
  const model = new CaptureModel();
  const [, ms] = time(() => {
    for (let i = 0; i < events.length; i += BATCH) model.ingest(events.slice(i, i + BATCH));
  });
  row('model: ingest all', ms, `${((events.length / ms) * 1000).toLocaleString('en-US', { maximumFractionDigits: 0 })} events/s`);
  const [, filterMs] = time(() => model.setFilter({ channel: 'ch-3', dir: '', kind: '', text: '' }));
  row('model: filter by channel (full pass)', filterMs, `${model.viewSize.toLocaleString('en-US')} rows`);
  const [, textMs] = time(() => model.setFilter({ channel: '', dir: '', kind: '', text: 'item 9999' }));
  row('model: text filter, first time (builds search text)', textMs, `${model.viewSize.toLocaleString('en-US')} rows`);
  const [, textAgainMs] = time(() => model.setFilter({ channel: '', dir: '', kind: '', text: 'item 4242' }));
  row('model: text filter, again (cached)', textAgainMs, `${model.viewSize.toLocaleString('en-US')} rows`);
}

// 2. The mounted panel, rendering after every batch as a frame would.
{
  const root = document.createElement('div');
  document.body.append(root);
  let sink: PanelSink | undefined;
  const panel = mountPanel(root, { connect: (s) => ((sink = s), () => undefined) }, { theme: 'light', schedule: () => undefined });
  const renders: number[] = [];
  const [, ms] = time(() => {
    for (let i = 0; i < events.length; i += BATCH) {
      sink?.events(events.slice(i, i + BATCH));
      renders.push(time(() => panel.flush())[1]);
    }
  });
  renders.sort((a, b) => a - b);
  const pct = (p: number): number => renders[Math.min(renders.length - 1, Math.floor(renders.length * p))] ?? 0;
  row('panel: ingest + render per batch, total', ms, `${renders.length} renders`);
  row('panel: one render, median', pct(0.5));
  row('panel: one render, p95', pct(0.95));
  row('panel: one render, max', pct(1));
  console.log(`${'panel: log rows in the DOM'.padEnd(52)} ${String(root.querySelectorAll('.vlist .log-row').length).padStart(9)}`);
  const select = root.querySelector('select[aria-label="Channel"]') as unknown as HTMLSelectElement;
  const [, filterMs] = time(() => {
    select.value = 'ch-5';
    select.dispatchEvent(new window.Event('change') as unknown as Event);
  });
  row('panel: pick a channel (filter + render)', filterMs);
  const list = root.querySelector('.vlist') as HTMLElement;
  const [, scrollMs] = time(() => {
    for (let top = 0; top < 20_000; top += 400) {
      list.scrollTop = top;
      list.dispatchEvent(new window.Event('scroll') as unknown as Event);
    }
  });
  row('panel: 50 scroll steps', scrollMs, `${(scrollMs / 50).toFixed(2)} ms/step`);
  panel.unmount();
}

const heap = process.memoryUsage().heapUsed;
console.log(`\nheap used at the end: ${(heap / 1e6).toFixed(0)} MB`);
await window.happyDOM.close();
