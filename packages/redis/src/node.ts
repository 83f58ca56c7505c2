/**
 * One rxmux node's link to Redis, shared by its engine, session store and
 * ticket store: two connections, the node's identity and lease, its control
 * channel, and the engine status.
 *
 * ```
 *  command connection ── scripts: publish, presence, sessions, tickets, the lease (every lease/3)
 *  subscriber (RESP3) ── SUBSCRIBE {p}:{ch} (channels with local subscribers), {p}:presence, {p}:node:<id>
 *                     ── the channel reads too: a reply comes after every message published before
 *                        the read was served, on the same connection (the engine's ordering rule 2)
 *  lost ─▶ status 'down' (commands fail at once: never queued, never re-sent)
 *  back ─▶ re-subscribe ─▶ status 'up' ─▶ reset(every subscribed channel)
 * ```
 *
 * Both connections are the node's own (made from `url`, or duplicated from a
 * `client` the app passes): commands are never queued while Redis is away
 * (`enableOfflineQueue: false`) nor re-sent after a reconnect, so a publish
 * either is taken or fails with an error.
 */
import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { Keys } from './keys.js';
import { SCRIPTS } from './scripts.js';

/** How to reach Redis, and the node's timing. */
export interface RedisNodeOptions {
  /** A `redis://` (or `rediss://`) URL. Default (or `undefined`, an unset `process.env.REDIS_URL`): `redis://127.0.0.1:6379`. */
  readonly url?: string | undefined;
  /** An ioredis client whose options (host, TLS, auth, Sentinel) the node copies: it opens its own two connections with `duplicate()`. */
  readonly client?: Redis;
  /** Extra ioredis options for the node's connections (with `url`). */
  readonly redisOptions?: RedisOptions;
  /** Prefix of every key and pub/sub channel. Default `rxmux`. */
  readonly prefix?: string;
  /**
   * How long a node's presence entries and sessions outlive it when it
   * crashes, in ms: it renews its lease every third of it. Default 15 000.
   */
  readonly leaseMs?: number;
  /** The node's id (for logs and `presence`). Default: 12 random bytes. */
  readonly nodeId?: string;
}

/** Engine status, as the server's `EngineSink.status` takes it. */
export type LinkStatus = 'up' | 'down';

/** What the node tells its users. */
export interface NodeListener {
  /** A message on a pub/sub channel other than the node's own. */
  message?(channel: string, message: Buffer): void;
  /** A control message for this node (`<verb> <args>`). */
  control?(verb: string, args: readonly string[]): void;
  /** The link went down or came back; `subscribed` lists the pub/sub channels re-subscribed on the way up. */
  status?(status: LinkStatus, error?: unknown): void;
  /** Back after an outage, subscriptions in effect again. */
  reconnected?(): void;
  /** A background failure (a write, the lease). */
  error?(error: unknown): void;
  /** Expired nodes this node swept (their presence entries and sessions). */
  swept?(nodes: readonly string[]): void;
}

type ScriptName = keyof typeof SCRIPTS;
type Arg = string | Buffer | number;

/** Options the node's connections always get (see the file comment). */
const OWN: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  autoResubscribe: false,
  enableAutoPipelining: true,
};

/** The subscriber connection speaks RESP3 (commands and pushes share it) and sends its few reads one by one. */
const SUBSCRIBER: RedisOptions = { protocol: 3, enableAutoPipelining: false };

/** The node. Created by `redis()`; started by the engine's `start()`. */
export class RedisNode {
  readonly id: string;
  readonly keys: Keys;
  readonly leaseMs: number;
  readonly cmd: Redis;
  readonly sub: Redis;
  private readonly listeners = new Set<NodeListener>();
  private readonly subscribed = new Set<string>();
  private readonly shas = new Map<ScriptName, string>();
  private status: LinkStatus = 'down';
  private state: 'idle' | 'starting' | 'running' | 'closed' = 'idle';
  private starting: Promise<void> | undefined;
  private lease: NodeJS.Timeout | undefined;
  private recovering = false;
  /** The last connection error ioredis reported (the cause handed to `status('down')`). */
  private lastError: unknown;

