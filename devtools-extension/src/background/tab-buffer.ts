/**
 * A bounded per-tab buffer of debug events that survives the service worker
 * being stopped: kept in memory, mirrored to `storage.session` in chunks.
 *
 * ```
 *  storage.session
 *    rxmux:tab:12            { epoch, first, next, doc, url, capture }   (meta)
 *    rxmux:tab:12:<epoch>:3  [events 600..799]                           (chunk 3 of 200 events)
 *    rxmux:tab:12:<epoch>:4  [events 800..]                              (the chunk being filled)
 * ```
 * Appends mark their chunk dirty; a flush, at most one per `flushDelay`,
 * writes the meta and the dirty chunks in one `set` and removes evicted
 * chunks. Only the newest chunk is rewritten as it fills, so a busy page costs
 * one small write per flush, not a rewrite of the whole buffer.
 * @packageDocumentation
 */
import type { DebugEvent } from '@rxmux/core/debug';
import { isDebugEvent } from '../messaging/events.js';
import { isRecord, isShortString, isUint } from '../messaging/guards.js';

/** The part of `storage.session` the buffer uses (a fake in tests). */
export interface StorageAreaLike {
  get(keys: string | string[]): Promise<Record<string, unknown>>;
  set(items: Record<string, unknown>): Promise<void>;
  remove(keys: string | string[]): Promise<void>;
}

/** Events per stored chunk. */
export const CHUNK_EVENTS = 200;
/** Events kept per tab by default. */
export const DEFAULT_TAB_CAPACITY = 5000;

/** What is stored about a tab besides its events. */
export interface TabMeta {
  /** Changes when the buffer restarts (navigation, clear): event numbers restart from 0. */
  readonly epoch: string;
  /** Number of the oldest event kept. */
  readonly first: number;
  /** Number the next event gets. */
  readonly next: number;
  /** The document whose content script last said hello. */
  readonly doc?: string;
  readonly url?: string;
  /** Whether a debugger capture was running. */
  readonly capture: boolean;
}

function isTabMeta(value: unknown): value is TabMeta {
  return isRecord(value) && isShortString(value.epoch, 64) && isUint(value.first) && isUint(value.next) && value.first <= value.next && typeof value.capture === 'boolean';
}

const metaKey = (tabId: number): string => `rxmux:tab:${tabId}`;
const chunkKey = (tabId: number, epoch: string, chunk: number): string => `rxmux:tab:${tabId}:${epoch}:${chunk}`;
const newEpoch = (): string => crypto.randomUUID().slice(0, 8);

/** One tab's events, numbered from `first` to `next - 1`. */
export class TabBuffer {
  #meta: TabMeta;
  #events: DebugEvent[];
  readonly #dirty = new Set<number>();
  readonly #evicted = new Set<string>();
  #metaDirty = false;

  private constructor(
    readonly tabId: number,
    meta: TabMeta,
    events: DebugEvent[],
    private readonly capacity: number,
  ) {
    this.#meta = meta;
    this.#events = events;
  }

  /** An empty buffer for a tab nothing is stored for. */
  static empty(tabId: number, capacity = DEFAULT_TAB_CAPACITY): TabBuffer {
    const buffer = new TabBuffer(tabId, { epoch: newEpoch(), first: 0, next: 0, capture: false }, [], capacity);
    buffer.#metaDirty = true;
    return buffer;
  }

  /** Reads a tab's buffer back from storage (after the worker restarted), or starts an empty one. */
  static async load(storage: StorageAreaLike, tabId: number, capacity = DEFAULT_TAB_CAPACITY): Promise<TabBuffer> {
    const stored = (await storage.get(metaKey(tabId)))[metaKey(tabId)];
    if (!isTabMeta(stored)) return TabBuffer.empty(tabId, capacity);
    const chunks: string[] = [];
    for (let c = Math.floor(stored.first / CHUNK_EVENTS); c * CHUNK_EVENTS < stored.next; c++) chunks.push(chunkKey(tabId, stored.epoch, c));
    const items = chunks.length === 0 ? {} : await storage.get(chunks);
    // Meta and dirty chunks are written by one set(), so they agree as of the last flush.
    const all: DebugEvent[] = [];
    for (const key of chunks) {
      const chunk = items[key];
      if (!Array.isArray(chunk)) break; // a failed write loses the tail, never the order
      all.push(...chunk.filter(isDebugEvent));
    }
    const first = stored.first;
    const events = all.slice(first - Math.floor(first / CHUNK_EVENTS) * CHUNK_EVENTS);
    const next = first + events.length;
    return new TabBuffer(tabId, { ...stored, first, next }, events, capacity);
  }

