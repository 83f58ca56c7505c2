/** A message waiting in the offline buffer, already encoded. @internal */
export interface BufferedMessage {
  /** `'message'`: counted by the server's receipts; `'request'`: answered by a response. */
  readonly kind: 'message' | 'request';
  readonly channel: string;
  /** The encoded frame: a text envelope or a binary frame. */
  readonly wire: string | Uint8Array;
  /** Size counted against `maxBytes` (UTF-16 units for text, bytes for binary). */
  readonly bytes: number;
  /** The frame's id when it waits for an ack or a response. */
  readonly id?: number;
}

/** What happens when the offline buffer is full. */
export type OverflowPolicy = 'drop-oldest' | 'error';

/** Bounds of the offline buffer. */
export interface BufferOptions {
  /** Most messages held while not open. Default 100. */
  readonly maxMessages: number;
  /** Most bytes held while not open. Default 1 MiB. */
  readonly maxBytes: number;
  /** `'drop-oldest'` (default; reported on `dropped$`) or `'error'` (the send throws `BufferFullError`). */
  readonly overflow: OverflowPolicy;
}

/** Defaults of {@link BufferOptions}: 100 messages, 1 MiB, drop-oldest. @internal */
export const DEFAULT_BUFFER: BufferOptions = Object.freeze({ maxMessages: 100, maxBytes: 1024 * 1024, overflow: 'drop-oldest' });

/**
 * A bounded FIFO of encoded messages. `push` returns what had to be evicted
 * to make room (drop-oldest), or a description of the violated bound
 * (error policy, nothing changed); the caller reports either.
 * @internal
 */
export class OfflineBuffer {
  #items: BufferedMessage[] = [];
  #bytes = 0;

  constructor(private readonly options: BufferOptions) {}

  get size(): number {
    return this.#items.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  push(item: BufferedMessage): { readonly evicted: BufferedMessage[] } | { readonly refused: string } {
    const { maxMessages, maxBytes, overflow } = this.options;
    if (item.bytes > maxBytes) return { refused: `message of ${item.bytes} bytes exceeds maxBytes ${maxBytes}` };
    const fits = (): boolean => this.#items.length < maxMessages && this.#bytes + item.bytes <= maxBytes;
    if (!fits() && overflow === 'error') {
      return { refused: `${this.#items.length}/${maxMessages} messages, ${this.#bytes}/${maxBytes} bytes` };
    }
    const evicted: BufferedMessage[] = [];
    while (!fits()) {
      const oldest = this.#items.shift() as BufferedMessage;
      this.#bytes -= oldest.bytes;
      evicted.push(oldest);
    }
    this.#items.push(item);
    this.#bytes += item.bytes;
    return { evicted };
  }

  /** Removes the message with this id, if it is still waiting. */
  remove(id: number): void {
    const index = this.#items.findIndex((item) => item.id === id);
    if (index < 0) return;
    const [item] = this.#items.splice(index, 1);
    this.#bytes -= (item as BufferedMessage).bytes;
  }

  /**
   * Hands messages to `take`, oldest first, until it returns false; removes
   * the ones it took. A message `skip` says must wait (its channel has a
   * chunked transfer under way) keeps its place, and so do the later
   * messages of its channel; the others go on past it.
   */
  takeWhile(take: (item: BufferedMessage) => boolean, skip?: (channel: string) => boolean): void {
    const items = this.#items;
    let held: Set<string> | undefined;
    let kept: BufferedMessage[] | undefined;
    let i = 0;
    for (; i < items.length; i++) {
      const item = items[i] as BufferedMessage;
      if (held?.has(item.channel) === true || skip?.(item.channel) === true) {
        (held ??= new Set()).add(item.channel);
        (kept ??= []).push(item);
        continue;
      }
      if (!take(item)) break;
      this.#bytes -= item.bytes;
    }
    if (kept === undefined && i === 0) return;
    this.#items = kept === undefined ? items.slice(i) : [...kept, ...items.slice(i)];
  }

  /** Removes and returns everything, oldest first. */
  drain(): BufferedMessage[] {
    const items = this.#items;
    this.#items = [];
    this.#bytes = 0;
    return items;
  }
}
