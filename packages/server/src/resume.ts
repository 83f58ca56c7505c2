/**
 * What outlives a socket: a session's id, the ids of the client messages it
 * handled (to drop duplicates), its running and answered requests, and the
 * answers that completed while no socket was attached.
 *
 * ```
 *   socket 1 ──hello──▶ attached ──socket drops──▶ detached ──hello{session}──▶ attached (socket 2)
 *                                                     │  sessionTtlMs, or maxDetachedSessions exceeded
 *                                                     ▼
 *                                                  expired: running requests aborted, memory freed
 * ```
 *
 * A socket that closes with 1000 (the client's `close()`) ends its session at
 * once: nobody will resume it.
 */
import { randomBytes } from 'node:crypto';
import type { Limits } from './limits.js';

/** The socket a session is attached to: where its answers go. */
export interface Attachment {
  /** Queues one encoded server envelope on this socket. */
  enqueue(envelope: string): void;
  /** Another socket took the session over (a resuming hello): this one is dropped. */
  superseded(): void;
}

/** What a message id's duplicate gets: nothing yet (its handler runs), or the answer it got. */
export type Seen = 'running' | { readonly answer: string } | undefined;

/**
 * A request whose handler is running. Its `AbortSignal` is created only when
 * the handler reads `ctx.signal` (an `AbortController` costs microseconds, and
 * most handlers never look at it); a cancel before that is remembered.
 */
export class PendingRequest {
  #controller: AbortController | undefined;
  #aborted = false;

  /** Whether the client cancelled the request or the session ended. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** The signal handed to the handler as `ctx.signal`. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort();
    }
    return this.#controller.signal;
  }

  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#controller?.abort();
  }
}

/** The session state that survives socket drops. */
export class SessionMemory<P> {
  attached: Attachment | undefined;
  /** `message` envelopes of this session taken so far, over every socket: what receipts and the resuming welcome report. */
  received = 0;
  // Every collection is created on first use: an idle session (most of them) holds none,
  // which keeps the per-connection memory close to a bare socket's.
  /** Handled message ids → the envelope that answered them (ack or error), oldest first. */
  private handled: Map<number, string> | undefined;
  /** Message ids whose handler is still running. */
  private running: Set<number> | undefined;
  /** Requests whose handler is still running. */
  private runningRequests: Map<number, PendingRequest> | undefined;
  /** Answered request ids → the encoded response or request-error, oldest first. */
  private replies: Map<number, string> | undefined;
  /** Answers completed while detached, sent after the resuming welcome. */
  private undelivered: string[] | undefined;
  expiry: NodeJS.Timeout | undefined;

  /** Requests whose handler is still running, by id. */
  get requests(): Map<number, PendingRequest> {
    return (this.runningRequests ??= new Map());
  }

  constructor(
    readonly id: string,
    readonly principal: P,
    private readonly limits: Pick<Limits, 'dedupeWindow' | 'replyCacheSize'>,
  ) {}

  /** Whether message `id` was seen: running, answered (with the answer to repeat), or new. */
  message(id: number): Seen {
    if (this.running?.has(id) === true) return 'running';
    const answer = this.handled?.get(id);
    return answer === undefined ? undefined : { answer };
  }

  /** Message `id`'s handler starts. */
  started(id: number): void {
    (this.running ??= new Set()).add(id);
  }

  /** Message `id` was handled (`answer`: its ack or error envelope); remembered within the window, and sent. */
  finished(id: number, answer: string): void {
    this.running?.delete(id);
    const handled = (this.handled ??= new Map());
    handled.set(id, answer);
    if (handled.size > this.limits.dedupeWindow) handled.delete(handled.keys().next().value as number);
    this.send(answer);
  }

  /** Request `id` was answered: the reply is remembered (bounded) and sent. */
  replied(id: number, answer: string): void {
    this.runningRequests?.delete(id);
    const replies = (this.replies ??= new Map());
    replies.set(id, answer);
    if (replies.size > this.limits.replyCacheSize) replies.delete(replies.keys().next().value as number);
    this.send(answer);
  }

