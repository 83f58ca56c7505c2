import { InvalidArgumentError } from '../errors.js';
import { Connection, OPEN, RETAIN, type ConnectOptions } from './connection.js';

const pool = new Map<string, Connection>();
const identities = new WeakMap<object, number>();
let nextIdentity = 1;

function identity(value: object): string {
  let id = identities.get(value);
  if (id === undefined) {
    id = nextIdentity++;
    identities.set(value, id);
  }
  return `#${id}`;
}

function isPlain(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null || Array.isArray(value);
}

/**
 * The pool key: the URL plus the options, compared structurally for plain
 * values and by identity for functions and class instances (a WebSocket
 * constructor, a scheduler).
 */
function poolKey(url: string, options: ConnectOptions): string {
  return `${url}\u0000${JSON.stringify(options, (_key, value: unknown) => {
    if (typeof value === 'function') return identity(value);
    if (value === null || typeof value !== 'object') return value;
    if (!isPlain(value)) return identity(value);
    if (Array.isArray(value)) return value as unknown[];
    return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  })}`;
}

/**
 * Returns the pooled connection for `url` and `options`: every call with the
 * same URL and equal options returns the same {@link Connection} (ref-counted:
 * each call needs its own `close()`). Pass `{ shared: false }` for a separate
 * instance. Nothing is opened until a channel is subscribed or a message sent.
 *
 * @example
 * const conn = connect('wss://example.com/rt');
 * conn.status$.subscribe((s) => banner.show(s));
 * conn.channel<Heartbeat>('player-1').subscribe((beat) => render(beat));
 */
export function connect(url: string, options: ConnectOptions = {}): Connection {
  if (typeof url !== 'string' || url.length === 0) throw new InvalidArgumentError('connect(url): url must be a non-empty string');
  if (options.shared === false) return Connection[OPEN](url, options);
  const key = poolKey(url, options);
  const pooled = pool.get(key);
  if (pooled !== undefined) return pooled[RETAIN]();
  const conn = Connection[OPEN](url, options, () => pool.delete(key));
  pool.set(key, conn);
  return conn;
}
