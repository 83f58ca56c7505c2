/**
 * The Redis engine: pub/sub for fan-out, Streams for history, presence in
 * hashes owned by node leases.
 *
 * ```
 *  publish(ch, data) ─ rxPublish (one script) ─ HINCRBY {p}:{ch}:m s      seq, in the channel's epoch
 *                                             ─ XADD {p}:{ch}:h <seq>-0   history (MAXLEN ~ size; age checked on read)
 *                                             ─ PUBLISH {p}:{ch}          every node subscribed to ch
 *  subscribe(ch)     ─ SUBSCRIBE {p}:{ch} on the first local subscriber only (the hub asks once)
 *  position / history ─ rxRead on the subscriber connection: XREVRANGE within the count and age bounds
 *  join / leave      ─ HSET / HDEL {p}:{ch}:p + PUBLISH {p}:presence; the entry names this node, whose lease
 *                      ({p}:nodes) must stay alive: a crashed node's entries are swept when it expires
 * ```
 *
 * **Seq and epoch.** The stream entry id is `<seq>-0`: a replay is one
 * `XREVRANGE` by id. The channel's meta hash holds the epoch and the newest
 * seq and outlives the stream (`metaTtlMs`, default 24 h, against the
 * stream's `historyTtlMs`): a stream trimmed or expired under a live epoch
 * makes resumes incomplete (a `gap` / `reset` "history"); a meta hash that is
 * gone (expired, evicted, a Redis that restarted empty) starts a new epoch and
 * a new stream (a gap "epoch"). Never a wrong resume.
 */
import { randomBytes } from 'node:crypto';
import { RxmuxError, type Payload } from '@rxmux/core/protocol';
import { ENGINE_UNAVAILABLE, StoredPublication, type ChannelPosition, type Engine, type EnginePublication, type EngineSink, type HistoryResult, type PresenceEvent, type PresenceMember } from '@rxmux/server';
import type { RedisNode } from './node.js';

/** History bounds of the Redis engine (keep them equal to the server's `limits`, which size its replays). */
export interface RedisEngineOptions {
  /** Publications kept per channel. Default 100. */
  readonly historySize?: number;
  /** How long a publication is kept, in ms. Default 5 min. */
  readonly historyTtlMs?: number;
  /** How long a channel's epoch and newest seq outlive its last publication or read, in ms. Default 24 h. */
  readonly metaTtlMs?: number;
}

const DEFAULTS = { historySize: 100, historyTtlMs: 5 * 60_000, metaTtlMs: 24 * 3_600_000 };

const KIND_JSON = 0x4a; // 'J'
const KIND_BYTES = 0x42; // 'B'
const NEWLINE = 0x0a;

/** A new epoch candidate: random, so a channel never gets an epoch back. */
const newEpoch = (): string => randomBytes(9).toString('base64url');

/**
 * The engine of one node. Made by `redis()`, which shares its node with the
 * session and ticket stores.
 */
export class RedisEngine<P = unknown> implements Engine<P> {
  private sink: EngineSink<P> | undefined;
  /** Pub/sub channel name → channel, for the channels with local subscribers. */
  private readonly channels = new Map<string, string>();
  /** This node's presence entries: channel → session → entry. */
  private readonly members = new Map<string, Map<string, string>>();
  private readonly historySize: number;
  private readonly historyTtlMs: number;
  private readonly metaTtlMs: number;
  private stopListening: (() => void) | undefined;

  constructor(
    /** The node this engine runs on (shared with the session and ticket stores). */
    readonly node: RedisNode,
    options: RedisEngineOptions = {},
  ) {
    this.historySize = options.historySize ?? DEFAULTS.historySize;
    this.historyTtlMs = options.historyTtlMs ?? DEFAULTS.historyTtlMs;
    this.metaTtlMs = options.metaTtlMs ?? DEFAULTS.metaTtlMs;
  }

  async start(sink: EngineSink<P>): Promise<void> {
    this.sink = sink;
    this.stopListening = this.node.listen({
      message: (channel, message) => this.message(channel, message),
      status: (status, error) => sink.status(status, error),
      reconnected: () => void this.reconnected(),
      swept: (nodes) => void this.sweep(nodes),
      error: (error) => sink.error(error),
    });
    await this.node.start();
    sink.status('up');
  }

