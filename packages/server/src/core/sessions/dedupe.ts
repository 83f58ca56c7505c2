/**
 * Message dedupe: which client message ids of a session were handled (and
 * the answer each got), and which are still running. Duplicates of a handled
 * id get the same answer without running the handler again; duplicates of a
 * running one get nothing now (the answer follows when it finishes). Bounded
 * by `limits.dedupeWindow` ids, and by the session's bytes: an older
 * duplicate runs again (PROTOCOL.md 6.4).
 */
import { ENTRY_OVERHEAD, heldBytes } from '../../engines/encoded.js';

/** What a message id's duplicate gets: nothing yet (its handler runs), the answer it got, or nothing known (new). */
export type Seen = 'running' | { readonly answer: string } | undefined;

/**
 * Encoded answers remembered by id, oldest first: at most `max` of them,
 * with the bytes they hold (`heldBytes` plus the entry overhead). The dedupe
 * window and the reply cache of a session are each one.
 */
export class Answers {
  private readonly map = new Map<number, { readonly answer: string; readonly cost: number }>();
  /** Bytes the remembered answers hold. */
  bytes = 0;

  constructor(private readonly max: number) {}

  get(id: number): string | undefined {
    return this.map.get(id)?.answer;
  }

  /** Remembers `answer` for `id` (beyond `max`, the oldest goes). Returns the change in bytes. */
  set(id: number, answer: string): number {
    const before = this.bytes;
    this.delete(id);
    const cost = heldBytes(answer) + ENTRY_OVERHEAD;
    this.map.set(id, { answer, cost });
    this.bytes += cost;
    while (this.map.size > this.max) this.dropOldest();
    return this.bytes - before;
  }

  /** Forgets the oldest answer; returns the bytes freed (0 when none is left). */
  dropOldest(): number {
    const oldest = this.map.keys().next();
    return oldest.done === true ? 0 : this.delete(oldest.value);
  }

  private delete(id: number): number {
    const entry = this.map.get(id);
    if (entry === undefined) return 0;
    this.map.delete(id);
    this.bytes -= entry.cost;
    return entry.cost;
  }
}

/** The dedupe window of one session. Collections are created on first use: most sessions never need them. */
export class DedupeWindow {
  /** Handled message ids → the envelope that answered them (ack or error), oldest first. */
  private handled: Answers | undefined;
  /** Message ids whose handler is still running. */
  private running: Set<number> | undefined;

  constructor(private readonly size: number) {}

  /** Bytes the window holds: the answers, and an entry's overhead per running id. */
  get bytes(): number {
    return (this.handled?.bytes ?? 0) + (this.running?.size ?? 0) * ENTRY_OVERHEAD;
  }

  /** Whether message `id` was seen: running, answered (with the answer to repeat), or new. */
  seen(id: number): Seen {
    if (this.running?.has(id) === true) return 'running';
    const answer = this.handled?.get(id);
    return answer === undefined ? undefined : { answer };
  }

  /** Message `id`'s handler starts. */
  started(id: number): void {
    (this.running ??= new Set()).add(id);
  }

  /** Message `id` was handled with `answer` (its ack or error envelope); remembered within the window. */
  finished(id: number, answer: string): void {
    this.running?.delete(id);
    (this.handled ??= new Answers(this.size)).set(id, answer);
  }

  /** Forgets the oldest handled id (its duplicate would run again); returns the bytes freed. */
  dropOldest(): number {
    return this.handled?.dropOldest() ?? 0;
  }

  /** The session ended: nothing runs for it any more. */
  stop(): void {
    this.running = undefined;
  }
}
