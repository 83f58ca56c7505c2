/**
 * What an SSE stream or a long-poll owes its client, in order, and the
 * cursor of what the client has been given: the one queue both endpoints
 * write from, so a replay leaves in bounded pieces (SSE) or up to a byte cap
 * (a poll answer), and the cursor always names the last event actually
 * written, never one still queued or left for the next poll.
 *
 * ```
 *  gate ─▶ reset / publication ─▶ push(event) ─▶ [ queue ] ─▶ take() ─▶ the cursor moves past it ─▶ written
 *                                                                    (SSE: its `id:`; poll: the answer's `cursor`)
 * ```
 *
 * Queued publications are the shared `OutgoingPublication`s (the history's
 * text, encoded once for every subscriber): a replay costs the queue a
 * reference per event. Live publications count their bytes against the
 * stream's slow-consumer bound (`liveBytes`): a client that does not keep
 * up holds at most that much of what the history may already have dropped.
 */
import { encodeCursor, type CursorEntry, type ResetReason } from '@rxmux/core/protocol';
import type { OutgoingPublication } from '../core/hub.js';
import type { GatePosition } from '../core/replay-gate.js';
import { Deque } from '../engines/deque.js';

/** One event a stream owes its client. */
export type StreamEvent =
  | { readonly kind: 'publication'; readonly out: OutgoingPublication; readonly live: boolean }
  | { readonly kind: 'reset'; readonly channel: string; readonly epoch: string; readonly seq: number; readonly reason: ResetReason };

/** The SSE `data:` (and poll event fields) of a reset: `{"channel","seq","epoch","reason"}`. */
export function resetData(event: Extract<StreamEvent, { kind: 'reset' }>): string {
  return JSON.stringify({ channel: event.channel, seq: event.seq, epoch: event.epoch, reason: event.reason });
}

/** The size counted for a queued live publication (its SSE data, as long as any of its encodings). */
const sizeOf = (out: OutgoingPublication): number => out.sseData.length;

/** The events of one stream, oldest first, and where its client stands. */
export class StreamQueue {
  /** Where the client stands per channel: the cursor after the last event taken (written). */
  readonly cursor = new Map<string, CursorEntry>();
  private readonly events = new Deque<StreamEvent>();
  /** Bytes of the live publications queued (replayed ones are the history's). */
  liveBytes = 0;

  /** Starts from the gate's positions (after its histories settled, before anything is released): what `ready` or an empty answer names. */
  start(positions: ReadonlyMap<string, GatePosition>): void {
    this.cursor.clear();
    for (const [channel, { seq, epoch }] of positions) this.cursor.set(channel, { seq, epoch });
  }

  /** The cursor as it travels. */
  encoded(): string {
    return encodeCursor(this.cursor);
  }

  get length(): number {
    return this.events.length;
  }

  push(event: StreamEvent): void {
    this.events.push(event);
    if (event.kind === 'publication' && event.live) this.liveBytes += sizeOf(event.out);
  }

  /** The next event, without taking it. */
  peek(): StreamEvent | undefined {
    return this.events.at(0);
  }

  /** The first publication queued, when it is a replayed one (resets before it are skipped): what a poll answer owing a replay carries first. */
  firstReplayed(): Extract<StreamEvent, { kind: 'publication' }> | undefined {
    for (let i = 0; i < this.events.length; i++) {
      const event = this.events.at(i);
      if (event?.kind === 'publication') return event.live ? undefined : event;
    }
    return undefined;
  }

  /** Takes the next event (it is being written): the cursor moves past it. */
  take(): StreamEvent | undefined {
    const event = this.events.shift();
    if (event === undefined) return undefined;
    if (event.kind === 'reset') this.cursor.set(event.channel, { seq: event.seq, epoch: event.epoch });
    else {
      const { channel, epoch, seq } = event.out.publication;
      this.cursor.set(channel, { seq, epoch });
      if (event.live) this.liveBytes -= sizeOf(event.out);
    }
    return event;
  }

  /** Forgets what is queued (the stream ended, or the poll answered without it). */
  clear(): void {
    this.events.clear();
    this.liveBytes = 0;
  }
}
