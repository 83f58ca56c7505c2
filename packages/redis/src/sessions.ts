/**
 * Sessions in Redis: a client cut from node A resumes on node B with its
 * dedupe window, reply cache, answers owed and `received` count, so acked
 * messages are not run twice and plain sends are not doubled.
 *
 * A session is owned by one node at a time (the `o` field). The owner keeps
 * it in memory and writes every change through, in order, on its command
 * connection. Another node takes it over like this:
 *
 * ```
 *  node B (hello{session})                 Redis                           node A (owner)
 *  rxClaim ─────────────────────────────▶ owner A alive: c = B, 'busy'
 *  PUBLISH {p}:node:A "takeover s B" ─────────────────────────────────────▶ supersede the socket (no frame
 *                                                                           is taken any more), then rxRelease:
 *                                          o = '' (after every write A made) ◀─ ordered on A's connection
 *  ◀── "released s" ───────────────────── PUBLISH {p}:node:B
 *  rxClaim ─────────────────────────────▶ 'ok': received, highest ids ─▶ welcome {resumed, received}
 *  an owner whose lease expired is not asked: its sessions are taken at once
 * ```
 *
 * Handlers still running on A answer through Redis: the answer is
 * remembered (dedupe / reply cache) and queued as owed; the owner (B) is
 * told and sends it. A re-sent message or request whose handler still runs
 * on A is recognised as running (its node's lease is alive) and not run again.
 *
 * Lookups are cheap on the common path: ids above the highest id the session
 * had when it was claimed are new without a round trip; only re-sent ids ask
 * Redis.
 */
import { randomBytes } from 'node:crypto';
import { DEFAULT_LIMITS, type Limits, type OpenedSession, type PendingRequest, type Seen, type Session, type SessionSocket, type SessionStore } from '@rxmux/server';
import type { RedisNode } from './node.js';

/** The limits a session store needs (the server's `limits`). */
export type SessionLimits = Pick<Limits, 'sessionTtlMs' | 'dedupeWindow' | 'replyCacheSize'>;

/** Remembers `key → value` in an insertion-ordered map of at most `max` entries. */
function remember<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value as K);
}

/** A session owned by this node (or, once let go, still answering for handlers that run here). */
class RedisSession<P> implements Session<P> {
  /** The socket it is attached to on this node (undefined: not here). */
  attached: SessionSocket | undefined;
  /** Whether the welcome's drain ran: answers owed are sent directly from then on. */
  welcomed = false;
  readonly requests = new Map<number, PendingRequest>();
  /** Message ids handled or running during this node's ownership → answer (undefined: running). */
  private readonly messages = new Map<number, string | undefined>();
  private readonly replies = new Map<number, string>();

  constructor(
    private readonly store: RedisSessionStore<P>,
    readonly id: string,
    readonly principal: P,
    public received: number,
    /** Highest message / request id the session had when this node claimed it: above them, an id is new. */
    private readonly claimed: { readonly message: number; readonly request: number },
  ) {}

  take(): number {
    this.received++;
    this.store.write('rxSet', this.id, ['r', this.received]);
    return this.received;
  }

  seen(id: number): Seen | Promise<Seen> {
    if (this.messages.has(id)) {
      const answer = this.messages.get(id);
      return answer === undefined ? 'running' : { answer };
    }
    if (id > this.claimed.message) return undefined;
    return this.store.lookup(this.id, 'M', 'm', id);
  }

  started(id: number): void {
    remember(this.messages, id, undefined, this.store.limits.dedupeWindow);
    this.store.write('rxStart', this.id, ['M', id, this.store.node.id]);
  }

  finished(id: number, answer: string): void {
    remember(this.messages, id, answer, this.store.limits.dedupeWindow);
    this.answer('m', id, answer, this.store.limits.dedupeWindow);
  }

  reply(id: number): Seen | Promise<Seen> {
    if (this.requests.has(id)) return 'running';
    const answer = this.replies.get(id);
    if (answer !== undefined) return { answer };
    if (id > this.claimed.request) return undefined;
    return this.store.lookup(this.id, 'R', 'r', id);
  }

