/**
 * The channels one socket joined: `subscribe` (authorize, the channel limit,
 * the replay through the {@link ReplayGate}), `unsubscribe`, leaving them all
 * when the socket goes, and live delivery. The gate decides what is written;
 * this file formats it for the WebSocket (PROTOCOL.md 6.3):
 *
 * | gate | frame |
 * | --- | --- |
 * | joined | `subscribed {epoch, seq: newest}` |
 * | reset | `gap {epoch, seq, reason, since}` |
 * | publication | the publication, or `gap 'too-big'` for a frame larger than the client accepts |
 */
import { ErrorCode, type ResetReason, type SubscribeFrame } from '@rxmux/core/protocol';
import type { Awaitable, ChannelPosition, HistoryResult, PresenceMember } from '../../engines/engine.js';
import type { Limits } from '../../limits.js';
import { after, chain } from '../awaitable.js';
import type { OutgoingPublication, Subscriber } from '../hub.js';
import { ReplayGate, type ChannelReader, type GateOutput, type GatePosition } from '../replay-gate.js';
import type { HandlerSocket } from './handler-socket.js';

/** What joining channels needs from the server. */
export interface ChannelHost<P> {
  readonly limits: Pick<Limits, 'historySize' | 'maxChannelsPerConnection'>;
  /** Whether `channel` may be joined: it has subscribers here already, or the server has room for one more (`limits.maxChannels`). */
  hasRoom(channel: string): boolean;
  /**
   * Adds `subscriber` to the channel's local subscribers and `member` to its
   * presence. Returns when live delivery starts, if that is still to come
   * (the engine's subscription): the history is read after it.
   */
  join(channel: string, subscriber: Subscriber, member: PresenceMember<P>): Awaitable<void>;
  /** The reverse of {@link join}. */
  leave(channel: string, subscriber: Subscriber, session: string): void;
  /** The engine's epoch and newest seq of `channel`. */
  position(channel: string): Awaitable<ChannelPosition>;
  /** The engine's history of `channel` after `since` (at most `limit` publications), its epoch and newest seq. */
  history(channel: string, since: number, limit: number): Awaitable<HistoryResult>;
}

/** One socket's channels. Created on its first `subscribe`. */
export class Subscriptions<P> implements Subscriber, GateOutput, ChannelReader {
  private readonly gate: ReplayGate;

  constructor(
    private readonly socket: HandlerSocket<P>,
    private readonly host: ChannelHost<P>,
  ) {
    this.gate = new ReplayGate(this, 'newest', this); // its own reader: no object and closures per connection
  }

  /** {@link ChannelReader}: the channel's position, from the engine. */
  position(channel: string): Awaitable<ChannelPosition> {
    return this.host.position(channel);
  }

  /** {@link ChannelReader}: the channel's history after `since`, from the engine. */
  history(channel: string, since: number, limit: number): Awaitable<HistoryResult> {
    return this.host.history(channel, since, limit);
  }

  /** {@link ChannelReader}: most publications a replay reads (`limits.historySize`). */
  get limit(): number {
    return this.host.limits.historySize;
  }

  /**
   * Joins a channel. The hub gets the subscriber first and the engine's
   * subscription is awaited, then the history is read: live publications that
   * race the read are held by the gate and dropped by (epoch, seq) when the
   * replay carried them.
   */
  subscribe(frame: SubscribeFrame): Promise<void> | undefined {
    const { channel } = frame;
    if (this.joinedAgain(channel) || !this.hasRoomFor(channel)) return undefined;
    return this.socket.authorized(
      channel,
      'subscribe',
      () => {
        if (this.joinedAgain(channel) || !this.hasRoomFor(channel)) return undefined;
        const since = frame.since === undefined ? undefined : { seq: frame.since, epoch: frame.epoch };
        this.gate.hold(channel, since);
        const position = this.gate.positions.get(channel);
        let history: Awaitable<HistoryResult>;
        try {
          history = chain(this.host.join(channel, this, this.socket.info), () => this.gate.read(channel));
        } catch (error) {
          return this.historyFailed(channel, position, error);
        }
        return after(
          history,
          (h) => this.answered(channel, position, h),
          (error: unknown) => this.historyFailed(channel, position, error),
        );
      },
      () => this.refuse(channel, ErrorCode.Forbidden, `not allowed to subscribe to ${channel}`),
    );
  }

  /** Leaves a joined channel; a channel not joined is ignored (the server does not confirm unsubscribe). */
  unsubscribe(channel: string): void {
    if (this.gate.drop(channel)) this.leave(channel);
  }

