/**
 * A first-in, first-out queue whose `shift` is O(1) and gives its slot back:
 * an array with a moving head, compacted once half of it is spent. The
 * history of a channel (memory engine) and the events a stream owes its
 * client are each one.
 */
export class Deque<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The `index`-th item from the oldest (0), without taking it. */
  at(index: number): T | undefined {
    return index < 0 ? undefined : this.items[this.head + index];
  }

  /** Takes the oldest item. */
  shift(): T | undefined {
    const item = this.items[this.head];
    if (item === undefined) return undefined;
    this.items[this.head++] = undefined; // released now
    if (this.head === this.items.length) this.clear();
    else if (this.head >= 64 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}
