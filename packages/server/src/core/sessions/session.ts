/**
 * The resumable session: what outlives a socket. A `hello` opens one (new, or
 * the one it names: a resume) and attaches it to its socket; the socket may
 * drop and a later socket (on this node or, with a shared store, any node)
 * resume it within `limits.sessionTtlMs`.
 *
 * ```
 *   socket 1 ──hello──▶ attached ──socket drops──▶ detached ──hello{session}──▶ attached (socket 2)
 *                                                     │  sessionTtlMs, or maxDetachedSessions exceeded
 *                                                     ▼
 *                                                  ended: running requests aborted, memory freed
 * ```
 *
 * What a resume needs (the id, the principal, the dedupe window, the reply
 * cache, the answers owed, the `received` count) is the session's; what runs
 * here (handlers, their `AbortSignal`s, the socket) stays on this node. The
 * lookups a resumed socket makes are `Awaitable`, so a store that keeps
 * sessions elsewhere (Redis) can answer them asynchronously; the updates are
 * not awaited: a shared store writes them in order and has them all written
 * before another node can take the session over (see {@link SessionStore}).
 */
import type { Awaitable } from '../../engines/engine.js';
import { ENTRY_OVERHEAD, heldBytes } from '../../engines/encoded.js';
import type { Limits } from '../../limits.js';
import { Answers, DedupeWindow, type Seen } from './dedupe.js';
import type { PendingRequest } from './requests.js';

/** What a running request counts for in its session's bytes (the handler's own memory is the app's). */
export const PENDING_REQUEST_BYTES = 1024;

/**
 * How a memory session stays within its bytes: told every change of its
 * size, the store keeps the total bounded and answers how many bytes this
 * session may hold now (`limits.sessionBytes`, less when the server-wide
 * `limits.sessionTotalBytes` is reached). One per store, not a closure per
 * session; it carries the windows' limits too, one field less per session.
 */
export interface SessionBudget<P> {
  /** The dedupe window and reply cache sizes of every session. */
  readonly limits: Pick<Limits, 'dedupeWindow' | 'replyCacheSize'>;
  resized(session: MemorySession<P>, delta: number, size: number): number;
}

/** The socket a session is attached to: where its answers go. */
export interface SessionSocket {
  /** Queues one encoded server envelope on this socket. */
  enqueue(envelope: string): void;
  /** Another socket took the session over (a resuming hello): this one is dropped. */
  superseded(): void;
}

/** A session as the socket handling its frames sees it. */
export interface Session<P> {
  /** 128 random bits, base64url: what a resuming hello presents. */
  readonly id: string;
  /** What `authenticate` returned for the socket that opened it; a resume needs the same one. */
  readonly principal: P;
  /** `message` envelopes of this session taken so far, over every socket: what receipts and the resuming welcome report. */
  readonly received: number;
  /** One more `message` envelope was taken; returns the new count. */
  take(): number;
  /** Whether message `id` was seen (dedupe, PROTOCOL.md 6.4): its handler runs (on any node), it was answered, or it is new. */
  seen(id: number): Awaitable<Seen>;
  /** Message `id`'s handler starts. */
  started(id: number): void;
  /** Message `id` was handled: `answer` is remembered within the dedupe window and sent. */
  finished(id: number, answer: string): void;
  /**
   * Whether request `id` was seen: its handler runs (here, or on another
   * node), it was answered (the remembered reply), or it is new.
   */
  reply(id: number): Awaitable<Seen>;
  /** Request `id`'s handler starts on this node (it is in {@link requests}). */
  requestStarted(id: number): void;
  /** Request `id` was answered: `answer` is remembered (bounded) and sent. */
  replied(id: number, answer: string): void;
  /** A `cancel`: aborts request `id` wherever its handler runs, and forgets it. Unknown ids are ignored. */
  cancel(id: number): void;
  /** Requests whose handler runs on this node, by id. */
  readonly requests: Map<number, PendingRequest>;
  /** Sends an answer to the attached socket, or keeps it for the resuming one. */
  send(envelope: string): void;
  /** Takes the answers that completed while detached (sent after the resuming welcome). */
  drain(): Awaitable<readonly string[]>;
}

/**
 * A session kept in this process. Every collection is created on first use:
 * an idle session holds none, which keeps the per-connection memory close to
 * a bare socket's. What it holds is counted in bytes (the encoded answers,
 * 64 B per entry, 1 KiB per running request); beyond what its budget allows
 * the oldest remembered answers go: replies first, then handled message ids,
 * then answers kept for a resume (a re-sent duplicate then runs again).
 */