  requestStarted(id: number): void {
    this.store.write('rxStart', this.id, ['R', id, this.store.node.id]);
  }

  replied(id: number, answer: string): void {
    this.requests.delete(id);
    remember(this.replies, id, answer, this.store.limits.replyCacheSize);
    this.answer('r', id, answer, this.store.limits.replyCacheSize);
    this.store.settled(this);
  }

  cancel(id: number): void {
    const pending = this.requests.get(id);
    if (pending !== undefined) {
      this.requests.delete(id);
      pending.abort();
      this.store.forget(this.id, id);
      return;
    }
    this.store.cancelElsewhere(this.id, id);
  }

  send(envelope: string): void {
    if (this.attached !== undefined) this.attached.enqueue(envelope);
    else this.store.write('rxOwe', this.id, [envelope, this.store.limits.dedupeWindow, this.store.node.keys.prefix, this.id]);
  }

  drain(): Promise<readonly string[]> {
    this.welcomed = true;
    return this.store.drain(this.id);
  }

  /** The session ended for good: nothing runs for it any more. */
  end(): void {
    this.attached = undefined;
    for (const pending of this.requests.values()) pending.abort();
    this.requests.clear();
  }

  /** Remembers an answer in Redis; sends it here, or queues it for the node that has the socket now. */
  private answer(kind: 'm' | 'r', id: number, answer: string, window: number): void {
    const here = this.attached;
    this.store.write('rxAnswer', this.id, [kind, id, answer, window, here === undefined ? 1 : 0, this.store.node.keys.prefix, this.id]);
    here?.enqueue(answer);
  }
}

/**
 * The session store of one node. Made by `redis()`.
 *
 * @example
 * const { engine, sessions, tickets } = redis({ url });
 * createServer({ port: 8080, engine, sessions, tickets });
 */
export class RedisSessionStore<P> implements SessionStore<P> {
  readonly limits: SessionLimits;
  /** Sessions this node owns. */
  private readonly owned = new Map<string, RedisSession<P>>();
  /** Sessions let go with handlers still running here (for a cancel from the new owner). */
  private readonly retired = new Map<string, RedisSession<P>>();
  /** Sessions detached here, until resumed (anywhere) or expired: `detachedCount`. */
  private readonly detached = new Map<string, NodeJS.Timeout>();
  /** Claims waiting for their owner to let go. */
  private readonly waiting = new Map<string, () => void>();
  private readonly takeoverMs: number;
  /** Background failures go to the node, which hands them to the engine's sink (`hooks.onError`). */
  private readonly report: (error: unknown) => void;

  constructor(
    readonly node: RedisNode,
    limits: Partial<SessionLimits> = {},
    options: { readonly takeoverMs?: number } = {},
  ) {
    this.limits = {
      sessionTtlMs: limits.sessionTtlMs ?? DEFAULT_LIMITS.sessionTtlMs,
      dedupeWindow: limits.dedupeWindow ?? DEFAULT_LIMITS.dedupeWindow,
      replyCacheSize: limits.replyCacheSize ?? DEFAULT_LIMITS.replyCacheSize,
    };
    this.takeoverMs = options.takeoverMs ?? 3_000;
    this.report = (error) => node.fail(error);
    node.listen({
      control: (verb, args) => this.control(verb, args),
      swept: (nodes) => void this.sweep(nodes),
    });
  }

  get detachedCount(): number {
    return this.detached.size;
  }

  async open(name: string | undefined, principal: P, socket: SessionSocket): Promise<OpenedSession<P>> {
    await this.node.start();
    const json = JSON.stringify(principal);
    if (name !== undefined) {
      const local = this.owned.get(name);
      if (local !== undefined && JSON.stringify(local.principal) === json) {
        // Taken over from a socket of this node (a half-open link it had not noticed yet).
        const previous = local.attached;
        local.attached = undefined;
        previous?.superseded();
        local.attached = socket;
        local.welcomed = false;
        return { session: local, resumed: true };
      }
      if (local === undefined) {
        const claimed = await this.claim(name, json, principal);
        if (claimed !== undefined) {
          claimed.attached = socket;
          return { session: claimed, resumed: true };
        }
      }
    }
    // 128 random bits: the session id is what a resuming hello presents.
    const id = randomBytes(16).toString('base64url');
    await this.node.run('rxCreate', this.node.keys.session(id), [json, this.node.id]);
    this.own(id);
    const session = new RedisSession<P>(this, id, principal, 0, { message: 0, request: 0 });
    session.attached = socket;
    this.owned.set(id, session);
    return { session, resumed: false };
  }

