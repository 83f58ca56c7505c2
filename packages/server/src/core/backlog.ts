/**
 * The slow-consumer rule, written once for every output of the server:
 * WebSocket writers, SSE streams and long-poll answers. Every write is
 * reported here; an output with bytes still buffered after it is watched
 * until it drains, and cut (closed, its buffers let go at once) when
 *
 * - it buffers more than `limits.slowConsumerBytes` (checked on every write);
 * - it makes no progress at all for `limits.writeTimeoutMs` (a client that
 *   stopped reading);
 * - the outputs that stay behind hold more than `limits.bufferedTotalBytes`
 *   together: the largest are cut first. Only outputs still behind at a
 *   tick count, so the moment every reader of a large publication has it
 *   buffered is not mistaken for a flood of slow readers.
 *
 * ```
 *  write(n bytes) ─▶ wrote(output, n) ─▶ over slowConsumerBytes? ─▶ cut
 *                                      └▶ still buffered ─▶ watched ─▶ every tick (¼ of writeTimeoutMs, ≤ 250 ms):
 *                                            drained? forget │ flushed nothing for writeTimeoutMs? cut
 *                                            behind since the last tick: counted ─▶ over bufferedTotalBytes? cut the largest
 * ```
 *
 * Progress is measured, not guessed: every write is a look, and what an
 * output flushed since the last look is what it had buffered, plus what was
 * just written, minus what it has buffered now.
 */
import type { Limits } from '../limits.js';

/** Longest time between two looks at the outputs behind (shorter with a short `writeTimeoutMs`: a quarter of it). */
export const LOOK_MS = 250;

/** Why an output was cut (the close reason a WebSocket gets). */
export type CutReason = 'slow consumer' | 'write timeout' | 'server buffers full';

/** An output the backlog watches: a socket's writer, an SSE stream, a poll's answer. */
export interface Backlogged {
  /** Bytes written to it and not yet sent (and, for a stream, the live events it has queued). */
  readonly buffered: number;
  /** Over a bound: close it, letting go of what it buffered at once. Called once. */
  cut(buffered: number, reason: CutReason): void;
}

interface Watch {
  /** What it had buffered at the last look (every write is a look). */
  buffered: number;
  /** When it last flushed anything. */
  progressAt: number;
  /** Whether it was behind at the last tick (then it counts towards the total). */
  behind: boolean;
}

/** The outputs of one server that have bytes buffered. */
export class Backlog {
  private readonly watched = new Map<Backlogged, Watch>();
  /** Bytes the outputs behind since the last tick hold (as last looked at). */
  private behindBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Outputs cut, by reason. */
  readonly cuts: Record<CutReason, number> = { 'slow consumer': 0, 'write timeout': 0, 'server buffers full': 0 };

  constructor(
    private readonly limits: Pick<Limits, 'slowConsumerBytes' | 'bufferedTotalBytes' | 'writeTimeoutMs'>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Bytes buffered towards every watched output right now. */
  get bytes(): number {
    let total = 0;
    for (const output of this.watched.keys()) total += output.buffered;
    return total;
  }

  /** Outputs with bytes buffered right now, as far as the last looks know. */
  get size(): number {
    return this.watched.size;
  }

  /** `bytes` were just written to `output`: its own bound is checked, and it is watched while it has anything buffered. */
  wrote(output: Backlogged, bytes: number): void {
    const buffered = output.buffered;
    let watch = this.watched.get(output);
    if (buffered > this.limits.slowConsumerBytes) {
      this.cut(output, buffered, 'slow consumer');
      return;
    }
    if (watch === undefined) {
      if (buffered === 0) return;
      watch = { buffered: 0, progressAt: this.now(), behind: false };
      this.watched.set(output, watch);
      this.timer ??= setInterval(() => this.tick(), Math.max(10, Math.min(LOOK_MS, this.limits.writeTimeoutMs / 4)));
      this.timer.unref();
    }
    if (watch.buffered + bytes - buffered > 0) watch.progressAt = this.now(); // it flushed something since the last look
    if (watch.behind) this.behindBytes += buffered - watch.buffered;
    watch.buffered = buffered;
    if (watch.behind && this.behindBytes > this.limits.bufferedTotalBytes) this.shed();
  }

  /** `output` is done (closed, answered): no longer watched. */
  forget(output: Backlogged): void {
    const watch = this.watched.get(output);
    if (watch === undefined) return;
    if (watch.behind) this.behindBytes -= watch.buffered;
    this.watched.delete(output);
    if (this.watched.size === 0) this.stop();
  }

  /** Stops watching anything (shutdown). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.watched.size > 0) {
      this.watched.clear();
      this.behindBytes = 0;
    }
  }

  /** Looks at every watched output: drained ones are forgotten, stalled ones cut, the total of those behind bounded. */
  private tick(): void {
    const now = this.now();
    this.behindBytes = 0;
    for (const [output, watch] of [...this.watched]) {
      const buffered = output.buffered;
      if (buffered === 0) {
        this.watched.delete(output);
        continue;
      }
      if (buffered < watch.buffered) watch.progressAt = now;
      else if (now - watch.progressAt >= this.limits.writeTimeoutMs) {
        this.watched.delete(output);
        this.cut(output, buffered, 'write timeout');
        continue;
      }
      watch.buffered = buffered;
      watch.behind = true;
      this.behindBytes += buffered;
    }
    if (this.behindBytes > this.limits.bufferedTotalBytes) this.shed();
    if (this.watched.size === 0) this.stop();
  }

  /** Over the total: cuts the outputs behind, largest first, until the rest fit. */
  private shed(): void {
    const behind = [...this.watched].filter(([, watch]) => watch.behind).sort(([, a], [, b]) => b.buffered - a.buffered);
    for (const [output, watch] of behind) {
      if (this.behindBytes <= this.limits.bufferedTotalBytes) break;
      this.cut(output, watch.buffered, 'server buffers full');
    }
  }

  private cut(output: Backlogged, buffered: number, reason: CutReason): void {
    this.forget(output);
    this.cuts[reason]++;
    output.cut(buffered, reason);
  }
}