  async publish(channel: string, data: Payload): Promise<EnginePublication> {
    const bytes = data instanceof Uint8Array;
    const encoded = bytes ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : JSON.stringify(data);
    const { keys } = this.node;
    let answer: unknown;
    try {
      answer = await this.node.run('rxPublish', [keys.meta(channel), keys.stream(channel)], [
        keys.channel(channel),
        bytes ? 'B' : 'J',
        encoded,
        newEpoch(),
        this.historySize,
        this.historyTtlMs,
        this.metaTtlMs,
      ]);
    } catch (error) {
      throw this.unavailable(error, `publish(): Redis is unreachable, the publication on "${channel}" was not taken (or its fate is unknown)`);
    }
    const [epoch, seq] = answer as [string, unknown];
    return typeof encoded === 'string' ? { channel, epoch, seq: Number(seq), data, json: encoded } : { channel, epoch, seq: Number(seq), data };
  }

  async subscribe(channel: string): Promise<void> {
    const name = this.node.keys.channel(channel);
    this.channels.set(name, channel);
    try {
      await this.node.subscribe(name);
    } catch (error) {
      throw this.unavailable(error, `subscribe(): Redis is unreachable, "${channel}" cannot be joined now`);
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    const name = this.node.keys.channel(channel);
    this.channels.delete(name);
    await this.node.unsubscribe(name);
  }

  async position(channel: string): Promise<ChannelPosition> {
    const { epoch, last } = await this.read(channel, 0, 0);
    return { epoch, last };
  }

  history(channel: string, since: number, limit: number): Promise<HistoryResult> {
    if (!(since >= 0) || !(limit >= 1)) throw new RxmuxError('RXMUX_ERR_INVALID_ARGUMENT', 'history(): since must be at least 0 and limit at least 1');
    return this.read(channel, since, Math.min(limit, this.historySize));
  }

  async join(channel: string, member: PresenceMember<P>): Promise<void> {
    const { keys, id } = this.node;
    const json = JSON.stringify({ session: member.session, principal: member.principal, transport: member.transport });
    const entry = `${id}\n${json}`;
    let local = this.members.get(channel);
    if (local === undefined) this.members.set(channel, (local = new Map<string, string>()));
    const first = local.size === 0;
    local.set(member.session, entry);
    const event = `{"type":"join","channel":${JSON.stringify(channel)},"member":${json}}`;
    await Promise.all([
      this.node.run('rxJoin', [keys.members(channel)], [member.session, entry, keys.presence, event]),
      first ? this.node.cmd.sadd(keys.nodeChannels(id), channel) : undefined,
    ]);
  }

  async leave(channel: string, session: string): Promise<void> {
    const { keys, id } = this.node;
    const local = this.members.get(channel);
    if (local?.delete(session) !== true) return;
    const last = local.size === 0;
    if (last) this.members.delete(channel);
    await Promise.all([
      this.node.run('rxLeave', [keys.members(channel)], [session, id, keys.presence, JSON.stringify(channel)]),
      last ? this.node.cmd.srem(keys.nodeChannels(id), channel) : undefined,
    ]);
  }

  async presence(channel: string): Promise<readonly PresenceMember<P>[]> {
    const [entries, alive] = await Promise.all([this.node.cmd.hvals(this.node.keys.members(channel)), this.node.alive()]);
    const members: PresenceMember<P>[] = [];
    for (const entry of entries) {
      const nl = entry.indexOf('\n');
      if (alive.has(entry.slice(0, nl))) members.push(JSON.parse(entry.slice(nl + 1)) as PresenceMember<P>);
    }
    return members;
  }

  /** Removes this node's presence entries, gives up its lease and closes its connections. */
  async close(): Promise<void> {
    this.stopListening?.();
    const leaving: Promise<void>[] = [];
    for (const [channel, sessions] of this.members) for (const session of [...sessions.keys()]) leaving.push(this.leave(channel, session));
    await Promise.allSettled(leaving);
    this.sink = undefined;
    await this.node.close();
  }

  /**
   * Drops the connections without letting go of anything, as a crashed
   * process would (its lease expires; other nodes sweep its members). For
   * tests and failure drills.
   */
  terminate(): void {
    this.stopListening?.();
    this.sink = undefined;
    this.node.terminate();
  }

  // ---- internals -----------------------------------------------------------------

  private async read(channel: string, since: number, limit: number): Promise<HistoryResult> {
    const { keys } = this.node;
    let answer: unknown;
    try {
      answer = await this.node.read('rxRead', [keys.meta(channel), keys.stream(channel)], [since, limit, newEpoch(), this.historySize, this.historyTtlMs, this.metaTtlMs]);
    } catch (error) {
      throw this.unavailable(error, `Redis is unreachable: the history of "${channel}" cannot be read`);
    }
    const [epochBytes, lastValue, flat] = answer as [Buffer, unknown, Buffer[]];
    const epoch = epochBytes.toString();
    const last = Number(lastValue);
    const publications: EnginePublication[] = [];
    for (let i = flat.length - 3; i >= 0; i -= 3) {
      const id = flat[i]?.toString() ?? '';
      const kind = flat[i + 1]?.[0];
      const data = flat[i + 2] ?? Buffer.alloc(0);
      publications.push(storedPublication(channel, epoch, Number(id.slice(0, id.indexOf('-'))), kind, data));
    }
    const complete = since <= last && publications.length === last - since;
    return { epoch, last, publications, complete };
  }

  /** A pub/sub message: a publication of a subscribed channel, or a presence event. */
  private message(name: string, message: Buffer): void {
    const sink = this.sink;
    if (sink === undefined) return;
    try {
      if (name === this.node.keys.presence) {
        sink.presence(JSON.parse(message.toString()) as PresenceEvent<P>);
        return;
      }
      const channel = this.channels.get(name);
      if (channel === undefined) return;
      const first = message.indexOf(NEWLINE, 1);
      const second = message.indexOf(NEWLINE, first + 1);
      if (first < 0 || second < 0) throw new RxmuxError('RXMUX_ERR_INVALID_FIELD', `a malformed publication message on ${name}`);
      const epoch = message.subarray(1, first).toString();
      const seq = Number(message.subarray(first + 1, second).toString());
      sink.publication(storedPublication(channel, epoch, seq, message[0], message.subarray(second + 1)));
    } catch (error) {
      sink.error(error);
    }
  }

  /**
   * Back after an outage: this node's presence entries are written again (a
   * Redis that restarted empty lost them), then every subscribed channel is
   * re-synced (publications may have been missed meanwhile).
   */
  private async reconnected(): Promise<void> {
    const { keys, id } = this.node;
    const writes: Promise<unknown>[] = [];
    for (const [channel, sessions] of this.members) {
      if (sessions.size === 0) continue;
      writes.push(this.node.cmd.hset(keys.members(channel), Object.fromEntries(sessions)), this.node.cmd.sadd(keys.nodeChannels(id), channel));
    }
    const failed = (await Promise.allSettled(writes)).find((r) => r.status === 'rejected');
    if (failed !== undefined) this.sink?.error(failed.reason);
    this.sink?.reset([...this.channels.values()]);
  }

  /** Expired nodes: their presence entries go, each with a `leave` event. */
  private async sweep(nodes: readonly string[]): Promise<void> {
    const { keys } = this.node;
    for (const dead of nodes) {
      try {
        const channels = await this.node.cmd.smembers(keys.nodeChannels(dead));
        await Promise.all(channels.map((channel) => this.node.run('rxEvict', [keys.members(channel)], [dead, keys.presence, JSON.stringify(channel)])));
        await this.node.cmd.del(keys.nodeChannels(dead));
      } catch (error) {
        this.sink?.error(error);
      }
    }
  }

  private unavailable(error: unknown, message: string): Error {
    if (error instanceof RxmuxError) return error;
    return new RxmuxError(ENGINE_UNAVAILABLE, message, { cause: error });
  }
}

/** A publication as Redis holds it: JSON stays text (spliced into frames as it is, parsed only if read), bytes are copied out. */
function storedPublication(channel: string, epoch: string, seq: number, kind: number | undefined, data: Buffer): EnginePublication {
  if (kind === KIND_BYTES) return new StoredPublication(channel, epoch, seq, undefined, new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)));
  if (kind !== KIND_JSON) throw new RxmuxError('RXMUX_ERR_INVALID_FIELD', 'a publication in Redis has an unknown kind');
  return new StoredPublication(channel, epoch, seq, data.toString('utf8'));
}