export class MemorySession<P> implements Session<P> {
  /** The socket the session is attached to (undefined: detached). */
  attached: SessionSocket | undefined;
  received = 0;
  /** The timer that forgets a detached session. */
  expiry: NodeJS.Timeout | undefined;
  /** The size last told to the budget. */
  held = 0;
  private dedupe: DedupeWindow | undefined;
  private runningRequests: Map<number, PendingRequest> | undefined;
  /** Answered request ids → the encoded response or request-error, oldest first. */
  private replies: Answers | undefined;
  /** Answers completed while detached, sent after the resuming welcome, with what each holds. */
  private undelivered: { readonly envelope: string; readonly cost: number }[] | undefined;
  private undeliveredBytes = 0;

  constructor(
    readonly id: string,
    readonly principal: P,
    private readonly budget: SessionBudget<P>,
  ) {}

  /** Bytes the session holds: its remembered answers, the answers kept for a resume, its running requests. */
  get size(): number {
    return (this.dedupe?.bytes ?? 0) + (this.replies?.bytes ?? 0) + this.undeliveredBytes + (this.runningRequests?.size ?? 0) * PENDING_REQUEST_BYTES;
  }

  get requests(): Map<number, PendingRequest> {
    return (this.runningRequests ??= new Map());
  }

  take(): number {
    return ++this.received;
  }

  seen(id: number): Seen {
    return this.dedupe?.seen(id);
  }

  started(id: number): void {
    (this.dedupe ??= new DedupeWindow(this.budget.limits.dedupeWindow)).started(id);
    this.account();
  }

  finished(id: number, answer: string): void {
    (this.dedupe ??= new DedupeWindow(this.budget.limits.dedupeWindow)).finished(id, answer);
    this.account();
    this.send(answer);
  }

  reply(id: number): Seen {
    if (this.runningRequests?.has(id) === true) return 'running';
    const answer = this.replies?.get(id);
    return answer === undefined ? undefined : { answer };
  }

  requestStarted(): void {
    // One process: the running request is in `requests` already; it counts from now.
    this.account();
  }

  cancel(id: number): void {
    const pending = this.runningRequests?.get(id);
    this.runningRequests?.delete(id);
    pending?.abort();
    this.account();
  }

  replied(id: number, answer: string): void {
    this.runningRequests?.delete(id);
    (this.replies ??= new Answers(this.budget.limits.replyCacheSize)).set(id, answer);
    this.account();
    this.send(answer);
  }

  send(envelope: string): void {
    if (this.attached !== undefined) {
      this.attached.enqueue(envelope);
      return;
    }
    // The client re-sends what it has not seen answered, so an answer dropped here is answered again.
    const undelivered = (this.undelivered ??= []);
    const cost = heldBytes(envelope) + ENTRY_OVERHEAD;
    undelivered.push({ envelope, cost });
    this.undeliveredBytes += cost;
    if (undelivered.length > this.budget.limits.dedupeWindow) this.dropUndelivered();
    this.account();
  }

  drain(): readonly string[] {
    const pending = (this.undelivered ?? []).map((u) => u.envelope);
    this.undelivered = undefined;
    this.undeliveredBytes = 0;
    this.account();
    return pending;
  }

  /** The session ends for good: running requests are aborted, nothing is kept for a resume. Returns the bytes it held. */
  end(): number {
    clearTimeout(this.expiry);
    this.expiry = undefined;
    this.attached = undefined;
    for (const pending of this.runningRequests?.values() ?? []) pending.abort();
    this.runningRequests = undefined;
    this.dedupe?.stop();
    this.dedupe = undefined;
    this.replies = undefined;
    this.undelivered = undefined;
    this.undeliveredBytes = 0;
    const held = this.held;
    this.held = 0;
    return held;
  }

  /** Tells the budget the session's size, and gives back what it does not allow: the oldest answers first. */
  private account(): void {
    let size = this.size;
    const allowed = this.budget.resized(this, size - this.held, size);
    this.held = size;
    if (size <= allowed) return;
    while (size > allowed) {
      const freed = this.dropOldest();
      if (freed === 0) break; // what is left runs (requests, message handlers): it cannot be dropped
      size -= freed;
    }
    this.budget.resized(this, size - this.held, size);
    this.held = size;
  }

  /** Forgets the oldest remembered answer: a reply, else a handled message id, else an answer kept for a resume. */
  private dropOldest(): number {
    const reply = this.replies?.dropOldest() ?? 0;
    if (reply > 0) return reply;
    const handled = this.dedupe?.dropOldest() ?? 0;
    return handled > 0 ? handled : this.dropUndelivered();
  }

  private dropUndelivered(): number {
    const oldest = this.undelivered?.shift();
    if (oldest === undefined) return 0;
    this.undeliveredBytes -= oldest.cost;
    return oldest.cost;
  }
}