  constructor(options: RedisNodeOptions) {
    this.id = options.nodeId ?? randomBytes(12).toString('base64url');
    this.keys = new Keys(options.prefix ?? 'rxmux');
    this.leaseMs = options.leaseMs ?? 15_000;
    const base = options.client;
    if (base !== undefined) {
      this.cmd = base.duplicate({ ...OWN, protocol: 3 });
      this.sub = base.duplicate({ ...OWN, ...SUBSCRIBER });
    } else {
      const url = options.url ?? 'redis://127.0.0.1:6379';
      this.cmd = new Redis(url, { ...options.redisOptions, ...OWN, protocol: 3 });
      this.sub = new Redis(url, { ...options.redisOptions, ...OWN, ...SUBSCRIBER });
    }
    for (const [client, name] of [[this.cmd, 'command'], [this.sub, 'subscriber']] as const) {
      // Connection errors repeat on every reconnect attempt: they show as the status, not as reports.
      client.on('error', (error: unknown) => (this.lastError = error));
      client.on('close', () => this.down(new Error(`the ${name} connection to Redis closed`, { cause: this.lastError })));
      client.on('ready', () => void this.up());
    }
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => this.route(channel.toString(), message));
  }

  /** The link's status now. */
  get linkStatus(): LinkStatus {
    return this.status;
  }

  listen(listener: NodeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Connects both connections, loads the scripts, takes the lease. Idempotent; rejects when Redis cannot be reached. */
  start(): Promise<void> {
    this.starting ??= this.connect();
    return this.starting;
  }

  /** Runs a script on the command connection. */
  run(name: ScriptName, keys: readonly string[], args: readonly Arg[]): Promise<unknown> {
    return this.eval(this.cmd, name, keys, args, false);
  }

  /** Runs a script on the subscriber connection, replies as Buffers (its reply follows every message published before it ran). */
  read(name: ScriptName, keys: readonly string[], args: readonly Arg[]): Promise<unknown> {
    return this.eval(this.sub, name, keys, args, true);
  }

  /** Subscribes the subscriber connection to a pub/sub channel; resolves once Redis confirmed it. */
  async subscribe(channel: string): Promise<void> {
    this.subscribed.add(channel);
    await this.sub.subscribe(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.subscribed.delete(channel);
    await this.sub.unsubscribe(channel);
  }

  /** The nodes whose lease is alive (this one included while it runs). */
  async alive(): Promise<Set<string>> {
    const nodes = (await this.run('rxAlive', [this.keys.nodes], [])) as string[];
    return new Set(nodes);
  }

  /** Sends a control message to a node. */
  async tell(node: string, message: string): Promise<void> {
    await this.cmd.publish(this.keys.control(node), message);
  }

  /** Waits for every command sent so far on the command connection (they run in order). */
  async flush(): Promise<void> {
    await this.cmd.ping();
  }

  /** Reports a background failure (a write of a session store, a sweep) to the node's listeners (the engine: `hooks.onError`). */
  fail(error: unknown): void {
    this.emitError(error, 'write');
  }

  /** Gives up the lease and closes both connections. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasRunning = this.state === 'running';
    this.state = 'closed';
    clearInterval(this.lease);
    if (wasRunning && this.status === 'up') {
      try {
        await Promise.all([this.cmd.zrem(this.keys.nodes, this.id), this.cmd.del(this.keys.nodeChannels(this.id), this.keys.nodeSessions(this.id))]);
      } catch (error) {
        this.emitError(error, 'close');
      }
    }
    await Promise.all([this.quit(this.cmd), this.quit(this.sub)]);
  }

  /**
   * Drops both connections without letting go of anything, as a crashed
   * process would: its lease expires, other nodes sweep its presence entries
   * and sessions. For tests and failure drills.
   */
  terminate(): void {
    this.state = 'closed';
    clearInterval(this.lease);
    this.cmd.disconnect();
    this.sub.disconnect();
  }

  // ---- internals -----------------------------------------------------------------

  private async connect(): Promise<void> {
    this.state = 'starting';
    await Promise.all([this.cmd.connect(), this.sub.connect()]);
    await this.loadScripts();
    await Promise.all([this.sub.subscribe(this.keys.control(this.id), this.keys.presence)]);
    await this.renew();
    this.state = 'running';
    this.status = 'up';
    this.lease = setInterval(() => void this.renew().catch((error: unknown) => this.emitError(error, 'lease')), Math.max(50, Math.floor(this.leaseMs / 3)));
    this.lease.unref();
  }

  private async loadScripts(): Promise<void> {
    const loaded = await Promise.all(Object.values(SCRIPTS).map((s) => this.cmd.script('LOAD', s.lua) as Promise<string>));
    (Object.keys(SCRIPTS) as ScriptName[]).forEach((name, i) => {
      const sha = loaded[i];
      if (sha !== undefined) this.shas.set(name, sha);
    });
  }

  private async eval(client: Redis, name: ScriptName, keys: readonly string[], args: readonly Arg[], buffers: boolean): Promise<unknown> {
    const sha = this.shas.get(name) ?? '';
    const all = [keys.length, ...keys, ...args];
    try {
      return buffers ? await client.callBuffer('EVALSHA', sha, ...all) : await client.call('EVALSHA', sha, ...all);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      // A restarted Redis forgot the scripts: EVAL loads it again (later calls find it by SHA).
      const lua = SCRIPTS[name].lua;
      return buffers ? await client.callBuffer('EVAL', lua, ...all) : await client.call('EVAL', lua, ...all);
    }
  }

  private async renew(): Promise<void> {
    const dead = (await this.run('rxLease', [this.keys.nodes], [this.id, this.leaseMs])) as string[];
    if (dead.length === 0) return;
    for (const listener of this.listeners) listener.swept?.(dead);
  }

  private route(channel: string, message: Buffer): void {
    if (channel === this.keys.control(this.id)) {
      const [verb = '', ...args] = message.toString().split(' ');
      for (const listener of this.listeners) listener.control?.(verb, args);
      return;
    }
    for (const listener of this.listeners) listener.message?.(channel, message);
  }

  private down(error: unknown): void {
    if (this.state !== 'running' || this.status === 'down') return;
    this.status = 'down';
    for (const listener of this.listeners) listener.status?.('down', error);
  }

  /** A connection is ready again: once both are, re-subscribe, reload the scripts, and say so. */
  private async up(): Promise<void> {
    if (this.state !== 'running' || this.status === 'up' || this.recovering || !this.bothReady()) return;
    this.recovering = true;
    try {
      await this.loadScripts();
      await this.sub.subscribe(this.keys.control(this.id), this.keys.presence, ...this.subscribed);
      await this.renew();
    } catch (error) {
      this.emitError(error, 'reconnect');
      setTimeout(() => void this.up(), 100).unref(); // both connections may stay up: try again
      return;
    } finally {
      this.recovering = false;
    }
    if (!this.bothReady()) return; // lost again meanwhile: the next 'ready' comes back here
    this.status = 'up';
    for (const listener of this.listeners) listener.status?.('up');
    for (const listener of this.listeners) listener.reconnected?.();
  }

  private bothReady(): boolean {
    return this.cmd.status === 'ready' && this.sub.status === 'ready';
  }

  private emitError(error: unknown, where: string): void {
    const reported = error instanceof Error ? error : new Error(`redis ${where}: ${String(error)}`);
    for (const listener of this.listeners) listener.error?.(reported);
  }

  private async quit(client: Redis): Promise<void> {
    try {
      if (client.status === 'ready') await client.quit();
      else client.disconnect();
    } catch {
      client.disconnect();
    }
  }
}
