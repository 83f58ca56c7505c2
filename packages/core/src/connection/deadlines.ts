import type { SchedulerLike, Subscription } from 'rxjs';

/** One deadline: when it falls due, and what runs then. */
interface Deadline {
  readonly at: number;
  readonly fire: () => void;
}

/**
 * Many deadlines (the requests in flight) on one scheduler action, so a
 * request costs a `Map` entry instead of a timer armed and cleared (the
 * `timeout` operator's `setInterval`/`clearInterval` per request).
 *
 * The action waits for the earliest deadline it knows of. An answered
 * request is only forgotten: the action is not cancelled, and when it fires
 * with nothing due it looks for the next deadline (at most one look per
 * expired deadline of the first request it waited for), re-arms for it, or
 * stops when none is left. A deadline earlier than the armed one (a shorter
 * timeout) re-arms at once. {@link clear} cancels the action (the connection
 * closed).
 *
 * Deadlines fire at their exact time on the given scheduler (marble tests
 * see `timeout`'s timing).
 * @internal
 */
export class Deadlines<K> {
  readonly #due = new Map<K, Deadline>();
  #action: Subscription | undefined;
  #armedAt = Number.POSITIVE_INFINITY;

  constructor(private readonly scheduler: SchedulerLike) {}

  /** Runs `fire` in `ms` unless {@link delete}d first. */
  add(key: K, ms: number, fire: () => void): void {
    const at = this.scheduler.now() + ms;
    this.#due.set(key, { at, fire });
    if (at < this.#armedAt) this.#arm(at);
  }

  /** Forgets `key`'s deadline (its request was answered or cancelled). */
  delete(key: K): void {
    this.#due.delete(key);
  }

  /** Forgets every deadline and cancels the action. */
  clear(): void {
    this.#due.clear();
    this.#action?.unsubscribe();
    this.#action = undefined;
    this.#armedAt = Number.POSITIVE_INFINITY;
  }

  #arm(at: number): void {
    this.#action?.unsubscribe();
    this.#armedAt = at;
    this.#action = this.scheduler.schedule(() => this.#check(), Math.max(0, at - this.scheduler.now()));
  }

  #check(): void {
    this.#action = undefined;
    this.#armedAt = Number.POSITIVE_INFINITY;
    const now = this.scheduler.now();
    const due: Deadline[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const [key, deadline] of this.#due) {
      if (deadline.at <= now) {
        this.#due.delete(key);
        due.push(deadline);
      } else if (deadline.at < next) {
        next = deadline.at;
      }
    }
    if (next < Number.POSITIVE_INFINITY) this.#arm(next);
    for (const deadline of due) deadline.fire(); // last: a fire may add or delete deadlines
  }
}