  get meta(): TabMeta {
    return this.#meta;
  }

  /** Events numbered `from` (default: the oldest kept) onwards. */
  eventsFrom(from = this.#meta.first): DebugEvent[] {
    return this.#events.slice(Math.max(0, from - this.#meta.first));
  }

  /** Appends events; returns the number of the first one. */
  append(events: readonly DebugEvent[]): number {
    const start = this.#meta.next;
    for (let i = 0; i < events.length; i++) this.#dirty.add(Math.floor((start + i) / CHUNK_EVENTS));
    this.#events.push(...events);
    let first = this.#meta.first;
    const next = start + events.length;
    if (next - first > this.capacity) {
      // Evict whole chunks so every stored chunk key stays aligned.
      const keepFrom = Math.floor((next - this.capacity) / CHUNK_EVENTS) * CHUNK_EVENTS;
      for (let c = Math.floor(first / CHUNK_EVENTS); c < keepFrom / CHUNK_EVENTS; c++) {
        this.#evicted.add(chunkKey(this.tabId, this.#meta.epoch, c));
        this.#dirty.delete(c);
      }
      this.#events = this.#events.slice(keepFrom - first);
      first = keepFrom;
    }
    this.#meta = { ...this.#meta, first, next };
    this.#metaDirty = true;
    return start;
  }

  /** Starts a new epoch with no events (navigation, clear). */
  reset(changes: Partial<Pick<TabMeta, 'doc' | 'url' | 'capture'>> = {}): void {
    for (let c = Math.floor(this.#meta.first / CHUNK_EVENTS); c * CHUNK_EVENTS < this.#meta.next; c++) this.#evicted.add(chunkKey(this.tabId, this.#meta.epoch, c));
    this.#dirty.clear();
    this.#events = [];
    this.#meta = { ...this.#meta, ...changes, epoch: newEpoch(), first: 0, next: 0 };
    this.#metaDirty = true;
  }

  /** Changes the meta fields that are not about events. */
  update(changes: Partial<Pick<TabMeta, 'doc' | 'url' | 'capture'>>): void {
    this.#meta = { ...this.#meta, ...changes };
    this.#metaDirty = true;
  }

  /** Whether a flush has something to write. */
  get dirty(): boolean {
    return this.#metaDirty || this.#dirty.size > 0 || this.#evicted.size > 0;
  }

  /** What a flush writes and removes; clears the dirty marks. */
  takeWrites(): { readonly set: Record<string, unknown>; readonly remove: string[] } {
    const set: Record<string, unknown> = {};
    if (this.#metaDirty) set[metaKey(this.tabId)] = this.#meta;
    for (const c of this.#dirty) {
      const from = Math.max(c * CHUNK_EVENTS, this.#meta.first) - this.#meta.first;
      set[chunkKey(this.tabId, this.#meta.epoch, c)] = this.#events.slice(from, (c + 1) * CHUNK_EVENTS - this.#meta.first);
    }
    const remove = [...this.#evicted];
    this.#dirty.clear();
    this.#evicted.clear();
    this.#metaDirty = false;
    return { set, remove };
  }

  /** Every storage key of this tab, to remove it for good (tab closed). */
  keys(): string[] {
    const keys = [metaKey(this.tabId)];
    for (let c = Math.floor(this.#meta.first / CHUNK_EVENTS); c * CHUNK_EVENTS < this.#meta.next; c++) keys.push(chunkKey(this.tabId, this.#meta.epoch, c));
    return keys;
  }
}