  /**
   * New credentials: every joined channel is authorized again; one the
   * principal may no longer join is ended with `unsubscribed`
   * `RXMUX_ERR_FORBIDDEN` and left. Returns a promise only when `authorize`
   * answered asynchronously for some channel.
   */
  reauthorize(): Promise<void> | undefined {
    const pending: Promise<void>[] = [];
    for (const channel of [...this.gate.positions.keys()]) {
      const verdict = this.socket.authorized(
        channel,
        'subscribe',
        () => undefined,
        () => {
          if (!this.gate.drop(channel)) return;
          this.socket.writer.frame({ type: 'unsubscribed', channel, code: ErrorCode.Forbidden, reason: 'not allowed any more (new credentials)' });
          this.leave(channel);
        },
      );
      if (verdict !== undefined) pending.push(verdict);
    }
    return pending.length === 0 ? undefined : Promise.all(pending).then(() => undefined);
  }

  /** The socket is gone (or superseded): it leaves every channel, as any socket does (presence leave, onUnsubscribe). */
  leaveAll(): void {
    for (const channel of this.gate.clear()) this.leave(channel);
  }

  /** {@link Subscriber}: a live publication of a joined channel. */
  deliver(out: OutgoingPublication): void {
    if (this.socket.state === 'open') this.gate.deliver(out);
  }

  /** {@link Subscriber}: the engine may have missed publications: replay what the client missed, or a `gap`. */
  resync(channel: string): void {
    if (this.socket.state === 'open') this.gate.resync(channel);
  }

  /** {@link GateOutput}: the re-read after an engine reset failed: the channel fails, as a join whose history failed. */
  failed(channel: string, error: unknown): void {
    this.historyFailed(channel, this.gate.positions.get(channel), error);
  }

  /** {@link GateOutput}: the history answered. */
  joined(channel: string, epoch: string, newest: number): void {
    this.socket.writer.frame({ type: 'subscribed', channel, epoch, seq: newest });
  }

  /** {@link GateOutput}: what the client missed cannot be replayed, or the epoch changed. */
  reset(channel: string, epoch: string, seq: number, reason: ResetReason, since: number): void {
    this.socket.writer.frame({ type: 'gap', channel, epoch, seq, reason, since });
  }

  /** {@link GateOutput}: one publication; one that cannot be encoded costs only itself. */
  publication(out: OutgoingPublication): void {
    try {
      this.socket.writer.publication(out);
    } catch (error) {
      this.socket.error(error);
    }
  }

  /** The history arrived: the gate writes the position, the replay or the gap, then what was held; then `onSubscribe`. */
  private answered(channel: string, position: GatePosition | undefined, history: HistoryResult): void {
    if (this.gate.positions.get(channel) !== position || this.socket.state !== 'open') return; // left (or closed) meanwhile
    this.gate.settle(channel, history);
    this.gate.release(channel);
    this.notify('onSubscribe', channel);
  }

  /** Already joined (live, not still replaying): `subscribed` again with where the socket stands. */
  private joinedAgain(channel: string): boolean {
    const position = this.gate.positions.get(channel);
    if (position === undefined) return false;
    if (!this.gate.holding(channel) && position.epoch !== undefined) {
      this.socket.writer.frame({ type: 'subscribed', channel, epoch: position.epoch, seq: position.seq });
    }
    return true; // still replaying: the pending join answers
  }

  private hasRoomFor(channel: string): boolean {
    const max = this.host.limits.maxChannelsPerConnection;
    if (this.gate.positions.size >= max) {
      this.refuse(channel, ErrorCode.TooManyChannels, `at most ${max} channels per connection`);
      return false;
    }
    if (!this.host.hasRoom(channel)) {
      this.refuse(channel, ErrorCode.TooManyChannels, 'the server has as many channels as it takes');
      return false;
    }
    return true;
  }

  /** The engine could not read the history: the join fails like a refusal, the channel is left. */
  private historyFailed(channel: string, position: GatePosition | undefined, error: unknown): void {
    this.socket.error(error);
    if (this.gate.positions.get(channel) !== position) return;
    this.gate.drop(channel);
    this.host.leave(channel, this, this.socket.info.session);
    this.refuse(channel, ErrorCode.Remote, `history of ${channel} is unavailable`);
  }

  /**
   * The subscription is refused (or could not be set up): `unsubscribed` with
   * the reason, which ends the channel's subscribers on the client. An `error`
   * frame with a channel, by contrast, reports a failure the channel survives
   * (a refused send).
   */
  refuse(channel: string, code: string, reason: string): void {
    this.socket.writer.frame({ type: 'unsubscribed', channel, code, reason });
  }

  private leave(channel: string): void {
    this.host.leave(channel, this, this.socket.info.session);
    this.notify('onUnsubscribe', channel);
  }

  /** Tells the channel's handler; a throw costs nothing but its report. */
  private notify(hook: 'onSubscribe' | 'onUnsubscribe', channel: string): void {
    const handler = this.socket.handler(channel);
    if (handler?.[hook] === undefined) return;
    try {
      handler[hook](this.socket.context(channel));
    } catch (error) {
      this.socket.error(error);
    }
  }
}