  detach(session: Session<P>, socket: SessionSocket, keep: boolean): Promise<void> | undefined {
    const local = this.owned.get(session.id);
    if (local?.attached !== socket) return undefined; // unknown, or taken over meanwhile
    local.attached = undefined;
    this.owned.delete(local.id);
    const { keys, id } = this.node;
    if (!keep) {
      local.end();
      return Promise.all([this.node.run('rxEnd', keys.session(local.id), [id]), this.node.cmd.srem(keys.nodeSessions(id), local.id)]).then(() => undefined);
    }
    if (local.requests.size > 0) this.retired.set(local.id, local);
    const timer = setTimeout(() => this.detached.delete(local.id), this.limits.sessionTtlMs);
    timer.unref();
    this.detached.set(local.id, timer);
    return this.release(local.id);
  }

  /** Writes out what is pending: detached sessions stay in Redis for a resume on another node. */
  async close(): Promise<void> {
    for (const timer of this.detached.values()) clearTimeout(timer);
    this.detached.clear();
    for (const session of this.owned.values()) session.end();
    this.owned.clear();
    if (this.node.linkStatus === 'up') await this.node.flush();
  }

  // ---- for the sessions ------------------------------------------------------------

  /** One ordered write of a session's state (a failure is reported: the state in Redis may then lag). */
  write(script: 'rxSet' | 'rxStart' | 'rxAnswer' | 'rxOwe', session: string, args: readonly (string | number)[]): void {
    this.node.run(script, this.node.keys.session(session), args).catch(this.report);
  }

  /** A session's last request answered after it was let go: nothing more to cancel here. */
  settled(session: RedisSession<P>): void {
    if (session.requests.size === 0 && this.retired.get(session.id) === session) this.retired.delete(session.id);
  }

  /** What Redis knows of an id this node did not see: running on a live node, answered, or new. */
  async lookup(session: string, running: 'M' | 'R', answered: 'm' | 'r', id: number): Promise<Seen> {
    const [node, answer] = await this.node.cmd.hmget(this.node.keys.session(session)[1], `${running}${id}`, `${answered}${id}`);
    if (answer !== null && answer !== undefined) return { answer };
    if (node === null || node === undefined) return undefined;
    // Running on a node that crashed: nobody will answer it, so it runs again (at least once).
    return (await this.node.alive()).has(node) ? 'running' : undefined;
  }

  async drain(session: string): Promise<readonly string[]> {
    return (await this.node.run('rxDrain', this.node.keys.session(session), [])) as string[];
  }

  /** A cancelled request is forgotten (a re-sent id runs again). */
  forget(session: string, id: number): void {
    this.node.cmd.hdel(this.node.keys.session(session)[1], `R${id}`).catch(this.report);
  }

  /** A cancel for a request running on another node: that node aborts it. */
  cancelElsewhere(session: string, id: number): void {
    const dedupe = this.node.keys.session(session)[1];
    this.node.cmd
      .hget(dedupe, `R${id}`)
      .then(async (node) => {
        if (node === null) return;
        await this.node.cmd.hdel(dedupe, `R${id}`);
        await this.node.tell(node, `cancel ${session} ${String(id)}`);
      })
      .catch(this.report);
  }

  // ---- internals -------------------------------------------------------------------

