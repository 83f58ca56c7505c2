/**
 * A deliberately slow asynchronous engine: the memory engine behind random
 * delays on every call and on every delivery (seeded, so a failure replays).
 * It keeps the engine's ordering rules the way a networked engine must:
 *
 * - a subscription takes effect at a random moment before `subscribe()`
 *   resolves, and only publications sequenced after it are delivered (rule 1);
 * - deliveries travel one line, in order, each after a random delay; a read
 *   resolves only after every delivery queued before its snapshot (rule 2);
 * - `lose(n)` drops the next n deliveries, then resets their channels (rule 3).
 */
import type { Payload } from '@rxmux/core/protocol';
import { MemoryEngine, type ChannelPosition, type Engine, type EnginePublication, type EngineSink, type HistoryResult, type MemoryEngineOptions, type PresenceMember } from '@rxmux/server';
import { prng } from '../support/random.js';


export class SlowEngine<P> implements Engine<P> {
  private readonly inner: MemoryEngine<P>;
  private readonly random: () => number;
  private readonly subscribed = new Set<string>();
  /** The delivery line: every delivery waits for the one before it. */
  private line: Promise<void> = Promise.resolve();
  private sink: EngineSink<P> | undefined;
  private losing = 0;
  private readonly lost = new Set<string>();

  constructor(
    options: MemoryEngineOptions,
    readonly seed: number,
    private readonly maxDelayMs = 4,
  ) {
    this.inner = new MemoryEngine<P>(options);
    this.random = prng(seed);
  }

  async start(sink: EngineSink<P>): Promise<void> {
    this.sink = sink;
    await this.delay();
    this.inner.start({
      publication: (p) => {
        if (!this.subscribed.has(p.channel)) return; // sequenced before the subscription took effect
        if (this.losing > 0) {
          this.losing--;
          this.lost.add(p.channel);
          if (this.losing === 0) {
            const channels = [...this.lost];
            this.lost.clear();
            this.deliver(() => sink.reset(channels));
          }
          return;
        }
        this.deliver(() => sink.publication(p));
      },
      presence: (event) => this.deliver(() => sink.presence(event)),
      reset: (channels) => sink.reset(channels),
      status: (status, error) => sink.status(status, error),
      error: (error) => sink.error(error),
    });
  }

  async publish(channel: string, data: Payload): Promise<EnginePublication> {
    await this.delay();
    const publication = this.inner.publish(channel, data);
    await this.delay();
    return publication;
  }

  async subscribe(channel: string): Promise<void> {
    await this.delay();
    this.subscribed.add(channel);
    await this.delay();
  }

  async unsubscribe(channel: string): Promise<void> {
    await this.delay();
    this.subscribed.delete(channel);
  }

  async position(channel: string): Promise<ChannelPosition> {
    return this.read(() => this.inner.position(channel));
  }

  async history(channel: string, since: number, limit: number): Promise<HistoryResult> {
    return this.read(() => this.inner.history(channel, since, limit));
  }

  async join(channel: string, member: PresenceMember<P>): Promise<void> {
    await this.delay();
    this.inner.join(channel, member);
  }

  async leave(channel: string, session: string): Promise<void> {
    await this.delay();
    this.inner.leave(channel, session);
  }

  async presence(channel: string): Promise<readonly PresenceMember<P>[]> {
    await this.delay();
    return this.inner.presence(channel);
  }

  async close(): Promise<void> {
    await this.line;
    this.inner.close();
    this.sink = undefined;
  }

  /** Drops the next `n` deliveries of subscribed channels, then resets the channels they were on (ordering rule 3). */
  lose(n: number): void {
    this.losing = n;
  }

  private async read<T>(snapshot: () => T): Promise<T> {
    await this.delay();
    const answer = snapshot();
    await this.line; // everything sequenced before the snapshot is delivered first (rule 2)
    await this.delay();
    return answer;
  }

  private deliver(what: () => void): void {
    this.line = this.line.then(async () => {
      await this.delay();
      if (this.sink !== undefined) what();
    });
  }

  private delay(): Promise<void> {
    const ms = Math.floor(this.random() * (this.maxDelayMs + 1));
    return new Promise((resolve) => (ms === 0 ? setImmediate(resolve) : setTimeout(resolve, ms)));
  }
}
