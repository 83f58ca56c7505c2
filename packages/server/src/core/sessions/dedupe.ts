/**
 * Message dedupe: which client message ids of a session were handled (and
 * the answer each got), and which are still running. Duplicates of a handled
 * id get the same answer without running the handler again; duplicates of a
 * running one get nothing now (the answer follows when it finishes). Bounded
 * by `limits.dedupeWindow` ids: an older duplicate runs again (PROTOCOL.md 6.4).
 */

/** What a message id's duplicate gets: nothing yet (its handler runs), the answer it got, or nothing known (new). */
export type Seen = 'running' | { readonly answer: string } | undefined;

/** Remembers `key → value` in an insertion-ordered map of at most `max` entries (the oldest goes first). */
export function remember<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value as K);
}

/** The dedupe window of one session. Collections are created on first use: most sessions never need them. */
export class DedupeWindow {
  /** Handled message ids → the envelope that answered them (ack or error), oldest first. */
  private handled: Map<number, string> | undefined;
  /** Message ids whose handler is still running. */
  private running: Set<number> | undefined;

  constructor(private readonly size: number) {}

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
    remember((this.handled ??= new Map()), id, answer, this.size);
  }

  /** The session ended: nothing runs for it any more. */
  stop(): void {
    this.running = undefined;
  }
}