  /** Takes a session over from Redis (asking its owner to let go first); `undefined` when it is unknown or another principal's. */
  private async claim(name: string, json: string, principal: P): Promise<RedisSession<P> | undefined> {
    const keys = this.node.keys.session(name);
    let force = '';
    for (let attempt = 0; attempt < 3; attempt++) {
      const answer = (await this.node.run('rxClaim', keys, [json, this.node.id, force])) as string[];
      const [verdict = 'missing', ...rest] = answer;
      if (verdict === 'missing' || verdict === 'other') return undefined;
      if (verdict === 'ok') {
        const [received = '0', message = '0', request = '0', last = ''] = rest;
        const session = new RedisSession<P>(this, name, principal, Number(received), { message: Number(message), request: Number(request) });
        this.owned.set(name, session);
        this.own(name);
        this.resumedHere(name);
        if (last !== '' && last !== this.node.id) this.node.tell(last, `resumed ${name}`).catch(this.report);
        return session;
      }
      const owner = rest[0] ?? '';
      if (!(await this.node.alive()).has(owner)) {
        force = owner; // its lease expired: nobody is left to let go
        continue;
      }
      await this.takeover(name, owner);
      if (attempt === 1) force = owner; // asked twice and still holding it: unresponsive, take it
    }
    return undefined;
  }

  /** Asks the owner to let the session go and waits until it did (or `takeoverMs`). */
  private takeover(name: string, owner: string): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.takeoverMs);
      timer.unref();
      const waiting = this.waiting;
      function done(): void {
        clearTimeout(timer);
        waiting.delete(name);
        resolve();
      }
      this.waiting.set(name, done);
      this.node.tell(owner, `takeover ${name} ${this.node.id}`).catch((error: unknown) => {
        this.report(error);
        done();
      });
    });
  }

  private release(session: string): Promise<void> {
    const { keys, id } = this.node;
    return Promise.all([
      this.node.run('rxRelease', keys.session(session), [id, this.limits.sessionTtlMs, keys.prefix, session]),
      this.node.cmd.srem(keys.nodeSessions(id), session),
    ]).then(() => undefined);
  }

  /** Indexes a session under this node (the sweeper's list when the node's lease expires). */
  private own(session: string): void {
    this.node.cmd.sadd(this.node.keys.nodeSessions(this.node.id), session).catch(this.report);
  }

  private resumedHere(session: string): void {
    clearTimeout(this.detached.get(session));
    this.detached.delete(session);
  }

  private control(verb: string, args: readonly string[]): void {
    const [session = '', extra = ''] = args;
    switch (verb) {
      case 'takeover': {
        // Another node resumes the session: this socket stops taking frames, then the session is let go
        // (after every write this node made for it: they travel first on the same connection).
        const local = this.owned.get(session);
        if (local !== undefined) {
          const socket = local.attached;
          local.attached = undefined;
          this.owned.delete(session);
          if (local.requests.size > 0) this.retired.set(session, local);
          socket?.superseded();
        }
        this.release(session).catch(this.report);
        return;
      }
      case 'released':
        this.waiting.get(session)?.();
        return;
      case 'owed': {
        const local = this.owned.get(session);
        if (local?.attached === undefined || !local.welcomed) return; // the welcome's drain takes them
        const socket = local.attached;
        this.drain(session)
          .then((answers) => {
            for (const answer of answers) socket.enqueue(answer);
          })
          .catch(this.report);
        return;
      }
      case 'resumed':
        this.resumedHere(session);
        return;
      case 'cancel': {
        const local = this.owned.get(session) ?? this.retired.get(session);
        const pending = local?.requests.get(Number(extra));
        local?.requests.delete(Number(extra));
        pending?.abort();
        if (local?.requests.size === 0) this.retired.delete(session);
        return;
      }
      default:
        return;
    }
  }

  /** Sessions of expired nodes become detached (kept for the session TTL). */
  private async sweep(nodes: readonly string[]): Promise<void> {
    const { keys } = this.node;
    for (const dead of nodes) {
      try {
        const sessions = await this.node.cmd.smembers(keys.nodeSessions(dead));
        await Promise.all(sessions.map((session) => this.node.run('rxOrphan', keys.session(session), [dead, this.limits.sessionTtlMs])));
        await this.node.cmd.del(keys.nodeSessions(dead));
      } catch (error) {
        this.report(error);
      }
    }
  }
}
