/**
 * The in-browser half of `panel-load-chromium.ts`: mounts the panel as a
 * plain page (real layout, real `requestAnimationFrame`) fed by a fake
 * source, streams 100,000 frames in batches, one batch per task as ports
 * deliver them, and leaves its figures on `window.benchResult`.
 */
import type { DebugEvent } from '@rxmux/core/debug';
import { mountPanel } from '../src/panel/panel.js';
import type { PanelSink } from '../src/panel/source.js';
import '../src/panel/panel.css';
import { flood, session } from '../test/fixtures/traffic.js';

/** What the harness measures. */
export interface BenchResult {
  readonly events: number;
  readonly streamMs: number;
  readonly frames: number;
  readonly longTasks: number;
  readonly longestTaskMs: number;
  readonly domRows: number;
  readonly filterMs: number;
  readonly scrollFrameMs: number;
  readonly heapMB: number | undefined;
}

const BATCH = 500;
const nextTask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));
const nextFrame = (): Promise<number> => new Promise((resolve) => requestAnimationFrame(resolve));

async function run(): Promise<BenchResult> {
  const total = Number(new URLSearchParams(location.search).get('frames') ?? 100_000);
  const events: DebugEvent[] = [...session(), ...flood(total, 8)];
  let sink: PanelSink | undefined;
  mountPanel(document.getElementById('app') as HTMLElement, { connect: (s) => ((sink = s), () => undefined) }, { theme: 'light' });

  const tasks: number[] = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) tasks.push(entry.duration);
  }).observe({ type: 'longtask', buffered: false });
  let frames = 0;
  let counting = true;
  const count = (): void => {
    frames++;
    if (counting) requestAnimationFrame(count);
  };
  requestAnimationFrame(count);

  const start = performance.now();
  for (let i = 0; i < events.length; i += BATCH) {
    sink?.events(events.slice(i, i + BATCH));
    await nextTask();
  }
  await nextFrame();
  await nextFrame();
  const streamMs = performance.now() - start;
  counting = false;

  const select = document.querySelector('select[aria-label="Channel"]') as HTMLSelectElement;
  const filterStart = performance.now();
  select.value = 'ch-5';
  select.dispatchEvent(new Event('change'));
  await nextFrame();
  const filterMs = performance.now() - filterStart;

  const list = document.querySelector('.vlist') as HTMLElement;
  const scrollStart = performance.now();
  for (let step = 0; step < 60; step++) {
    list.scrollTop = step * 2000;
    await nextFrame();
  }
  const scrollFrameMs = (performance.now() - scrollStart) / 60;

  const memory = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory;
  return {
    events: events.length,
    streamMs,
    frames,
    longTasks: tasks.length,
    longestTaskMs: Math.max(0, ...tasks),
    domRows: document.querySelectorAll('.vlist .log-row').length,
    filterMs,
    scrollFrameMs,
    heapMB: memory === undefined ? undefined : memory.usedJSHeapSize / 1e6,
  };
}

(window as unknown as { benchResult: Promise<BenchResult> }).benchResult = run();
