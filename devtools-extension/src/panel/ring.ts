/**
 * A fixed-capacity ring buffer: the panel's log keeps the newest `capacity`
 * records in O(1) per push, however long the capture runs.
 * @packageDocumentation
 */

/** A ring of the newest `capacity` items; each has a number, increasing from 0. */
export class Ring<T> {
  readonly #items: (T | undefined)[];
  #start = 0;
  #size = 0;
  /** Number of the next item pushed. */
  #next = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    this.#items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Number of the oldest item kept. */
  get first(): number {
    return this.#next - this.#size;
  }

  /** Number the next item will get. */
  get next(): number {
    return this.#next;
  }

  /** Adds an item; returns its number. The oldest is dropped when full. */
  push(item: T): number {
    if (this.#size < this.capacity) {
      this.#items[(this.#start + this.#size) % this.capacity] = item;
      this.#size++;
    } else {
      this.#items[this.#start] = item;
      this.#start = (this.#start + 1) % this.capacity;
    }
    return this.#next++;
  }

  /** The item numbered `n`, if still kept. */
  get(n: number): T | undefined {
    const offset = n - this.first;
    if (offset < 0 || offset >= this.#size) return undefined;
    return this.#items[(this.#start + offset) % this.capacity];
  }

  /** Every item kept, oldest first. */
  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.#size; i++) out.push(this.#items[(this.#start + i) % this.capacity] as T);
    return out;
  }

  clear(): void {
    this.#items.fill(undefined);
    this.#start = 0;
    this.#size = 0;
  }
}