  /** The remembered reply of request `id`, if it was answered and not forgotten. */
  reply(id: number): string | undefined {
    return this.replies?.get(id);
  }

  /** Sends an answer to the attached socket, or keeps it for the resuming one (bounded by the dedupe window). */
  send(envelope: string): void {
    if (this.attached !== undefined) {
      this.attached.enqueue(envelope);
      return;
    }
    // The client re-sends what it has not seen answered, so an answer dropped here is answered again.
    const undelivered = (this.undelivered ??= []);
    if (undelivered.push(envelope) > this.limits.dedupeWindow) undelivered.shift();
  }

  /** Takes the answers that completed while detached (the resuming socket sends them after its welcome). */
  drain(): string[] {
    const pending = this.undelivered ?? [];
    this.undelivered = undefined;
    return pending;
  }

  /** The session ends for good: running requests are aborted. */
  end(): void {
    clearTimeout(this.expiry);
    this.expiry = undefined;
    this.attached = undefined;
    for (const pending of this.runningRequests?.values() ?? []) pending.abort();
    this.runningRequests = undefined;
    this.running = undefined;
    this.undelivered = undefined;
  }
}

/**
 * Every session of a server, attached or detached. Detached sessions are kept
 * for `limits.sessionTtlMs`, at most `limits.maxDetachedSessions` of them
 * (the oldest detached is forgotten first).
 */
export class SessionStore<P> {
  private readonly sessions = new Map<string, SessionMemory<P>>();
  /** Detached sessions, oldest first. */
  private readonly detached = new Set<SessionMemory<P>>();

  constructor(private readonly limits: Limits) {}

  /** Detached sessions kept right now. */
  get detachedCount(): number {
    return this.detached.size;
  }

  /**
   * A hello arrived on `attachment`. Resumes the session it names when that
   * exists and belongs to the same principal (taking it over from a socket
   * that still holds it), otherwise starts a new one.
   */
  attach(attachment: Attachment, principal: P, name: string | undefined): { memory: SessionMemory<P>; resumed: boolean } {
    const known = name === undefined ? undefined : this.sessions.get(name);
    if (known !== undefined && samePrincipal(known.principal, principal)) {
      this.detached.delete(known);
      clearTimeout(known.expiry);
      known.expiry = undefined;
      const previous = known.attached;
      known.attached = undefined;
      previous?.superseded();
      known.attached = attachment;
      return { memory: known, resumed: true };
    }
    // 128 random bits: the session id is what a resuming hello presents.
    const memory = new SessionMemory<P>(randomBytes(16).toString('base64url'), principal, this.limits);
    this.sessions.set(memory.id, memory);
    memory.attached = attachment;
    return { memory, resumed: false };
  }

  /** `attachment`'s socket is gone: keep its session for a resume, or end it (`keep` false). */
  detach(memory: SessionMemory<P>, attachment: Attachment, keep: boolean): void {
    if (memory.attached !== attachment) return; // taken over by another socket already
    memory.attached = undefined;
    if (!keep) return this.end(memory);
    this.detached.add(memory);
    memory.expiry = setTimeout(() => this.end(memory), this.limits.sessionTtlMs);
    memory.expiry.unref();
    while (this.detached.size > this.limits.maxDetachedSessions) {
      const oldest = this.detached.values().next().value;
      if (oldest === undefined) break;
      this.end(oldest);
    }
  }

  /** Ends every session (server shutdown). */
  clear(): void {
    for (const memory of [...this.sessions.values()]) this.end(memory);
  }

  private end(memory: SessionMemory<P>): void {
    this.detached.delete(memory);
    if (this.sessions.get(memory.id) === memory) this.sessions.delete(memory.id);
    memory.end();
  }
}

/** Whether a resuming socket's principal is the session's: identical, or equal as JSON. */
function samePrincipal(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  try {
    return JSON.stringify(a) === JSON.stringify(b);
  } catch {
    return false;
  }
}
