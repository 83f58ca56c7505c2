/**
 * Where sessions live between sockets. The server asks the store at three
 * moments: a `hello` opens a session (new, or resumed by id), a socket goes
 * away (keep the session for a resume, or end it), the server shuts down.
 *
 * ```
 *   hello{session?} ──▶ open(name, principal, socket) ──▶ { session, resumed }   (may be asynchronous)
 *   socket gone     ──▶ detach(session, socket, keep)                            (fire and forget, reported)
 *   server.close()  ──▶ close()                                                  (awaited)
 * ```
 *
 * Every method may answer with a promise: a store that keeps sessions in
 * Redis (so a client resumes on any node) answers `open` after a round trip;
 * the socket holds the frames behind the `hello` until it has (they run in
 * order afterwards). {@link MemorySessionStore} answers synchronously.
 *
 * A shared store must keep "effectively once" across nodes: a session is
 * attached on one node at a time; taking it over from another node first
 * makes that node supersede its socket and write out everything the session
 * took (the `received` count, the dedupe window, the replies, the running
 * ids), so the resuming node sees every message as taken or not, never half.
 * Answers of handlers still running on the old node reach the session's new
 * socket (answers owed).
 */
import { randomBytes } from 'node:crypto';
import type { Awaitable } from '../../engines/engine.js';
import type { Limits } from '../../limits.js';
import { MemorySession, type Session, type SessionBudget, type SessionSocket } from './session.js';

/** What {@link SessionStore.open} answers. */
export interface OpenedSession<P> {
  readonly session: Session<P>;
  /** Whether the hello's session id named a session of the same principal, now attached to this socket. */
  readonly resumed: boolean;
}

/** What a store's sessions hold in this process. */
export interface SessionUsage {
  /** Bytes of every session: remembered answers, answers kept for a resume, running requests (1 KiB each). */
  readonly sessionBytes: number;
  /** Bytes of the largest session. */
  readonly largestSessionBytes: number;
}

/** The sessions of a server, attached and detached. */
export interface SessionStore<P> {
  /**
   * A hello arrived on `socket`. Resumes the session `name` names when it
   * exists and belongs to the same principal (taking it over from a socket
   * that still holds it: that one is `superseded()`), otherwise opens a new one.
   */
  open(name: string | undefined, principal: P, socket: SessionSocket): Awaitable<OpenedSession<P>>;
  /**
   * `socket` is gone: keep its session for a resume (`keep`), or end it (a
   * normal close, or the server is shutting down). Does nothing when another
   * socket took the session over meanwhile.
   */
  detach(session: Session<P>, socket: SessionSocket, keep: boolean): Awaitable<void>;
  /** Sessions detached on this node and kept for a resume right now (`server.metrics().detachedSessions`). */
  readonly detachedCount: number;
  /** What the sessions hold in this process's memory, when the store keeps them here (`server.metrics()`). */
  usage?(): SessionUsage;
  /**
   * The server shuts down (after detaching every socket): a store in this
   * process ends every session; a shared store writes out what is pending and
   * keeps detached sessions for a resume on another node.
   */
  close(): Awaitable<void>;
}

/**
 * Sessions in this process. Detached sessions are kept for
 * `limits.sessionTtlMs`, at most `limits.maxDetachedSessions` of them (the
 * oldest detached is forgotten first). Each session holds at most
 * `limits.sessionBytes`, and all of them `limits.sessionTotalBytes`: over
 * the total, detached sessions are forgotten first (oldest first), then a
 * growing session gives back its own oldest answers.
 */
export class MemorySessionStore<P> implements SessionStore<P> {
  private readonly sessions = new Map<string, MemorySession<P>>();
  /** Detached sessions, oldest first. */
  private readonly detached = new Set<MemorySession<P>>();
  /** What every session of this store reports its size to ({@link resized}). */
  private readonly budget: SessionBudget<P>;
  /** Bytes every session holds (as each last reported). */
  private bytes = 0;

  constructor(
    private readonly limits: Pick<Limits, 'sessionTtlMs' | 'maxDetachedSessions' | 'dedupeWindow' | 'replyCacheSize' | 'sessionBytes' | 'sessionTotalBytes'>,
  ) {
    this.budget = { limits, resized: (session, delta, size) => this.resized(session, delta, size) };
  }

  get detachedCount(): number {
    return this.detached.size;
  }

  usage(): SessionUsage {
    let largest = 0;
    for (const session of this.sessions.values()) largest = Math.max(largest, session.held);
    return { sessionBytes: this.bytes, largestSessionBytes: largest };
  }

  open(name: string | undefined, principal: P, socket: SessionSocket): OpenedSession<P> {
    const known = name === undefined ? undefined : this.sessions.get(name);
    if (known !== undefined && samePrincipal(known.principal, principal)) {
      this.detached.delete(known);
      clearTimeout(known.expiry);
      known.expiry = undefined;
      const previous = known.attached;
      known.attached = undefined;
      previous?.superseded();
      known.attached = socket;
      return { session: known, resumed: true };
    }
    // 128 random bits: the session id is what a resuming hello presents.
    const id = randomBytes(16).toString('base64url');
    const session = new MemorySession<P>(id, principal, this.budget);
    this.sessions.set(session.id, session);
    session.attached = socket;
    return { session, resumed: false };
  }

  detach(session: Session<P>, socket: SessionSocket, keep: boolean): void {
    const memory = this.sessions.get(session.id);
    if (memory?.attached !== socket) return; // unknown, or taken over by another socket already
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

  close(): void {
    for (const session of [...this.sessions.values()]) this.end(session);
  }

  /**
   * `session` is `size` bytes now (`delta` more than it last said): keeps the
   * total within `sessionTotalBytes` by forgetting detached sessions first,
   * and answers what `session` may hold.
   */
  private resized(session: MemorySession<P>, delta: number, size: number): number {
    this.bytes += delta;
    const total = this.limits.sessionTotalBytes;
    for (const detached of this.detached) {
      if (this.bytes <= total) break;
      if (detached !== session) this.end(detached);
    }
    return Math.max(0, Math.min(this.limits.sessionBytes, size + total - this.bytes));
  }

  private end(session: MemorySession<P>): void {
    this.detached.delete(session);
    if (this.sessions.get(session.id) === session) this.sessions.delete(session.id);
    this.bytes -= session.end();
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
