import type { GapFrame, PublicationFrame, SubscribedFrame } from '../protocol/frames.js';

/**
 * A notice that messages on a channel were lost and cannot be replayed. The
 * stream goes on after it, in order; the app decides whether to refetch.
 */
export interface GapNotice {
  readonly channel: string;
  /**
   * `'history'`: the server's history no longer reaches back to what the client
   * last saw; `'epoch'`: the channel's history was reset (server restart with
   * the memory engine); `'hole'`: the client saw a jump in sequence numbers;
   * `'too-big'`: one publication (`seq`) was larger than the client's
   * `maxFrameBytes` (its `transfers.maxMessageBytes` with chunked transfers)
   * and was skipped (also reported on `conn.errors$`).
   */
  readonly reason: 'history' | 'epoch' | 'hole' | 'too-big' | (string & {});
  /** The last sequence number the client had seen, if any. */
  readonly since: number | undefined;
  /** The sequence number live delivery continues after. */
  readonly seq: number;
  /** The channel's history epoch now. */
  readonly epoch: string | undefined;
}

interface Position {
  epoch: string | undefined;
  seq: number | undefined;
}

/**
 * Where the client stands in each joined channel's history (epoch + last
 * sequence number seen). It decides which publications are duplicates, what a
 * re-join asks the server to replay, and when the app gets a {@link GapNotice}.
 * @internal
 */
export class Positions {
  readonly #positions = new Map<string, Position>();

  /** A fresh join: nothing seen yet. */
  join(channel: string): void {
    this.#positions.set(channel, { epoch: undefined, seq: undefined });
  }

  /** The client left: a later join starts from live again. */
  leave(channel: string): void {
    this.#positions.delete(channel);
  }

  /** What a (re-)subscribe frame should carry to resume. */
  resumeFrom(channel: string): { since?: number; epoch?: string } {
    const pos = this.#positions.get(channel);
    if (pos?.seq === undefined) return {};
    return pos.epoch === undefined ? { since: pos.seq } : { since: pos.seq, epoch: pos.epoch };
  }

  /** The server confirmed a join. Returns a gap notice when the epoch changed under a resume. */
  subscribed(frame: SubscribedFrame): GapNotice | undefined {
    const pos = this.#positions.get(frame.channel);
    if (pos === undefined) return undefined;
    if (pos.seq === undefined || pos.epoch === undefined) {
      // Fresh join: live delivery starts after the server's newest sequence number.
      pos.epoch = frame.epoch;
      pos.seq = frame.seq;
      return undefined;
    }
    if (frame.epoch !== undefined && frame.epoch !== pos.epoch) {
      // A server that sends no gap frame for a reset epoch: tell the app anyway.
      const notice = { channel: frame.channel, reason: 'epoch', since: pos.seq, seq: frame.seq ?? 0, epoch: frame.epoch };
      pos.epoch = frame.epoch;
      pos.seq = frame.seq;
      return notice;
    }
    return undefined; // same epoch: the replay (since, newest] follows
  }

  /** The server announced a gap: the position jumps to its `seq`. */
  gap(frame: GapFrame): GapNotice | undefined {
    const pos = this.#positions.get(frame.channel);
    if (pos === undefined) return undefined;
    pos.epoch = frame.epoch;
    pos.seq = frame.seq;
    return { channel: frame.channel, reason: frame.reason, since: frame.since, seq: frame.seq, epoch: frame.epoch };
  }

  /**
   * A publication this client could not take (larger than its
   * `maxFrameBytes`): the position moves past it and the app is told, so a
   * resume does not bring it back forever.
   */
  skip(channel: string, seq: number): GapNotice | undefined {
    const pos = this.#positions.get(channel);
    if (pos === undefined || (pos.seq !== undefined && seq <= pos.seq)) return undefined;
    const notice = { channel, reason: 'too-big', since: pos.seq, seq, epoch: pos.epoch };
    pos.seq = seq;
    return notice;
  }

  /**
   * A publication arrived. Returns `'duplicate'` to drop it, a gap notice to
   * emit before delivering it (a jump in sequence numbers), or `undefined` to
   * deliver it.
   */
  publication(frame: PublicationFrame): 'duplicate' | GapNotice | undefined {
    if (frame.seq === undefined) return undefined;
    const pos = this.#positions.get(frame.channel);
    if (pos === undefined) return undefined;
    const last = pos.seq;
    if (last !== undefined && frame.seq <= last) return 'duplicate';
    pos.seq = frame.seq;
    if (last !== undefined && frame.seq > last + 1) {
      return { channel: frame.channel, reason: 'hole', since: last, seq: frame.seq - 1, epoch: pos.epoch };
    }
    return undefined;
  }
}
