/**
 * `@rxmux/redis`: many rxmux nodes on one Redis. Publications fan out over
 * pub/sub to the nodes with subscribers, history lives in Redis Streams (so
 * sequence numbers are global per channel and a resume works on any node),
 * presence entries belong to node leases, and sessions and tickets are
 * shared, so a client cut from one node resumes on another with nothing lost
 * and nothing doubled.
 *
 * @example
 * import { createServer } from '@rxmux/server';
 * import { redis } from '@rxmux/redis';
 *
 * const server = createServer({ port: 8080, ...redis({ url: process.env.REDIS_URL }) });
 * await server.ready(); // connected to Redis
 * @packageDocumentation
 */
import { DEFAULT_LIMITS, type Limits } from '@rxmux/server';
import { RedisEngine } from './engine.js';
import { RedisNode, type RedisNodeOptions } from './node.js';
import { RedisSessionStore } from './sessions.js';
import { RedisTicketStore } from './tickets.js';

export { RedisEngine, type RedisEngineOptions } from './engine.js';
export { RedisSessionStore, type SessionLimits } from './sessions.js';
export { RedisTicketStore } from './tickets.js';
export { RedisNode, type LinkStatus, type NodeListener, type RedisNodeOptions } from './node.js';
export { Keys } from './keys.js';

/** Options of {@link redis}. */
export interface RedisBackendOptions extends RedisNodeOptions {
  /**
   * The server's limits, as passed to `createServer` (`historySize`,
   * `historyTtlMs`, `sessionTtlMs`, `dedupeWindow`, `replyCacheSize` are used
   * here): pass the same object to both.
   */
  readonly limits?: Partial<Limits>;
  /** How long a channel's epoch and newest seq outlive its last publication or read, in ms. Default 24 h. */
  readonly metaTtlMs?: number;
  /** How long a resuming node waits for the session's owner to let it go before taking it anyway, in ms. Default 3 000. */
  readonly takeoverMs?: number;
}

/** What `createServer` takes to run on Redis: spread it into the options. */
export interface RedisBackend<P> {
  readonly engine: RedisEngine<P>;
  readonly sessions: RedisSessionStore<P>;
  readonly tickets: RedisTicketStore<P>;
}

/**
 * The engine, session store and ticket store of one node, sharing its two
 * Redis connections. `P` is the server's principal type (what `authenticate`
 * returns, `null` without it); principals travel as JSON. The engine connects
 * when the server starts it (`server.ready()` waits) and closes the
 * connections when the server closes.
 *
 * @example
 * // with authenticate: name the principal type
 * createServer({ port: 8080, authenticate, ...redis<User>({ url, limits }), limits });
 */
export function redis<P = null>(options: RedisBackendOptions = {}): RedisBackend<NoInfer<P>> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const node = new RedisNode(options);
  return {
    engine: new RedisEngine<P>(node, { historySize: limits.historySize, historyTtlMs: limits.historyTtlMs, ...(options.metaTtlMs === undefined ? {} : { metaTtlMs: options.metaTtlMs }) }),
    sessions: new RedisSessionStore<P>(node, limits, options.takeoverMs === undefined ? {} : { takeoverMs: options.takeoverMs }),
    tickets: new RedisTicketStore<P>(node),
  };
}
